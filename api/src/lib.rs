//! The read API: occurrences, series, attendees, users and external
//! references from the projections, plus `/health`, `/metrics` and the
//! OpenAPI document; and the firehose process endpoints, which hand a
//! message to the ingest processor through the [`FirehoseIntake`] port.

#![warn(missing_docs)]

mod attendance;
pub mod audience;
pub mod auth;
mod body;
mod commands;
mod consistency;
mod document;
mod editing;
mod error;
mod events;
mod health;
mod intake;
mod platform;
mod proposals;
mod refs;
mod rejections;
mod series;
mod series_edits;
mod sharing;
mod text;
mod users;
mod versions;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use store::PgEventStore;
use utoipa::OpenApi;

pub use auth::Auth;
use document::Conventions;
pub use error::ApiError;
pub use health::{BackgroundTasks, TaskView};
pub use intake::{FirehoseIntake, Intake, ProcessView};
pub use platform::{CreateEvent, CreateSeries, Created, put_event, put_series};

/// What every handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The event store, whose pool also serves the read models.
    pub store: PgEventStore,
    /// How long a read with `?after=` waits for the projection at most.
    pub consistency_timeout: Duration,
    /// Request metrics.
    pub metrics: health::Metrics,
    /// The ingest processor, when this server accepts firehose messages.
    pub intake: Option<Intake>,
    /// Bluesky login and sessions, when configured.
    pub auth: Option<Auth>,
    /// The background tasks beside the API, for `/health`.
    pub tasks: Option<std::sync::Arc<dyn BackgroundTasks>>,
}

impl AppState {
    /// State over `store`, waiting at most 5 s for `?after=`.
    pub fn new(store: PgEventStore) -> Self {
        Self {
            store,
            consistency_timeout: Duration::from_secs(5),
            metrics: health::Metrics::new(),
            intake: None,
            auth: None,
            tasks: None,
        }
    }

    /// The same state, reporting `tasks` on `/health`.
    pub fn with_tasks(self, tasks: std::sync::Arc<dyn BackgroundTasks>) -> Self {
        Self {
            tasks: Some(tasks),
            ..self
        }
    }

    /// The same state, with Bluesky login and sessions.
    pub fn with_auth(self, auth: Auth) -> Self {
        Self {
            auth: Some(auth),
            ..self
        }
    }

    /// The same state, accepting firehose messages through `intake`.
    pub fn with_intake(self, intake: Intake) -> Self {
        Self {
            intake: Some(intake),
            ..self
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "openmeet-sync read API",
        description = "Read models of the OpenMeet ⇄ Bluesky sync layer, Bluesky login, and the writes an OpenMeet session may make."
    ),
    paths(
        events::list_events,
        events::get_event,
        events::get_event_by_openmeet_id,
        events::list_attendees,
        series::get_series,
        series::get_series_by_openmeet_id,
        platform::create_series,
        platform::create_event,
        series_edits::edit_series,
        series_edits::delete_series,
        series_edits::cancel_occurrence,
        series_edits::move_occurrence,
        users::get_user,
        users::list_users,
        refs::get_external_ref,
        health::health,
        health::metrics,
        openapi_document,
        intake::process_event,
        intake::process_rsvp,
        auth::login::app_password,
        auth::oauth::login,
        auth::oauth::callback,
        auth::oauth::client_metadata,
        auth::login::logout,
        auth::login::whoami,
        attendance::rsvp,
        attendance::sync_attendance,
        editing::edit_event,
        editing::delete_event,
        sharing::change_settings,
        sharing::sync_bluesky,
        proposals::list_proposals,
        proposals::accept,
        proposals::adjust,
        proposals::reject,
        rejections::list_rejections,
    ),
    components(schemas(
        events::EventView,
        events::EventPage,
        events::AttendeeView,
        events::AttendeePage,
        series::SeriesView,
        platform::CreateSeries,
        platform::RecurrenceRuleDto,
        platform::CreatedSeries,
        platform::CreateEvent,
        platform::CreatedEvent,
        series_edits::UpdateSeries,
        versions::Changed,
        series_edits::CancelOccurrence,
        series_edits::MoveOccurrence,
        editing::LinkDto,
        users::UserView,
        users::UserPage,
        refs::ExternalRefView,
        rejections::RejectionView,
        rejections::RejectionPage,
        health::HealthView,
        health::ProjectionLag,
        health::StoppedProjection,
        health::TaskView,
        error::ErrorBody,
        intake::ProcessView,
        auth::login::AppPasswordLogin,
        auth::login::SessionView,
        auth::login::WhoAmI,
        attendance::RsvpRequest,
        attendance::RsvpView,
        attendance::SyncRequest,
        attendance::SyncView,
        editing::EditRequest,
        editing::DeleteView,
        sharing::SettingsRequest,
        sharing::SettingsView,
        sharing::SyncBlueskyRequest,
        proposals::ProposalView,
        proposals::Adjustment,
        proposals::AnswerView,
    )),
    modifiers(&Conventions)
)]
struct ApiDoc;

/// The OpenAPI document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document, as JSON.
#[utoipa::path(get, path = "/api/openapi.json",
    responses((status = 200, description = "the OpenAPI document of this API", content_type = "application/json", body = Object)))]
async fn openapi_document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(openapi())
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/events",
            get(events::list_events).post(platform::create_event),
        )
        .route(
            "/api/events/{slug}",
            get(events::get_event)
                .patch(editing::edit_event)
                .delete(editing::delete_event),
        )
        .route(
            "/api/events/openmeet/{id}",
            get(events::get_event_by_openmeet_id),
        )
        .route("/api/events/{slug}/rsvp", post(attendance::rsvp))
        .route(
            "/api/events/{slug}/bluesky-settings",
            post(sharing::change_settings),
        )
        .route("/api/events/sync-bluesky", post(sharing::sync_bluesky))
        .route(
            "/api/events/{slug}/attendees/sync",
            post(attendance::sync_attendance),
        )
        .route("/api/events/{slug}/attendees", get(events::list_attendees))
        .route("/api/series", post(platform::create_series))
        .route(
            "/api/series/openmeet/{id}",
            get(series::get_series_by_openmeet_id),
        )
        .route(
            "/api/series/{slug}",
            get(series::get_series)
                .patch(series_edits::edit_series)
                .delete(series_edits::delete_series),
        )
        .route(
            "/api/series/{slug}/occurrences/{start}/cancel",
            post(series_edits::cancel_occurrence),
        )
        .route(
            "/api/series/{slug}/occurrences/{start}/move",
            post(series_edits::move_occurrence),
        )
        .route("/api/users", get(users::list_users))
        .route("/api/users/{did}", get(users::get_user))
        .route("/api/series-proposals", get(proposals::list_proposals))
        .route("/api/series-proposals/{id}/accept", post(proposals::accept))
        .route("/api/series-proposals/{id}/adjust", post(proposals::adjust))
        .route("/api/series-proposals/{id}/reject", post(proposals::reject))
        .route("/api/external-refs", get(refs::get_external_ref))
        .route("/api/rejections", get(rejections::list_rejections))
        .route(
            "/api/auth/bluesky/app-password",
            post(auth::login::app_password),
        )
        .route("/api/auth/bluesky/login", get(auth::oauth::login))
        .route("/api/auth/bluesky/callback", get(auth::oauth::callback))
        .route(
            "/oauth/client-metadata.json",
            get(auth::oauth::client_metadata),
        )
        .route("/api/auth/logout", post(auth::login::logout))
        .route("/api/auth/session", get(auth::login::whoami))
        .route("/api/bluesky/events/process", post(intake::process_event))
        .route("/api/bluesky/rsvps/process", post(intake::process_rsvp))
        .route("/api/openapi.json", get(openapi_document))
        .route("/health", get(health::health))
        .route("/metrics", get(health::metrics))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(axum::middleware::from_fn(audience::enforce))
        .layer(axum::middleware::from_fn(text::refuse_nul))
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            health::observe,
        ))
        .with_state(state)
}
