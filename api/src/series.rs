//! `/api/series/{slug}`: a series with its occurrences.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use projections::Projection;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::consistency::wait_for;
use crate::events::{After, EVENT_COLUMNS, EVENT_FROM, EventView, VISIBLE};
use crate::{ApiError, AppState};

/// The most occurrences listed with a series.
const OCCURRENCES: i64 = 200;

/// A series and its occurrences.
#[derive(Serialize, ToSchema)]
pub struct SeriesView {
    /// Local id.
    pub id: Uuid,
    /// URL name.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// First occurrence's start.
    pub starts_at: Option<DateTime<Utc>>,
    /// The zone its rule is evaluated in.
    pub time_zone: String,
    /// Its RRULE.
    pub rrule: String,
    /// EXDATEs.
    #[schema(value_type = Vec<String>)]
    pub exdates: serde_json::Value,
    /// RDATEs.
    #[schema(value_type = Vec<String>)]
    pub rdates: serde_json::Value,
    /// `bluesky` or `openmeet`: its source of truth.
    pub origin: String,
    /// The AT-URI it came from, if any.
    pub external_id: Option<String>,
    /// True when OpenMeet must not push changes back.
    pub is_read_only: bool,
    /// Its occurrences by start time (at most 200), deleted ones left out.
    pub occurrences: Vec<EventView>,
}

#[derive(sqlx::FromRow)]
struct SeriesRow {
    id: Uuid,
    slug: String,
    name: String,
    description: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    time_zone: String,
    rrule: String,
    exdates: serde_json::Value,
    rdates: serde_json::Value,
    origin: String,
    external_id: Option<String>,
    is_read_only: bool,
}

/// The columns of a series row.
const SERIES_COLUMNS: &str = "id, slug, name, description, starts_at, time_zone, rrule, exdates, rdates, \
     origin, external_id, is_read_only";

/// One series by its URL name, with its occurrences.
#[utoipa::path(get, path = "/api/series/{slug}", params(("slug" = String, Path), After),
    responses((status = 200, body = SeriesView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_series(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<SeriesView>, ApiError> {
    let missing = format!("no series {slug:?}");
    series_where(&state, query.after, "slug = $1", slug, missing).await
}

/// One series by OpenMeet's own id (the `id` it was put in with), with its
/// occurrences.
#[utoipa::path(get, path = "/api/series/openmeet/{id}", params(("id" = String, Path), After),
    responses((status = 200, body = SeriesView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_series_by_openmeet_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<SeriesView>, ApiError> {
    let series_id = domain::platform::series_id(&id).0.to_string();
    let missing = format!("no series of OpenMeet's id {id:?}");
    series_where(&state, query.after, "id = $1::uuid", series_id, missing).await
}

/// The series whose row meets `condition` on `value`, with its
/// occurrences, once the read models have applied `after`; `missing` names
/// it when there is none.
async fn series_where(
    state: &AppState,
    after: Option<u64>,
    condition: &'static str,
    value: String,
    missing: String,
) -> Result<Json<SeriesView>, ApiError> {
    wait_for(state, after, &[Projection::Series, Projection::Occurrences]).await?;
    let series: Option<SeriesRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SERIES_COLUMNS} FROM read.series WHERE {condition}"
    )))
    .bind(value)
    .fetch_optional(state.store.pool())
    .await?;
    let series = series.ok_or(ApiError::NotFound(missing))?;
    Ok(Json(view(state, series).await?))
}

/// `series` with its occurrences.
async fn view(state: &AppState, series: SeriesRow) -> Result<SeriesView, ApiError> {
    let occurrences: Vec<EventView> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} WHERE o.series_id = $1 AND o.state <> 'deleted' AND {VISIBLE} \
         ORDER BY o.starts_at, o.id LIMIT $2"
    )))
    .bind(series.id)
    .bind(OCCURRENCES)
    .fetch_all(state.store.pool())
    .await?;
    Ok(SeriesView {
        id: series.id,
        slug: series.slug,
        name: series.name,
        description: series.description,
        starts_at: series.starts_at,
        time_zone: series.time_zone,
        rrule: series.rrule,
        exdates: series.exdates,
        rdates: series.rdates,
        origin: series.origin,
        external_id: series.external_id,
        is_read_only: series.is_read_only,
        occurrences,
    })
}
