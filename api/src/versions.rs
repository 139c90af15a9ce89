//! Optimistic concurrency over HTTP: a change may name, in `If-Match`, the
//! version of the stream it was made against (the `ETag` of the last
//! answer); a stale one is 409 naming the version now. Every change answers
//! with the version it leaves as `ETag`.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, header};
use domain::decider::Decider;
use domain::{DomainEvent, StreamId};
use serde::Serialize;
use store::ExpectedVersion;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::commands::{append_together, current};
use crate::{ApiError, AppState};

/// An aggregate loaded for a change, with the version it was read at.
pub(crate) struct Loaded<D> {
    /// Its state.
    pub state: D,
    /// What to expect when appending.
    pub expected: ExpectedVersion,
    /// Its version, as `ETag` says it.
    pub version: u64,
}

/// Loads the aggregate in `stream`, refusing a stale `If-Match` with 409
/// naming `what` and its version now.
pub(crate) async fn load_matching<D: Decider>(
    state: &AppState,
    stream: &StreamId,
    headers: &HeaderMap,
    what: &str,
) -> Result<Loaded<D>, ApiError> {
    let claimed = if_match(headers)?;
    let (aggregate, expected) = current::<D>(&state.store, stream).await?;
    let version = match expected {
        ExpectedVersion::Exact(version) => version.0,
        ExpectedVersion::Any | ExpectedVersion::NoStream => 0,
    };
    if let Some(claimed) = claimed.filter(|claimed| *claimed != version) {
        return Err(ApiError::Conflict(format!(
            "If-Match {claimed} is stale: {what} is at version {version}"
        )));
    }
    Ok(Loaded {
        state: aggregate,
        expected,
        version,
    })
}

/// The version `If-Match` names (`3` or `"3"`), when it is sent.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().trim_matches('"').parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "If-Match {value:?} is not a version (the ETag of the last answer)"
            ))
        })
}

/// The `ETag` header saying `version`.
pub(crate) fn etag(version: u64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from(version));
    headers
}

/// What a change recorded.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Changed {
    /// The events recorded, by type (none when nothing changed).
    pub recorded: Vec<&'static str>,
    /// The global position of the last, for `?after=` reads.
    pub position: Option<u64>,
    /// The changed stream's version now: pass it as `If-Match` with the
    /// next change (also sent as `ETag`).
    pub version: u64,
}

/// Appends `parts` (none when every list is empty) and answers with
/// `version`, the changed stream's version before them, moved on by the
/// events of the `changed` stream.
pub(crate) async fn recorded(
    state: &AppState,
    caller: &Authenticated,
    changed: &StreamId,
    version: u64,
    parts: Vec<(StreamId, ExpectedVersion, Vec<DomainEvent>)>,
) -> Result<(HeaderMap, Json<Changed>), ApiError> {
    let parts: Vec<_> = parts
        .into_iter()
        .filter(|(_, _, events)| !events.is_empty())
        .collect();
    let recorded: Vec<&'static str> = parts
        .iter()
        .flat_map(|(_, _, events)| events.iter().map(DomainEvent::event_type))
        .collect();
    let version = version
        + parts
            .iter()
            .filter(|(stream, _, _)| stream == changed)
            .map(|(_, _, events)| events.len() as u64)
            .sum::<u64>();
    let position = if parts.is_empty() {
        None
    } else {
        Some(append_together(&state.store, parts, &caller.actor()).await?)
    };
    Ok((
        etag(version),
        Json(Changed {
            recorded,
            position,
            version,
        }),
    ))
}
