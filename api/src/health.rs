//! `/health` (the background tasks, projection lag against the head) and
//! `/metrics` (Prometheus).

use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntGaugeVec, Opts, Registry, TextEncoder};
use serde::Serialize;
use store::EventStore;
use utoipa::ToSchema;

use crate::{ApiError, AppState};

/// The API's Prometheus registry and instruments.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: HistogramVec,
    lag: IntGaugeVec,
}

impl Metrics {
    /// A fresh registry with the request histogram and the lag gauge.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Duration of API requests")
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ]),
            &["route", "status"],
        )
        .expect("valid histogram");
        let lag = IntGaugeVec::new(
            Opts::new(
                "projection_lag_events",
                "Events between a projection (or a follower: the process manager, a publisher) and the head",
            ),
            &["projection"],
        )
        .expect("valid gauge");
        // Registering fresh instruments with unique names into a new
        // registry cannot fail.
        registry
            .register(Box::new(requests.clone()))
            .expect("register histogram");
        registry
            .register(Box::new(lag.clone()))
            .expect("register gauge");
        projections::metrics::register(&registry).expect("register the read side's counters");
        Self {
            registry,
            requests,
            lag,
        }
    }

    /// Records how far behind the head `name` is.
    fn behind(&self, name: &str, events: u64) {
        self.lag.with_label_values(&[name]).set(events as i64);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A span and a duration sample per request.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("request", method = %request.method(), %route);
    let started = Instant::now();
    let response = tracing::Instrument::instrument(next.run(request), span).await;
    state
        .metrics
        .requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// One projection's position.
#[derive(Serialize, ToSchema)]
pub struct ProjectionLag {
    /// The projection, or the follower.
    pub name: String,
    /// Its checkpoint.
    pub checkpoint: u64,
    /// Events it still has to apply.
    pub behind: u64,
}

/// A projection stopped on an event it cannot apply.
#[derive(Serialize, ToSchema)]
pub struct StoppedProjection {
    /// The projection.
    pub name: String,
    /// The global position of the event.
    pub position: u64,
    /// Its type.
    pub event_type: String,
    /// Its stream.
    pub stream: String,
    /// Why it does not apply.
    pub reason: String,
    /// When it was last tried (RFC 3339).
    pub failed_at: String,
}

/// The background tasks beside the API (projections, process manager,
/// publishers, enricher), as their supervisor sees them.
pub trait BackgroundTasks: Send + Sync {
    /// Each task and where it stands.
    fn states(&self) -> Vec<TaskView>;
}

/// One background task.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TaskView {
    /// Its name (a projection's, `process-manager`, `rsvp-publisher`, ...).
    pub name: String,
    /// `running`, `restarting` (failed; started again after a backoff) or
    /// `stopped` (ended for good).
    pub state: String,
    /// Since when (RFC 3339): started, failing, or stopped.
    pub since: String,
    /// Failures in a row, while restarting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    /// What the last failure said, while restarting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it is next started (RFC 3339), while restarting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
    /// Why it stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Health of the process: its background tasks and the read side.
#[derive(Serialize, ToSchema)]
pub struct HealthView {
    /// `ok`, or `degraded` (answered with 503) while a background task is
    /// not running or a projection is stopped on an event (the API still
    /// serves; what that task keeps is behind).
    pub status: String,
    /// The background tasks of this process (none when it runs the API
    /// alone).
    pub tasks: Vec<TaskView>,
    /// The newest global position.
    pub head: u64,
    /// Each projection's lag.
    pub projections: Vec<ProjectionLag>,
    /// How far the process manager has carried out decisions (`name` is
    /// `process-manager`).
    pub process_manager: ProjectionLag,
    /// How far each other follower with a checkpoint has carried out what
    /// the log asks of it (`occurrence-publisher`, `rsvp-publisher`,
    /// `identity-enricher`), once it has run.
    pub followers: Vec<ProjectionLag>,
    /// Projections stopped on an event, with where and why (`openmeet-sync
    /// skip-event` lets an operator pass over it).
    pub stopped: Vec<StoppedProjection>,
}

/// How far behind the head each follows the log.
struct Lags {
    head: u64,
    projections: Vec<projections::runner::Lag>,
    process_manager: ProjectionLag,
    followers: Vec<ProjectionLag>,
}

/// The head, and the lag of each projection, of the process manager and of
/// the other followers, also recorded in the lag gauge.
async fn current_lag(state: &AppState) -> Result<Lags, ApiError> {
    let head = state
        .store
        .head()
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let lags = projections::runner::lag(state.store.pool(), head)
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    for lag in &lags {
        state.metrics.behind(lag.projection.name(), lag.behind);
    }
    let decided = state
        .store
        .checkpoint(domain::sync::ACTOR)
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let process_manager = ProjectionLag {
        name: domain::sync::ACTOR.into(),
        checkpoint: decided.0,
        behind: head.0.saturating_sub(decided.0),
    };
    state
        .metrics
        .behind(domain::sync::ACTOR, process_manager.behind);
    let checkpoints: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, position FROM process.checkpoints WHERE name <> $1 ORDER BY name",
    )
    .bind(domain::sync::ACTOR)
    .fetch_all(state.store.pool())
    .await?;
    let followers: Vec<ProjectionLag> = checkpoints
        .into_iter()
        .map(|(name, position)| {
            let checkpoint = position.max(0) as u64;
            ProjectionLag {
                behind: head.0.saturating_sub(checkpoint),
                name,
                checkpoint,
            }
        })
        .collect();
    for follower in &followers {
        state.metrics.behind(&follower.name, follower.behind);
    }
    Ok(Lags {
        head: head.0,
        projections: lags,
        process_manager,
        followers,
    })
}

/// The background tasks, the head of the log and how far behind each
/// projection is; 503 while degraded.
#[utoipa::path(get, path = "/health", responses((status = 200, body = HealthView),
    (status = 503, body = HealthView, description = "degraded: a background task is not running, or a projection is stopped on an event"),
    (status = 500, body = crate::error::ErrorBody)))]
pub async fn health(
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<HealthView>), ApiError> {
    let Lags {
        head,
        projections: lags,
        process_manager,
        followers,
    } = current_lag(&state).await?;
    let stopped: Vec<StoppedProjection> = projections::failures::current(state.store.pool())
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?
        .into_iter()
        .map(|failure| StoppedProjection {
            name: failure.projection.name().into(),
            position: failure.position.0,
            event_type: failure.event_type,
            stream: failure.stream,
            reason: failure.reason,
            failed_at: failure.failed_at.to_rfc3339(),
        })
        .collect();
    let projections = lags
        .into_iter()
        .map(|lag| ProjectionLag {
            name: lag.projection.name().into(),
            checkpoint: lag.checkpoint.0,
            behind: lag.behind,
        })
        .collect();
    let tasks = state
        .tasks
        .as_ref()
        .map(|tasks| tasks.states())
        .unwrap_or_default();
    let degraded = !stopped.is_empty() || tasks.iter().any(|task| task.state != "running");
    let status = if degraded {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(HealthView {
            status: if degraded { "degraded" } else { "ok" }.into(),
            tasks,
            head,
            projections,
            process_manager,
            followers,
            stopped,
        }),
    ))
}

/// Prometheus text exposition: request durations and projection lag.
#[utoipa::path(get, path = "/metrics",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    // Refresh the lag gauge; a failure here must not hide the other metrics.
    if let Err(err) = current_lag(&state).await {
        tracing::warn!(error = %err, "projection lag could not be read for /metrics");
    }
    let mut text = Vec::new();
    if let Err(err) = TextEncoder::new().encode(&state.metrics.registry.gather(), &mut text) {
        return ApiError::Internal(format!("metrics could not be encoded: {err}")).into_response();
    }
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}
