//! `POST /api/bluesky/events/process` and `POST /api/bluesky/rsvps/process`:
//! one firehose message (Jetstream's JSON shape, as on the bus) run through
//! the same code path as the ingest processor, for manual replays and
//! backfills. The API only knows the port; the binary plugs the processor in.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use domain::access::Action;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::body::Whole;
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

/// One commit of a record, in Jetstream's JSON shape, as a route takes it:
/// read to check its shape, then handed on byte for byte.
#[derive(Deserialize, ToSchema)]
#[expect(
    dead_code,
    reason = "read to check its shape; the processor reads the message itself"
)]
pub struct FirehoseCommit<C: ToSchema> {
    /// The repository's DID.
    did: String,
    /// When the source saw it, in µs since the epoch.
    #[schema(value_type = i64, minimum = 0)]
    time_us: Whole<i64>,
    /// Always `commit`.
    kind: CommitKind,
    /// The commit.
    commit: Commit<C>,
}

/// The kind of a commit message.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommitKind {
    /// A record was created, updated or deleted.
    Commit,
}

/// What a commit did to one record.
#[derive(Deserialize, ToSchema)]
#[expect(
    dead_code,
    reason = "read to check its shape; the processor reads the message itself"
)]
pub struct Commit<C: ToSchema> {
    /// The repository revision.
    rev: String,
    /// `create`, `update` or `delete`.
    operation: Operation,
    /// The record's collection.
    collection: C,
    /// The record key.
    rkey: String,
    /// The record (absent for a delete).
    #[schema(value_type = Option<Object>)]
    record: Option<serde_json::Map<String, serde_json::Value>>,
    /// The CID of the record's version (absent for a delete).
    cid: Option<String>,
}

/// What a commit did.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// A new record.
    Create,
    /// A new version of a record.
    Update,
    /// The record is gone.
    Delete,
}

/// The collection of calendar events.
#[derive(Deserialize, ToSchema)]
pub enum EventCollection {
    /// `community.lexicon.calendar.event`
    #[serde(rename = "community.lexicon.calendar.event")]
    #[schema(rename = "community.lexicon.calendar.event")]
    Event,
}

/// The collection of RSVPs.
#[derive(Deserialize, ToSchema)]
pub enum RsvpCollection {
    /// `community.lexicon.calendar.rsvp`
    #[serde(rename = "community.lexicon.calendar.rsvp")]
    #[schema(rename = "community.lexicon.calendar.rsvp")]
    Rsvp,
}

/// Runs `body`, a commit of `C`'s collection, through the processor. A
/// message the processor refuses is recorded as a `RecordRejected` and
/// answered 200 with the outcome `rejected`: the message was taken in, as
/// on the bus; only a body of another shape is refused (400).
async fn process<C: ToSchema + serde::de::DeserializeOwned>(
    state: &AppState,
    caller: &Authenticated,
    body: &str,
    route: &str,
) -> Result<Json<ProcessView>, ApiError> {
    caller.may(Action::ProcessFirehose)?;
    let intake = state.intake.as_ref().ok_or_else(|| {
        ApiError::Unavailable("this server was started without firehose processing".into())
    })?;
    let commit: FirehoseCommit<C> = serde_json::from_str(body).map_err(|err| {
        ApiError::BadRequest(format!(
            "{route} takes one commit of its collection in Jetstream's shape: {err}"
        ))
    })?;
    let texts = [
        ("did", Some(&commit.did)),
        ("commit.rev", Some(&commit.commit.rev)),
        ("commit.rkey", Some(&commit.commit.rkey)),
        ("commit.cid", commit.commit.cid.as_ref()),
    ];
    if let Some((field, _)) = texts
        .iter()
        .find(|(_, text)| text.is_some_and(|text| text.contains('\0')))
    {
        return Err(ApiError::BadRequest(format!("{field} holds U+0000")));
    }
    let Whole(micros) = commit.time_us;
    if micros < 0 {
        return Err(ApiError::BadRequest(format!(
            "time_us must not be negative, not {micros}"
        )));
    }
    let view = intake
        .process(body, &format!("api:{route}"))
        .await
        .map_err(ApiError::Unavailable)?;
    Ok(Json(view))
}

/// Runs one calendar event commit through the ingest processor; a record
/// it refuses is recorded and answered with the outcome `rejected`.
#[utoipa::path(post, path = "/api/bluesky/events/process",
    request_body(content = FirehoseCommit<EventCollection>, content_type = "application/json"),
    responses((status = 200, body = ProcessView),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn process_event(
    State(state): State<AppState>,
    caller: Authenticated,
    body: String,
) -> Result<Json<ProcessView>, ApiError> {
    process::<EventCollection>(&state, &caller, &body, "/api/bluesky/events/process").await
}

/// Runs one RSVP commit through the ingest processor; a record it refuses
/// is recorded and answered with the outcome `rejected`.
#[utoipa::path(post, path = "/api/bluesky/rsvps/process",
    request_body(content = FirehoseCommit<RsvpCollection>, content_type = "application/json"),
    responses((status = 200, body = ProcessView),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn process_rsvp(
    State(state): State<AppState>,
    caller: Authenticated,
    body: String,
) -> Result<Json<ProcessView>, ApiError> {
    process::<RsvpCollection>(&state, &caller, &body, "/api/bluesky/rsvps/process").await
}
