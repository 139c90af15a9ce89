//! The read API: occurrences, series, attendees, users and external
//! references from the projections, plus `/health`, `/metrics` and the
//! OpenAPI document; and the firehose process endpoints, which hand a
//! message to the ingest processor through the [`FirehoseIntake`] port.

#![warn(missing_docs)]

mod consistency;
mod error;
mod events;
mod health;
mod intake;
mod refs;
mod series;
mod users;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use store::PgEventStore;
use utoipa::OpenApi;

pub use error::ApiError;
pub use intake::{FirehoseIntake, Intake, ProcessView};

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
}

impl AppState {
    /// State over `store`, waiting at most 5 s for `?after=`.
    pub fn new(store: PgEventStore) -> Self {
        Self {
            store,
            consistency_timeout: Duration::from_secs(5),
            metrics: health::Metrics::new(),
            intake: None,
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
        description = "Read models of the OpenMeet ⇄ Bluesky sync layer."
    ),
    paths(
        events::list_events,
        events::get_event,
        events::list_attendees,
        series::get_series,
        users::get_user,
        refs::get_external_ref,
        health::health,
        intake::process_event,
        intake::process_rsvp,
    ),
    components(schemas(
        events::EventView,
        events::EventPage,
        events::AttendeeView,
        events::AttendeePage,
        series::SeriesView,
        users::UserView,
        refs::ExternalRefView,
        health::HealthView,
        health::ProjectionLag,
        error::ErrorBody,
        intake::ProcessView,
    ))
)]
struct ApiDoc;

/// The OpenAPI document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/events", get(events::list_events))
        .route("/api/events/{slug}", get(events::get_event))
        .route("/api/events/{slug}/attendees", get(events::list_attendees))
        .route("/api/series/{slug}", get(series::get_series))
        .route("/api/users/{did}", get(users::get_user))
        .route("/api/external-refs", get(refs::get_external_ref))
        .route("/api/bluesky/events/process", post(intake::process_event))
        .route("/api/bluesky/rsvps/process", post(intake::process_rsvp))
        .route("/api/openapi.json", get(|| async { axum::Json(openapi()) }))
        .route("/health", get(health::health))
        .route("/metrics", get(health::metrics))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            health::observe,
        ))
        .with_state(state)
}
