//! `PATCH` and `DELETE /api/series/{slug}`, and
//! `POST /api/series/{slug}/occurrences/{start}/cancel` and `…/move`:
//! OpenMeet changes its own series (openmeet-api's `UpdateEventSeriesDto`),
//! deletes it, or changes one occurrence alone (its "this occurrence
//! only"). The owner's session or an administrator's; each takes
//! `If-Match` and answers with the version it leaves as `ETag`. The rules
//! are `domain::platform`; here they are loaded, called and stored.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use domain::access::{Action, EventTarget};
use domain::occurrence::{Occurrence, OccurrenceCommand, OccurrenceId};
use domain::platform::{self, SeriesPatch};
use domain::publishing::Owned;
use domain::series::{Series, SeriesCommand, SeriesId};
use domain::sharing::{Shareable, SharingCommand};
use domain::{Origin, StreamId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::body::JsonObject;
use crate::commands::{current, decide_all, replay};
use crate::platform::RecurrenceRuleDto;
use crate::sharing::owner_of;
use crate::versions::{Changed, Loaded, load_matching, recorded};
use crate::{ApiError, AppState};

/// What OpenMeet changes of a series (openmeet-api's
/// `UpdateEventSeriesDto`): a field left out stays as it is; both location
/// fields are replaced when either is given.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSeries {
    /// A new name.
    name: Option<String>,
    /// A new description (at most 30,000 bytes).
    description: Option<String>,
    /// A new IANA zone: the occurrences keep their wall time in it.
    time_zone: Option<String>,
    /// A new rule, replacing the old one whole.
    recurrence_rule: Option<RecurrenceRuleDto>,
    /// A new first start: the occurrences are planned anew from it.
    template_start_date: Option<String>,
    /// A new first end.
    template_end_date: Option<String>,
    /// `in-person`, `online` or `hybrid`.
    #[schema(pattern = "^(in-person|online|hybrid)$")]
    template_type: Option<String>,
    /// A new location, as free text.
    template_location: Option<String>,
    /// A new online location: an http(s) URL.
    template_location_online: Option<String>,
    /// Who may see it: `public`, `authenticated` or `private`. Only a
    /// public series is shared; one made otherwise is unpublished.
    #[schema(pattern = "^(public|authenticated|private)$")]
    visibility: Option<String>,
}

impl UpdateSeries {
    fn patch(self) -> SeriesPatch {
        SeriesPatch {
            name: self.name,
            description: self.description,
            time_zone: self.time_zone,
            recurrence_rule: self.recurrence_rule.map(RecurrenceRuleDto::rule),
            template_start_date: self.template_start_date,
            template_end_date: self.template_end_date,
            template_type: self.template_type,
            template_location: self.template_location,
            template_location_online: self.template_location_online,
        }
    }
}

/// The series `slug` names, once `caller` may change it; one that came
/// from Bluesky is changed there.
async fn series_to_change(
    state: &AppState,
    caller: &Authenticated,
    slug: &str,
) -> Result<SeriesId, ApiError> {
    let found: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, origin FROM read.series WHERE slug = $1")
            .bind(slug)
            .fetch_optional(state.store.pool())
            .await?;
    let (id, origin) = found.ok_or_else(|| ApiError::NotFound(format!("no series {slug:?}")))?;
    let imported = origin == Origin::Bluesky.as_str();
    caller.may(Action::Edit(EventTarget {
        owner: owner_of(state, Owned::Series(SeriesId(id))).await?,
        imported,
        visible: true,
    }))?;
    if imported {
        return Err(ApiError::Conflict(format!(
            "series {slug:?} came from Bluesky; it is changed there"
        )));
    }
    Ok(SeriesId(id))
}

/// Edits an OpenMeet series: its content (`SeriesEdited`), its rule, zone
/// or times (`RecurrenceChanged`: the occurrences are planned anew; those
/// past and published stay), and who may see it (`VisibilityChanged`).
/// With `If-Match: <version>`, a series that changed since is 409 naming
/// its version now.
#[utoipa::path(patch, path = "/api/series/{slug}", params(("slug" = String, Path),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^"?[0-9]{1,19}"?$"#, description = "the version the edit was made against (the ETag of the last answer)")),
    request_body = UpdateSeries,
    responses((status = 200, body = crate::versions::Changed, headers(("ETag" = String, description = "the series' version"))),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, did = %caller.caller.did))]
pub async fn edit_series(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Authenticated,
    headers: HeaderMap,
    JsonObject(request): JsonObject<UpdateSeries>,
) -> Result<(HeaderMap, Json<Changed>), ApiError> {
    let id = series_to_change(&state, &caller, &slug).await?;
    let stream = id.stream();
    let visibility = platform::visibility(request.visibility.as_deref())
        .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let visibility_given = request.visibility.is_some();
    let series: Loaded<Series> =
        load_matching(&state, &stream, &headers, &format!("series {slug:?}")).await?;
    let commands = platform::edit_series(&series.state, &request.patch())
        .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let mut events = decide_all(&series.state, &commands, ApiError::BadRequest)?;
    if visibility_given {
        let sharing: Shareable = replay(&state.store, &stream).await?;
        let command = SharingCommand::SetVisibility {
            target: Owned::Series(id),
            visibility,
        };
        events.extend(decide_all(&sharing, &[command], ApiError::Conflict)?);
    }
    recorded(
        &state,
        &caller,
        &stream,
        series.version,
        vec![(stream.clone(), series.expected, events)],
    )
    .await
}

/// Deletes an OpenMeet series, and with it each of its occurrences
/// scheduled here; what is published of it is deleted from Bluesky. With
/// `If-Match: <version>`, a series that changed since is 409.
#[utoipa::path(delete, path = "/api/series/{slug}", params(("slug" = String, Path),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^"?[0-9]{1,19}"?$"#, description = "the version the deletion was made against")),
    responses((status = 200, body = crate::versions::Changed, headers(("ETag" = String, description = "the series' version"))),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, did = %caller.caller.did))]
pub async fn delete_series(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Authenticated,
    headers: HeaderMap,
) -> Result<(HeaderMap, Json<Changed>), ApiError> {
    let id = series_to_change(&state, &caller, &slug).await?;
    let stream = id.stream();
    let series: Loaded<Series> =
        load_matching(&state, &stream, &headers, &format!("series {slug:?}")).await?;
    let events = decide_all(&series.state, &[SeriesCommand::Delete], ApiError::Conflict)?;
    let mut parts = vec![(stream.clone(), series.expected, events)];
    let scheduled: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM read.occurrences WHERE series_id = $1 AND origin = 'openmeet'",
    )
    .bind(id.0)
    .fetch_all(state.store.pool())
    .await?;
    for occurrence in scheduled {
        let stream = OccurrenceId(occurrence).stream();
        let (state_now, expected) = current::<Occurrence>(&state.store, &stream).await?;
        let events = decide_all(&state_now, &[OccurrenceCommand::Delete], ApiError::Conflict)?;
        parts.push((stream, expected, events));
    }
    recorded(&state, &caller, &stream, series.version, parts).await
}

/// Why one occurrence is cancelled.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct CancelOccurrence {
    /// Why, when said (at most 1,000 bytes).
    reason: Option<String>,
}

/// Where one occurrence moves.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoveOccurrence {
    /// Its new start: an RFC 3339 instant, or a wall time in the series'
    /// zone.
    start_date: String,
    /// Its new end, in the same forms; as long as it was when absent.
    end_date: Option<String>,
}

/// The occurrence of the series `slug` at `start`, loaded for a change of
/// it alone.
async fn one_occurrence(
    state: &AppState,
    caller: &Authenticated,
    slug: &str,
    start: &str,
    headers: &HeaderMap,
) -> Result<(Series, Loaded<Occurrence>, StreamId), ApiError> {
    let id = series_to_change(state, caller, slug).await?;
    let series: Series = replay(&state.store, &id.stream()).await?;
    let (occurrence, _) = platform::occurrence_at(&series, start)
        .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let stream = occurrence.stream();
    let what = format!("the occurrence of {slug:?} at {start}");
    let loaded = load_matching(state, &stream, headers, &what).await?;
    Ok((series, loaded, stream))
}

/// Cancels one occurrence of an OpenMeet series, the rest of the rule
/// unchanged: while it is the next, it is published as cancelled. `start`
/// is its start in the rule (an RFC 3339 instant, or a wall time in the
/// series' zone), which names it even once moved. With `If-Match`, the
/// occurrence's version (0 before anything was asked of it alone).
#[utoipa::path(post, path = "/api/series/{slug}/occurrences/{start}/cancel",
    params(("slug" = String, Path), ("start" = String, Path, description = "its start in the series' rule"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^"?[0-9]{1,19}"?$"#, description = "the occurrence's version the change was made against")),
    request_body = CancelOccurrence,
    responses((status = 200, body = crate::versions::Changed, headers(("ETag" = String, description = "the occurrence's version"))),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, %start, did = %caller.caller.did))]
pub async fn cancel_occurrence(
    State(state): State<AppState>,
    Path((slug, start)): Path<(String, String)>,
    caller: Authenticated,
    headers: HeaderMap,
    JsonObject(request): JsonObject<CancelOccurrence>,
) -> Result<(HeaderMap, Json<Changed>), ApiError> {
    let (series, occurrence, stream) =
        one_occurrence(&state, &caller, &slug, &start, &headers).await?;
    let (_, commands) = platform::cancel_occurrence(
        &series,
        &start,
        &occurrence.state,
        request.reason.as_deref(),
    )
    .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let events = decide_all(&occurrence.state, &commands, ApiError::Conflict)?;
    let parts = vec![(stream.clone(), occurrence.expected, events)];
    recorded(&state, &caller, &stream, occurrence.version, parts).await
}

/// Moves one occurrence of an OpenMeet series, the rest of the rule
/// unchanged, as `…/cancel` names it.
#[utoipa::path(post, path = "/api/series/{slug}/occurrences/{start}/move",
    params(("slug" = String, Path), ("start" = String, Path, description = "its start in the series' rule"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^"?[0-9]{1,19}"?$"#, description = "the occurrence's version the change was made against")),
    request_body = MoveOccurrence,
    responses((status = 200, body = crate::versions::Changed, headers(("ETag" = String, description = "the occurrence's version"))),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, %start, did = %caller.caller.did))]
pub async fn move_occurrence(
    State(state): State<AppState>,
    Path((slug, start)): Path<(String, String)>,
    caller: Authenticated,
    headers: HeaderMap,
    JsonObject(request): JsonObject<MoveOccurrence>,
) -> Result<(HeaderMap, Json<Changed>), ApiError> {
    let (series, occurrence, stream) =
        one_occurrence(&state, &caller, &slug, &start, &headers).await?;
    let (_, commands) = platform::move_occurrence(
        &series,
        &start,
        &occurrence.state,
        &request.start_date,
        request.end_date.as_deref(),
    )
    .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let events = decide_all(&occurrence.state, &commands, ApiError::Conflict)?;
    let parts = vec![(stream.clone(), occurrence.expected, events)];
    recorded(&state, &caller, &stream, occurrence.version, parts).await
}
