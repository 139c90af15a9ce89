//! `POST /api/bluesky/events/process` and `POST /api/bluesky/rsvps/process`:
//! one firehose message (Jetstream's JSON shape, as on the bus) run through
//! the same code path as the ingest processor, for manual replays and
//! backfills. The API only knows the port; the binary plugs the processor in.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::access::Action;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::{ApiError, AppState};

/// What became of a processed message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProcessView {
    /// `applied`, `already_applied`, `parked`, `ignored` or `rejected`.
    pub outcome: String,
    /// Event types appended, in order.
    pub appended: Vec<String>,
    /// Why it was ignored or rejected.
    pub reason: Option<String>,
}

/// Applies one firehose message; the ingest processor's code path.
pub trait FirehoseIntake: Send + Sync + 'static {
    /// Applies `message`, named `position` in rejections. `Err`: a transient
    /// failure (the store is unavailable), with its description.
    fn process<'a>(
        &'a self,
        message: &'a str,
        position: &'a str,
    ) -> BoxFuture<'a, Result<ProcessView, String>>;
}

/// The shared handle kept in the state.
pub type Intake = Arc<dyn FirehoseIntake>;

#[derive(Deserialize)]
struct Envelope {
    kind: String,
    commit: Option<CommitHead>,
}

#[derive(Deserialize)]
struct CommitHead {
    collection: String,
}

async fn process(
    state: &AppState,
    caller: &Authenticated,
    body: &str,
    collection: &str,
    route: &str,
) -> Result<(StatusCode, Json<ProcessView>), ApiError> {
    caller.may(Action::ProcessFirehose)?;
    let intake = state.intake.as_ref().ok_or_else(|| {
        ApiError::Unavailable("this server was started without firehose processing".into())
    })?;
    let envelope: Envelope = serde_json::from_str(body)
        .map_err(|err| ApiError::BadRequest(format!("not a firehose message: {err}")))?;
    let named = envelope.commit.as_ref().map(|c| c.collection.as_str());
    if envelope.kind != "commit" || named != Some(collection) {
        return Err(ApiError::BadRequest(format!(
            "{route} takes {collection} commits; this message is a {} of {}",
            envelope.kind,
            named.unwrap_or("no collection")
        )));
    }
    let view = intake
        .process(body, &format!("api:{route}"))
        .await
        .map_err(ApiError::Unavailable)?;
    let status = match view.outcome.as_str() {
        "rejected" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    Ok((status, Json(view)))
}

/// Runs one calendar event message through the ingest processor.
#[utoipa::path(post, path = "/api/bluesky/events/process", request_body = String,
    responses((status = 200, body = ProcessView), (status = 422, body = ProcessView, description = "rejected; recorded as RecordRejected"),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn process_event(
    State(state): State<AppState>,
    caller: Authenticated,
    body: String,
) -> Result<(StatusCode, Json<ProcessView>), ApiError> {
    process(
        &state,
        &caller,
        &body,
        domain::intake::EVENT_COLLECTION,
        "/api/bluesky/events/process",
    )
    .await
}

/// Runs one RSVP message through the ingest processor.
#[utoipa::path(post, path = "/api/bluesky/rsvps/process", request_body = String,
    responses((status = 200, body = ProcessView), (status = 422, body = ProcessView, description = "rejected; recorded as RecordRejected"),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn process_rsvp(
    State(state): State<AppState>,
    caller: Authenticated,
    body: String,
) -> Result<(StatusCode, Json<ProcessView>), ApiError> {
    process(
        &state,
        &caller,
        &body,
        domain::intake::RSVP_COLLECTION,
        "/api/bluesky/rsvps/process",
    )
    .await
}
