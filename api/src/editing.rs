//! `PATCH /api/events/{slug}`: the owner (or an administrator) edits an
//! event's content in OpenMeet. An imported event may be edited too: the
//! process manager keeps such manual edits against later Bluesky versions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use domain::access::Action;
use domain::occurrence::{Link, Occurrence, OccurrenceCommand, OccurrenceError, OccurrenceId};
use domain::platform::{self, EventPatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::attendance::target;
use crate::auth::Authenticated;
use crate::body::JsonObject;
use crate::commands::{decide_all, execute};
use crate::events::find_event;
use crate::versions::{Changed, Loaded, load_matching, recorded};
use crate::{ApiError, AppState};

/// The fields to change (openmeet-api's `UpdateEventDto`); absent ones
/// stay. The places are replaced when any of `location`,
/// `locationOnline`, `lat` or `lon` is given.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditRequest {
    /// A new name: not blank.
    #[schema(pattern = "\\S")]
    pub name: Option<String>,
    /// A new description (an empty one removes it).
    pub description: Option<String>,
    /// The IANA zone `startDate` and `endDate` are wall times in; the
    /// event's own when absent.
    pub time_zone: Option<String>,
    /// A new start: an RFC 3339 instant, or a wall time.
    pub start_date: Option<String>,
    /// A new end, in the same forms.
    pub end_date: Option<String>,
    /// `in-person`, `online` or `hybrid`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(in-person|online|hybrid)$")]
    pub kind: Option<String>,
    /// A new location, as free text.
    pub location: Option<String>,
    /// A new online location: an http(s) URL.
    pub location_online: Option<String>,
    /// Degrees north, -90 to 90, with `lon`.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    /// Degrees east, -180 to 180, with `lat`.
    #[schema(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    /// `draft`, `pending`, `published` or `cancelled` (which cancels it).
    #[schema(pattern = "^(draft|pending|published|cancelled)$")]
    pub status: Option<String>,
    /// New links, replacing the old ones.
    pub links: Option<Vec<LinkDto>>,
}

/// A link of an event.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct LinkDto {
    /// An http(s) URL.
    pub uri: String,
    /// What it is.
    pub name: Option<String>,
}

impl EditRequest {
    fn patch(self) -> EventPatch {
        EventPatch {
            name: self.name,
            description: self.description,
            time_zone: self.time_zone,
            start_date: self.start_date,
            end_date: self.end_date,
            kind: self.kind,
            location: self.location,
            location_online: self.location_online,
            lat: self.lat,
            lon: self.lon,
            status: self.status,
            links: self.links.map(|links| {
                links
                    .into_iter()
                    .map(|link| Link {
                        uri: link.uri,
                        name: link.name,
                    })
                    .collect()
            }),
        }
    }
}

/// Whether `c` is blank as the document's pattern `\S` reads it
/// (ECMAScript's `\s`: Unicode's white space without U+0085, with U+FEFF).
fn blank(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}'
}

/// Edits an event: its name, description, times, place, mode, status
/// (`cancelled` cancels it) and links. With `If-Match: <version>`, an
/// event that changed since is 409 naming its version now.
#[utoipa::path(patch, path = "/api/events/{slug}", params(("slug" = String, Path),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^"?[0-9]{1,19}"?$"#, description = "the version the edit was made against (the ETag of the last answer)")),
    request_body = EditRequest,
    responses((status = 200, body = crate::versions::Changed, headers(("ETag" = String, description = "the event's version"))),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, did = %caller.caller.did))]
pub async fn edit_event(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Authenticated,
    headers: HeaderMap,
    JsonObject(request): JsonObject<EditRequest>,
) -> Result<(HeaderMap, Json<Changed>), ApiError> {
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
    let occurrence: Loaded<Occurrence> =
        load_matching(&state, &stream, &headers, &format!("event {slug:?}")).await?;
    let commands =
        platform::edit_event(&occurrence.state, &request.patch()).map_err(|refused| {
            if refused.field == "slug" {
                ApiError::Conflict(format!("event {slug:?}: {}", refused.reason))
            } else {
                ApiError::BadRequest(refused.to_string())
            }
        })?;
    let events = decide_all(&occurrence.state, &commands, ApiError::Conflict)?;
    let parts = vec![(stream.clone(), occurrence.expected, events)];
    recorded(&state, &caller, &stream, occurrence.version, parts).await
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
