//! `PATCH /api/events/{slug}`: the owner (or an administrator) edits an
//! event's content in OpenMeet. An imported event may be edited too: the
//! process manager keeps such manual edits against later Bluesky versions.

use axum::Json;
use axum::extract::{Path, State};
use domain::access::Action;
use domain::occurrence::{Occurrence, OccurrenceCommand, OccurrenceError, OccurrenceId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::attendance::target;
use crate::auth::Authenticated;
use crate::body::JsonObject;
use crate::commands::{execute, replay};
use crate::events::find_event;
use crate::{ApiError, AppState};

/// The fields to change; absent ones stay.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct EditRequest {
    /// A new name: not blank.
    #[schema(pattern = "\\S")]
    pub name: Option<String>,
    /// A new description (an empty one removes it).
    pub description: Option<String>,
}

/// Whether `c` is blank as the document's pattern `\S` reads it
/// (ECMAScript's `\s`: Unicode's white space without U+0085, with U+FEFF).
fn blank(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}'
}

/// What the edit recorded.
#[derive(Serialize, ToSchema)]
pub struct EditView {
    /// The events recorded, by type.
    pub recorded: Vec<&'static str>,
    /// The global position of the last, for `?after=` reads.
    pub position: Option<u64>,
}

/// Edits an event's name or description.
#[utoipa::path(patch, path = "/api/events/{slug}", params(("slug" = String, Path)),
    request_body = EditRequest,
    responses((status = 200, body = EditView), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, did = %caller.caller.did))]
pub async fn edit_event(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Authenticated,
    JsonObject(request): JsonObject<EditRequest>,
) -> Result<Json<EditView>, ApiError> {
    let event = find_event(&state, &slug).await?;
    caller.may(Action::Edit(target(&state, &event).await?))?;
    if request
        .name
        .as_deref()
        .is_some_and(|name| name.chars().all(blank))
    {
        return Err(ApiError::BadRequest("name must not be empty".into()));
    }
    let stream = OccurrenceId(event.id).stream();
    let occurrence: Occurrence = replay(&state.store, &stream).await?;
    let mut details = occurrence
        .details()
        .cloned()
        .ok_or_else(|| ApiError::Conflict(format!("event {slug:?} has no content to edit")))?;
    if let Some(name) = request.name {
        details.name = name;
    }
    if let Some(description) = request.description {
        details.description = Some(description).filter(|text| !text.is_empty());
    }
    let recorded = execute::<Occurrence, _>(
        &state.store,
        &stream,
        &OccurrenceCommand::Edit(details),
        &caller.actor(),
        |err: OccurrenceError| ApiError::Conflict(err.to_string()),
    )
    .await?;
    Ok(Json(EditView {
        recorded: recorded.events.iter().map(|e| e.event_type()).collect(),
        position: recorded.position,
    }))
}

/// What a deletion recorded.
#[derive(Serialize, ToSchema)]
pub struct DeleteView {
    /// The global position of the deletion (none when it was deleted
    /// already), for `?after=` reads.
    pub position: Option<u64>,
}

/// Deletes an event scheduled in OpenMeet (a published record is deleted
/// from Bluesky with it); an event imported from Bluesky is deleted there.
#[utoipa::path(delete, path = "/api/events/{slug}", params(("slug" = String, Path)),
    responses((status = 200, body = DeleteView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, did = %caller.caller.did))]
pub async fn delete_event(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Authenticated,
) -> Result<Json<DeleteView>, ApiError> {
    let event = find_event(&state, &slug).await?;
    caller.may(Action::Edit(target(&state, &event).await?))?;
    let recorded = execute::<Occurrence, _>(
        &state.store,
        &OccurrenceId(event.id).stream(),
        &OccurrenceCommand::Delete,
        &caller.actor(),
        |err: OccurrenceError| ApiError::Conflict(err.to_string()),
    )
    .await?;
    Ok(Json(DeleteView {
        position: recorded.position,
    }))
}
