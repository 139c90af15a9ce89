//! `POST /api/events/{slug}/bluesky-settings` and
//! `POST /api/events/sync-bluesky`: the owner of an OpenMeet event (a series
//! or a standalone occurrence) turns Bluesky sharing on or off, or asks for
//! it to be written again now. Only the owner may (authorization:
//! `domain::access`); events imported from Bluesky are never pushed back.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::DomainEvent;
use domain::Origin;
use domain::access::{Action, EventTarget};
use domain::identity::UserId;
use domain::occurrence::OccurrenceId;
use domain::publishing::{BlueskySettingsChanged, Owned};
use domain::series::SeriesId;
use domain::sharing::{Shareable, SharingCommand};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::body::JsonObject;
use crate::commands::{append_together, current, decide_all, replay};
use crate::{ApiError, AppState};

/// Sharing settings.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct SettingsRequest {
    /// Share on Bluesky.
    pub enabled: bool,
    /// Also carry our lexicon's `recurrence` fields on the records.
    #[serde(default)]
    pub include_recurrence: bool,
}

/// What a settings change recorded.
#[derive(Serialize, ToSchema)]
pub struct SettingsView {
    /// `series` or `occurrence`.
    pub target: &'static str,
    /// Its id.
    pub id: Uuid,
    /// Whether it is shared now.
    pub enabled: bool,
    /// The global position of the change, for `?after=` reads.
    pub position: u64,
}

/// What `slug` names, and whether it came from Bluesky.
async fn target_of(state: &AppState, slug: &str) -> Result<(Owned, bool), ApiError> {
    let occurrence: Option<(Uuid, Option<Uuid>, String)> =
        sqlx::query_as("SELECT id, series_id, origin FROM read.occurrences WHERE slug = $1")
            .bind(slug)
            .fetch_optional(state.store.pool())
            .await?;
    if let Some((id, series, origin)) = occurrence {
        return Ok(match series {
            // An occurrence of a series is shared with its series.
            Some(series) => (
                Owned::Series(SeriesId(series)),
                origin == Origin::Bluesky.as_str(),
            ),
            None => (
                Owned::Occurrence(OccurrenceId(id)),
                origin == Origin::Bluesky.as_str(),
            ),
        });
    }
    let series: Option<(Uuid, String)> =
        sqlx::query_as("SELECT id, origin FROM read.series WHERE slug = $1")
            .bind(slug)
            .fetch_optional(state.store.pool())
            .await?;
    series
        .map(|(id, origin)| {
            (
                Owned::Series(SeriesId(id)),
                origin == Origin::Bluesky.as_str(),
            )
        })
        .ok_or_else(|| ApiError::NotFound(format!("no event or series {slug:?}")))
}

/// The owner the log records for `target`.
pub(crate) async fn owner_of(state: &AppState, target: Owned) -> Result<Option<UserId>, ApiError> {
    Ok(replay::<Shareable>(&state.store, &target.stream())
        .await?
        .owner)
}

/// Carries out `command` on `target`'s sharing as `caller`; a refusal is
/// 409, naming why. Sharing turned on needs a Bluesky session kept for
/// the caller, checked once the rule allows it.
async fn share(
    state: &AppState,
    caller: &Authenticated,
    target: Owned,
    command: SharingCommand,
) -> Result<(BlueskySettingsChanged, u64), ApiError> {
    let stream = target.stream();
    let (sharing, expected) = current::<Shareable>(&state.store, &stream).await?;
    let events = decide_all(&sharing, &[command], ApiError::Conflict)?;
    let Some(DomainEvent::BlueskySettingsChanged(settings)) = events.first().cloned() else {
        return Err(ApiError::Internal(
            "sharing decided without settings".into(),
        ));
    };
    if settings.enabled {
        session_kept(state, caller).await?;
    }
    let position = append_together(
        &state.store,
        vec![(stream, expected, events)],
        &caller.actor(),
    )
    .await?;
    Ok((settings, position))
}

/// Refuses a caller with no Bluesky session kept to write with.
async fn session_kept(state: &AppState, caller: &Authenticated) -> Result<(), ApiError> {
    if let Some(auth) = &state.auth
        && let Some(credentials) = &auth.credentials
        && credentials
            .get(caller.caller.user_id)
            .await
            .map_err(|err| ApiError::Unavailable(format!("the credential store: {err}")))?
            .is_none()
    {
        return Err(ApiError::Conflict(
            "no Bluesky session is kept for this account: log in with Bluesky again first".into(),
        ));
    }
    Ok(())
}

async fn authorized(
    state: &AppState,
    caller: &Authenticated,
    slug: &str,
    action: fn(EventTarget) -> Action<'static>,
) -> Result<Owned, ApiError> {
    let (target, imported) = target_of(state, slug).await?;
    let owner = owner_of(state, target).await?;
    caller.may(action(EventTarget {
        owner,
        imported,
        visible: true,
    }))?;
    Ok(target)
}

/// Turns Bluesky sharing of an event or series on or off.
#[utoipa::path(post, path = "/api/events/{slug}/bluesky-settings", params(("slug" = String, Path)),
    request_body = SettingsRequest,
    responses((status = 200, body = SettingsView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%slug, did = %caller.caller.did))]
pub async fn change_settings(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    caller: Authenticated,
    JsonObject(request): JsonObject<SettingsRequest>,
) -> Result<Json<SettingsView>, ApiError> {
    let target = authorized(&state, &caller, &slug, Action::ChangeBlueskySettings).await?;
    let changed = BlueskySettingsChanged {
        target,
        enabled: request.enabled,
        account: caller.caller.user_id,
        did: caller.caller.did.clone(),
        include_recurrence: request.include_recurrence,
    };
    let (_, position) = share(&state, &caller, target, SharingCommand::Change(changed)).await?;
    let (kind, id) = match target {
        Owned::Series(id) => ("series", id.0),
        Owned::Occurrence(id) => ("occurrence", id.0),
    };
    Ok(Json(SettingsView {
        target: kind,
        id,
        enabled: request.enabled,
        position,
    }))
}

/// Which event to sync.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct SyncBlueskyRequest {
    /// The event's or series' URL name.
    pub slug: String,
}

/// Asks for an event or series to be written to Bluesky now (after a change
/// made elsewhere, say): its sharing settings are recorded again, which the
/// publisher takes up at once.
#[utoipa::path(post, path = "/api/events/sync-bluesky", request_body = SyncBlueskyRequest,
    responses((status = 202, body = SettingsView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn sync_bluesky(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonObject(request): JsonObject<SyncBlueskyRequest>,
) -> Result<(StatusCode, Json<SettingsView>), ApiError> {
    let target = authorized(&state, &caller, &request.slug, Action::Publish).await?;
    let (settings, position) = share(&state, &caller, target, SharingCommand::Resync)
        .await
        .map_err(|err| match err {
            ApiError::Conflict(reason) => ApiError::Conflict(format!("{}: {reason}", request.slug)),
            other => other,
        })?;
    let (kind, id) = match target {
        Owned::Series(id) => ("series", id.0),
        Owned::Occurrence(id) => ("occurrence", id.0),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(SettingsView {
            target: kind,
            id,
            enabled: settings.enabled,
            position,
        }),
    ))
}
