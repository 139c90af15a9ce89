//! `POST /api/events/{slug}/rsvp`: the caller answers an event, for
//! themselves only.

use axum::Json;
use axum::extract::{Path, State};
use domain::Origin;
use domain::access::{Action, EventTarget};
use domain::attendance::{
    Attendance, AttendanceCommand, AttendanceStatus, ChangeRsvp, attendance_stream,
};
use domain::identity::UserId;
use domain::occurrence::OccurrenceId;
use domain::publishing::Owned;
use domain::series::SeriesId;
use domain::sync::AttendanceSyncRequested;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::body::JsonObject;
use crate::commands::{append_together, execute, now};
use crate::events::{EventView, find_event};
use crate::sharing::owner_of;
use crate::{ApiError, AppState};

/// An answer to an event.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct RsvpRequest {
    /// `attending`, `interested` or `declined`.
    #[schema(value_type = String, pattern = "^(attending|interested|declined)$")]
    pub status: AttendanceStatus,
    /// Whose answer it is, as a DID; the caller's own when absent. Anyone
    /// else's is refused.
    pub attendee: Option<String>,
}

/// The answer as recorded.
#[derive(Serialize, ToSchema)]
pub struct RsvpView {
    /// The attendee.
    pub user_id: uuid::Uuid,
    /// The status now in effect.
    #[schema(value_type = String)]
    pub status: AttendanceStatus,
    /// The global position of the event recorded (none when the answer was
    /// already in effect), for `?after=` reads.
    pub position: Option<u64>,
}

/// Whose answers to write to Bluesky again.
#[derive(Deserialize, Serialize, ToSchema, Default)]
pub struct SyncRequest {
    /// Only this attendee's (a DID); every OpenMeet answer when absent (the
    /// event's owner or an administrator).
    pub attendee: Option<String>,
}

/// What a sync request recorded.
#[derive(Serialize, ToSchema)]
pub struct SyncView {
    /// The global position of the request, for `?after=` reads.
    pub position: u64,
}

/// Writes the event's OpenMeet answers (of users with a Bluesky account)
/// to their repositories again, as they stand in OpenMeet.
#[utoipa::path(post, path = "/api/events/{slug}/attendees/sync", params(("slug" = String, Path)),
    request_body = Option<SyncRequest>,
    responses((status = 202, body = SyncView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, did = %caller.caller.did))]
pub async fn sync_attendance(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Authenticated,
    request: Option<JsonObject<SyncRequest>>,
) -> Result<(axum::http::StatusCode, Json<SyncView>), ApiError> {
    let event = find_event(&state, &slug).await?;
    let request = request
        .map(|JsonObject(request)| request)
        .unwrap_or_default();
    let attendee = request
        .attendee
        .as_deref()
        .map(|did| attendee_of(&caller, did));
    caller.may(Action::SyncAttendance {
        event: target(&state, &event).await?,
        attendee,
    })?;
    let occurrence_id = OccurrenceId(event.id);
    let requested = AttendanceSyncRequested {
        occurrence_id,
        attendee_id: attendee,
    };
    let position = append_together(
        &state.store,
        vec![(
            attendance_stream(occurrence_id),
            store::ExpectedVersion::Any,
            vec![requested.into()],
        )],
        &caller.actor(),
    )
    .await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(SyncView { position }),
    ))
}

/// The account a request names by DID: the caller's own, or (whoever
/// holds that DID) someone who is not the caller.
fn attendee_of(caller: &Authenticated, did: &str) -> UserId {
    if did == caller.caller.did {
        caller.caller.user_id
    } else {
        UserId::shadow_for(did)
    }
}

/// What authorization knows of an event: its owner is the account of the
/// DID that published it (imported), or the one the log assigned it or its
/// series (OpenMeet's).
pub(crate) async fn target(state: &AppState, event: &EventView) -> Result<EventTarget, ApiError> {
    let imported = event.origin == Origin::Bluesky.as_str();
    let owner = match (event.organizer_id, imported, event.series_id) {
        (Some(organizer), _, _) => Some(UserId(organizer)),
        (None, true, _) => None,
        (None, false, Some(series)) => owner_of(state, Owned::Series(SeriesId(series))).await?,
        (None, false, None) => owner_of(state, Owned::Occurrence(OccurrenceId(event.id))).await?,
    };
    Ok(EventTarget {
        owner,
        imported,
        // `find_event` only finds visible events.
        visible: true,
    })
}

/// Answers an event as the caller.
#[utoipa::path(post, path = "/api/events/{slug}/rsvp", params(("slug" = String, Path)),
    request_body = RsvpRequest,
    responses((status = 200, body = RsvpView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, did = %caller.caller.did))]
pub async fn rsvp(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Authenticated,
    JsonObject(request): JsonObject<RsvpRequest>,
) -> Result<Json<RsvpView>, ApiError> {
    let event = find_event(&state, &slug).await?;
    let attendee = request
        .attendee
        .as_deref()
        .map_or(caller.caller.user_id, |did| attendee_of(&caller, did));
    caller.may(Action::Rsvp {
        event: target(&state, &event).await?,
        attendee,
    })?;
    let occurrence_id = OccurrenceId(event.id);
    let command = AttendanceCommand::Change(ChangeRsvp {
        occurrence_id,
        attendee_id: attendee,
        status: request.status,
        origin: Origin::OpenMeet,
        changed_at: now(),
        rsvp_uri: None,
        rsvp_cid: None,
    });
    let recorded = execute::<Attendance, _>(
        &state.store,
        &attendance_stream(occurrence_id),
        &command,
        &caller.actor(),
        |never: std::convert::Infallible| match never {},
    )
    .await?;
    let status = recorded
        .state
        .answer(attendee)
        .map_or(request.status, |answer| answer.status);
    Ok(Json(RsvpView {
        user_id: attendee.0,
        status,
        position: recorded.position,
    }))
}
