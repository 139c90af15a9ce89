//! `/api/external-refs?uri=`: which local object an AT-URI stands for.

use axum::Json;
use axum::extract::{Query, State};
use projections::Projection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::consistency::wait_for;
use crate::{ApiError, AppState};

/// A mapping between a local id and an AT-URI.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct ExternalRefView {
    /// The AT-URI.
    pub uri: String,
    /// `series`, `occurrence` or `rsvp`.
    pub kind: String,
    /// The local id.
    pub local_id: Uuid,
    /// The CID of the version last seen.
    pub cid: Option<String>,
}

/// The URI to look up.
#[derive(Deserialize, IntoParams)]
pub struct RefQuery {
    /// The AT-URI.
    uri: String,
    /// Wait until the read model has applied this global position.
    after: Option<u64>,
}

/// The local object an AT-URI maps to.
#[utoipa::path(get, path = "/api/external-refs", params(RefQuery),
    responses((status = 200, body = ExternalRefView), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_external_ref(
    State(state): State<AppState>,
    Query(query): Query<RefQuery>,
) -> Result<Json<ExternalRefView>, ApiError> {
    let uri = query.uri;
    wait_for(&state, query.after, &[Projection::ExternalRefs]).await?;
    sqlx::query_as("SELECT uri, kind, local_id, cid FROM read.external_refs WHERE uri = $1")
        .bind(&uri)
        .fetch_optional(state.store.pool())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no reference for {uri}")))
}
