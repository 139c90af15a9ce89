//! `/api/events`: occurrences, one or a page, and their attendees.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use projections::Projection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::consistency::wait_for;
use crate::{ApiError, AppState};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// The columns every occurrence read selects, in [`EventView`]'s order.
pub(crate) const EVENT_COLUMNS: &str = "o.id, o.slug, o.series_id, o.name, o.description, o.starts_at, o.ends_at, \
     o.time_zone, o.mode, o.status, o.state, o.places, o.links, o.rsvp_expected, o.origin, o.external_id, \
     o.external_cid, o.external_source, o.is_read_only, o.created_at, u.id AS organizer_id, \
     u.bluesky_did AS organizer_did, u.bluesky_handle AS organizer_handle, \
     u.is_shadow_account AS organizer_is_shadow_account";

/// Occurrences with their organizer: for an imported one, the account of
/// the DID in its AT-URI.
pub(crate) const EVENT_FROM: &str = "read.occurrences o LEFT JOIN read.users u \
     ON o.origin = 'bluesky' AND u.bluesky_did = split_part(o.external_id, '/', 3)";

/// Leaves out occurrences whose organizer's account is deactivated, taken
/// down or deleted.
pub(crate) const VISIBLE: &str = "COALESCE(u.account_status, 'active') = 'active'";

/// One occurrence.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct EventView {
    /// Local id.
    pub id: Uuid,
    /// URL name.
    pub slug: String,
    /// The series it belongs to.
    pub series_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Start.
    pub starts_at: Option<DateTime<Utc>>,
    /// End.
    pub ends_at: Option<DateTime<Utc>>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// `inperson`, `virtual`, `hybrid` or another token.
    pub mode: Option<String>,
    /// `planned`, `scheduled`, `rescheduled`, `cancelled`, `postponed` or another token.
    pub status: Option<String>,
    /// `active`, `cancelled`, `deleted` or `unreadable`.
    pub state: String,
    /// Where it takes place: each place an object with one key, its kind
    /// (`Address`, `Geo`, `Online`, ...), holding its fields.
    #[schema(value_type = Vec<Object>)]
    pub places: serde_json::Value,
    /// Links about it, each with its `uri` and optional `name`.
    #[schema(value_type = Vec<Object>)]
    pub links: serde_json::Value,
    /// Whether attendees are asked to respond.
    pub rsvp_expected: Option<bool>,
    /// `bluesky` or `openmeet`: its source of truth.
    pub origin: String,
    /// The AT-URI it came from (Bluesky source).
    pub external_id: Option<String>,
    /// The CID of that record's version.
    pub external_cid: Option<String>,
    /// `bluesky` when imported.
    pub external_source: Option<String>,
    /// True when OpenMeet must not push changes back.
    pub is_read_only: bool,
    /// When it was created at its source.
    pub created_at: DateTime<Utc>,
    /// The organizer's account (for an imported event, the account of the
    /// Bluesky DID that published it, shadow or claimed).
    pub organizer_id: Option<Uuid>,
    /// The organizer's DID.
    pub organizer_did: Option<String>,
    /// The organizer's handle.
    pub organizer_handle: Option<String>,
    /// True while the organizer has not joined OpenMeet.
    pub organizer_is_shadow_account: Option<bool>,
}

/// A page of occurrences.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// The occurrences, by start time.
    pub items: Vec<EventView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Filters and paging of `GET /api/events`.
#[derive(Deserialize, IntoParams)]
pub struct ListEvents {
    /// Only occurrences starting at or after this instant (RFC 3339).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Only occurrences starting before this instant (RFC 3339).
    #[param(format = DateTime)]
    to: Option<String>,
    /// Only occurrences from this source: `bluesky` or `openmeet`.
    #[param(pattern = "^(bluesky|openmeet)$")]
    source: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(
        pattern = "^(inf|-?[0-9]{1,16})_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )]
    cursor: Option<String>,
    /// Wait until the read model has applied this global position.
    pub(crate) after: Option<u64>,
}

/// Consistency of single reads.
#[derive(Deserialize, IntoParams)]
pub struct After {
    /// Wait until the read model has applied this global position.
    pub(crate) after: Option<u64>,
}

fn instant(name: &str, text: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.as_deref()
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|at| at.to_utc())
                .map_err(|err| {
                    ApiError::BadRequest(format!(
                        "{name} is not an RFC 3339 instant: {text:?} ({err})"
                    ))
                })
        })
        .transpose()
}

/// A cursor is the last item's start (µs, or `inf` when it has none) and id.
fn parse_cursor(cursor: &str) -> Result<(Option<DateTime<Utc>>, Uuid), ApiError> {
    let bad = || ApiError::BadRequest(format!("cursor {cursor:?} is not one this API issued"));
    let (start, id) = cursor.split_once('_').ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    if start == "inf" {
        return Ok((None, id));
    }
    let micros: i64 = start.parse().map_err(|_| bad())?;
    Ok((
        Some(DateTime::from_timestamp_micros(micros).ok_or_else(bad)?),
        id,
    ))
}

fn cursor_of(event: &EventView) -> String {
    let start = event
        .starts_at
        .map(|at| at.timestamp_micros().to_string())
        .unwrap_or_else(|| "inf".into());
    format!("{start}_{}", event.id)
}

/// Trims rows fetched with one extra (`limit + 1`) to the page, and names
/// the cursor of the next page when that extra row shows there is one.
pub(crate) fn page<T, C>(
    mut items: Vec<T>,
    limit: i64,
    cursor: impl Fn(&T) -> C,
) -> (Vec<T>, Option<C>) {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_cursor = if more { items.last().map(cursor) } else { None };
    (items, next_cursor)
}

pub(crate) fn limit(requested: Option<i64>) -> Result<i64, ApiError> {
    match requested.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        n => Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}, not {n}"
        ))),
    }
}

/// Occurrences by start time; deleted ones, and those of accounts that are
/// not active, left out.
#[utoipa::path(get, path = "/api/events", params(ListEvents),
    responses((status = 200, body = EventPage), (status = 400, body = crate::error::ErrorBody)))]
pub async fn list_events(
    State(state): State<AppState>,
    Query(query): Query<ListEvents>,
) -> Result<Json<EventPage>, ApiError> {
    let from = instant("from", &query.from)?;
    let to = instant("to", &query.to)?;
    if let Some(source) = query
        .source
        .as_deref()
        .filter(|s| !matches!(*s, "bluesky" | "openmeet"))
    {
        return Err(ApiError::BadRequest(format!(
            "source must be bluesky or openmeet, not {source:?}"
        )));
    }
    let limit = limit(query.limit)?;
    let (cursor_start, cursor_id, has_cursor) = match query.cursor.as_deref() {
        Some(cursor) => {
            let (start, id) = parse_cursor(cursor)?;
            (start, id, true)
        }
        None => (None, Uuid::nil(), false),
    };
    wait_for(
        &state,
        query.after,
        &[Projection::Occurrences, Projection::Users],
    )
    .await?;
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} \
         WHERE o.state <> 'deleted' AND {VISIBLE} \
           AND ($1::timestamptz IS NULL OR o.starts_at >= $1) \
           AND ($2::timestamptz IS NULL OR o.starts_at < $2) \
           AND ($3::text IS NULL OR o.origin = $3) \
           AND (NOT $4 OR (COALESCE(o.starts_at, 'infinity'), o.id) > (COALESCE($5, 'infinity'::timestamptz), $6)) \
         ORDER BY COALESCE(o.starts_at, 'infinity'), o.id LIMIT $7"
    );
    let items: Vec<EventView> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(from)
        .bind(to)
        .bind(&query.source)
        .bind(has_cursor)
        .bind(cursor_start)
        .bind(cursor_id)
        .bind(limit + 1)
        .fetch_all(state.store.pool())
        .await?;
    let (items, next_cursor) = page(items, limit, cursor_of);
    Ok(Json(EventPage { items, next_cursor }))
}

/// One occurrence by its URL name.
#[utoipa::path(get, path = "/api/events/{slug}", params(("slug" = String, Path), After),
    responses((status = 200, body = EventView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_event(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<EventView>, ApiError> {
    wait_for(
        &state,
        query.after,
        &[Projection::Occurrences, Projection::Users],
    )
    .await?;
    find_event(&state, &slug).await.map(Json)
}

/// One standalone occurrence by OpenMeet's own id (the `id` it was put in
/// with).
#[utoipa::path(get, path = "/api/events/openmeet/{id}", params(("id" = String, Path), After),
    responses((status = 200, body = EventView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_event_by_openmeet_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<EventView>, ApiError> {
    wait_for(
        &state,
        query.after,
        &[Projection::Occurrences, Projection::Users],
    )
    .await?;
    let occurrence_id = domain::platform::occurrence_id(&id).0.to_string();
    event_where(&state, "o.id = $1::uuid", occurrence_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no event of OpenMeet's id {id:?}")))
}

pub(crate) async fn find_event(state: &AppState, slug: &str) -> Result<EventView, ApiError> {
    event_where(state, "o.slug = $1", slug.to_owned())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event {slug:?}")))
}

/// The visible occurrence that meets `condition` on `value`, if any.
async fn event_where(
    state: &AppState,
    condition: &'static str,
    value: String,
) -> Result<Option<EventView>, ApiError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVENT_COLUMNS} FROM {EVENT_FROM} WHERE {condition} AND {VISIBLE}"
    )))
    .bind(value)
    .fetch_optional(state.store.pool())
    .await?)
}

/// One attendee of an occurrence.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct AttendeeView {
    /// The user.
    pub user_id: Uuid,
    /// Their DID, when known.
    pub did: Option<String>,
    /// Their handle, when known.
    pub handle: Option<String>,
    /// True for a provisional account of a Bluesky user.
    pub is_shadow_account: Option<bool>,
    /// `attending`, `interested` or `declined`.
    pub status: String,
    /// Where the answer was given: `bluesky` or `openmeet`.
    pub origin: String,
    /// When it was given.
    pub changed_at: DateTime<Utc>,
    /// The RSVP record on Bluesky, if any.
    pub rsvp_uri: Option<String>,
}

/// A page of attendees.
#[derive(Serialize, ToSchema)]
pub struct AttendeePage {
    /// The attendees, by user id.
    pub items: Vec<AttendeeView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Paging of attendees.
#[derive(Deserialize, IntoParams)]
pub struct ListAttendees {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<Uuid>,
    /// Wait until the read model has applied this global position.
    pub(crate) after: Option<u64>,
}

/// The attendees of an occurrence: one per user.
#[utoipa::path(get, path = "/api/events/{slug}/attendees", params(("slug" = String, Path), ListAttendees),
    responses((status = 200, body = AttendeePage), (status = 404, body = crate::error::ErrorBody)))]
pub async fn list_attendees(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<ListAttendees>,
) -> Result<Json<AttendeePage>, ApiError> {
    let limit = limit(query.limit)?;
    wait_for(
        &state,
        query.after,
        &[
            Projection::Occurrences,
            Projection::Attendees,
            Projection::Users,
        ],
    )
    .await?;
    let event = find_event(&state, &slug).await?;
    let items: Vec<AttendeeView> = sqlx::query_as(
        "SELECT a.user_id, u.bluesky_did AS did, u.bluesky_handle AS handle, u.is_shadow_account, a.status, a.origin, \
         a.changed_at, a.rsvp_uri \
         FROM read.attendees a LEFT JOIN read.users u ON u.id = a.user_id \
         WHERE a.occurrence_id = $1 AND a.user_id > $2 AND COALESCE(u.account_status, 'active') = 'active' \
         ORDER BY a.user_id LIMIT $3",
    )
    .bind(event.id)
    .bind(query.cursor.unwrap_or(Uuid::nil()))
    .bind(limit + 1)
    .fetch_all(state.store.pool())
    .await?;
    let (items, next_cursor) = page(items, limit, |a| a.user_id.to_string());
    Ok(Json(AttendeePage { items, next_cursor }))
}
