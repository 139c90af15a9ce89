//! `GET /api/rejections`: what intake could not apply, as the log records
//! it (`RecordRejected` in `rejected-firehose`), for administrators and
//! auditors who would otherwise read it with `events tail`.

use axum::Json;
use axum::extract::{Query, State};
use domain::access::Action;
use domain::occurrence::format_datetime;
use domain::rejection::rejection_stream;
use domain::{DomainEvent, RecordedEvent, StreamVersion};
use serde::{Deserialize, Serialize};
use store::EventStore;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::events::{limit, page};
use crate::{ApiError, AppState};

/// One rejection.
#[derive(Serialize, ToSchema)]
pub struct RejectionView {
    /// Its position in the global log.
    pub position: u64,
    /// Its version in `rejected-firehose`; pass one more as `from` to read on.
    pub version: u64,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// What was rejected: an AT-URI, or where the input was held.
    pub subject: String,
    /// Why.
    pub reason: String,
    /// The input's first bytes (at most 4 KiB).
    pub raw: String,
    /// The input's size in bytes.
    pub size: u64,
    /// The SHA-256 of the whole input, as hex.
    pub sha256: String,
}

/// A page of rejections, oldest first.
#[derive(Serialize, ToSchema)]
pub struct RejectionPage {
    /// The rejections.
    pub items: Vec<RejectionView>,
    /// Pass as `from` for the next page; absent on the last.
    pub next_from: Option<u64>,
}

/// Paging of `GET /api/rejections`.
#[derive(Deserialize, IntoParams)]
pub struct ListRejections {
    /// The first version to return (0: from the start).
    #[param(maximum = 9_223_372_036_854_775_807_i64)]
    from: Option<u64>,
    /// At most this many (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
}

/// Rejections in the order they were recorded; administrators only.
#[utoipa::path(get, path = "/api/rejections", params(ListRejections),
    responses((status = 200, body = RejectionPage), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_rejections(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<ListRejections>,
) -> Result<Json<RejectionPage>, ApiError> {
    caller.may(Action::ReadRejections)?;
    let limit = limit(query.limit)?;
    let from = query.from.unwrap_or(0);
    if i64::try_from(from).is_err() {
        return Err(ApiError::BadRequest(format!(
            "from must be at most {}, not {from}",
            i64::MAX
        )));
    }
    let events = state
        .store
        .read_stream(
            &rejection_stream("firehose"),
            StreamVersion(from),
            limit as usize + 1,
        )
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "reading the rejections");
            ApiError::Unavailable("the event store could not be read".into())
        })?;
    let views: Vec<RejectionView> = events.iter().map(view).collect();
    let (items, next_from) = page(views, limit, |view| view.version + 1);
    Ok(Json(RejectionPage { items, next_from }))
}

/// A stored rejection as the API shows it; one this build cannot decode
/// says so in its reason rather than being left out.
fn view(event: &RecordedEvent) -> RejectionView {
    let base = RejectionView {
        position: event.global_position.0,
        version: event.stream_version.0,
        recorded_at: format_datetime(event.recorded_at),
        subject: String::new(),
        reason: String::new(),
        raw: String::new(),
        size: 0,
        sha256: String::new(),
    };
    match DomainEvent::decode(&event.payload) {
        Ok(DomainEvent::RecordRejected(rejected)) => RejectionView {
            subject: rejected.subject,
            reason: rejected.reason,
            raw: rejected.raw,
            size: rejected.size,
            sha256: rejected.sha256,
            ..base
        },
        Ok(other) => RejectionView {
            reason: format!("a {} in the rejections stream", other.event_type()),
            ..base
        },
        Err(err) => RejectionView {
            reason: format!("this build cannot decode it: {err}"),
            ..base
        },
    }
}
