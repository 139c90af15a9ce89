//! `/api/users/{did}`: a full or shadow account.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use projections::Projection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::consistency::wait_for;
use crate::events::After;
use crate::{ApiError, AppState};

/// A user.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct UserView {
    /// Local id.
    pub id: Uuid,
    /// Bluesky DID.
    pub bluesky_did: String,
    /// Bluesky handle.
    pub bluesky_handle: Option<String>,
    /// When the stored Bluesky session expires.
    pub bluesky_token_expiry: Option<DateTime<Utc>>,
    /// Display name.
    pub display_name: Option<String>,
    /// True for a provisional account of a Bluesky user who has not joined.
    pub is_shadow_account: bool,
    /// `active`, or `deactivated`, `takendown`, `deleted`, ... as the network
    /// reports it. A deleted account's row keeps no handle or name.
    pub account_status: String,
}

/// One user by DID.
#[utoipa::path(get, path = "/api/users/{did}", params(("did" = String, Path), After),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_user(
    State(state): State<AppState>,
    Path(did): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<UserView>, ApiError> {
    wait_for(&state, query.after, &[Projection::Users]).await?;
    sqlx::query_as(
        "SELECT id, bluesky_did, bluesky_handle, bluesky_token_expiry, display_name, is_shadow_account, \
         account_status \
         FROM read.users WHERE bluesky_did = $1",
    )
    .bind(&did)
    .fetch_optional(state.store.pool())
    .await?
    .map(Json)
    .ok_or_else(|| ApiError::NotFound(format!("no user {did:?}")))
}
