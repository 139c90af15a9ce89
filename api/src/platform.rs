//! `POST /api/series` and `POST /api/events`: OpenMeet's platform puts its
//! own series and standalone events in, in the shape its backend keeps them
//! (openmeet-api's `CreateEventSeriesDto` and `CreateEventDto`), so the
//! publishing direction starts from a request rather than from a test.
//! Their changes are `series_edits` and `editing`. The rules are
//! `domain::platform`; here they are loaded, called and stored.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::access::Action;
use domain::decider::Decider;
use domain::identity::{Identity, Profile, identity_stream};
use domain::occurrence::{Occurrence, OccurrenceCommand};
use domain::platform::{
    self, EventDraft, RecurrenceRule, SeriesDraft, already_created, already_scheduled,
};
use domain::publishing::{Owned, OwnerAssigned, Visibility};
use domain::series::{Series, SeriesCommand};
use domain::sharing::{Shareable, SharingCommand};
use domain::{Actor, StreamVersion};
use serde::{Deserialize, Serialize};
use store::EventStore;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::body::{JsonObject, Whole};
use crate::commands::{append_together, current, now, replay};
use crate::{ApiError, AppState};

/// When a series recurs, as openmeet-api's `RecurrenceRuleDto` says it.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecurrenceRuleDto {
    /// `DAILY`, `WEEKLY`, `MONTHLY` or `YEARLY`.
    #[schema(pattern = "^(DAILY|WEEKLY|MONTHLY|YEARLY)$")]
    frequency: String,
    /// Every how many periods (1 when absent).
    #[schema(value_type = Option<u32>, minimum = 1)]
    interval: Option<Whole<u32>>,
    /// How many occurrences in all (1 to 10,000).
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10_000)]
    count: Option<Whole<u32>>,
    /// The last day (`2027-06-30`, the end of that day where the series
    /// takes place) or instant an occurrence may start.
    until: Option<String>,
    /// Weekdays: `MO` … `SU`, with an ordinal for monthly rules (`2TU`,
    /// `-1FR`).
    byweekday: Option<Vec<String>>,
    /// Days of the month: 1 to 31, or -31 to -1 from its end.
    #[schema(value_type = Option<Vec<i32>>)]
    bymonthday: Option<Vec<Whole<i32>>>,
    /// Months, 1 to 12.
    #[schema(value_type = Option<Vec<u32>>)]
    bymonth: Option<Vec<Whole<u32>>>,
}

/// A series of OpenMeet's, as its backend creates it, with its owner.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSeries {
    /// OpenMeet's own id of the series: a retry with the same id and
    /// content finds the first series.
    #[schema(min_length = 1)]
    id: String,
    /// The DID of its owner, who must have an account here.
    #[schema(
        pattern = "^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$",
        max_length = 2048
    )]
    owner_did: String,
    /// Its name.
    name: String,
    /// Its URL name (1 to 200 of a-z, 0-9 and -); derived from the name
    /// when absent.
    #[schema(pattern = "^[a-z0-9-]{1,200}$")]
    slug: Option<String>,
    /// Its description (at most 30,000 bytes).
    description: Option<String>,
    /// The IANA zone its times are kept in; `UTC` when absent.
    time_zone: Option<String>,
    /// When it recurs.
    recurrence_rule: RecurrenceRuleDto,
    /// The first occurrence's start: an RFC 3339 instant, or a wall time
    /// (`2026-12-01T18:00:00`) in `timeZone`.
    template_start_date: String,
    /// The first occurrence's end, in the same forms.
    template_end_date: Option<String>,
    /// `in-person`, `online` or `hybrid`.
    #[schema(pattern = "^(in-person|online|hybrid)$")]
    template_type: String,
    /// Where, as free text (published as an address of unknown country,
    /// `ZZ`, named by this text).
    template_location: Option<String>,
    /// Where online: an http(s) URL.
    template_location_online: Option<String>,
    /// Who may see it: `public` (when absent), `authenticated` or
    /// `private`. Only a public series may be shared on Bluesky.
    #[schema(pattern = "^(public|authenticated|private)$")]
    visibility: Option<String>,
}

impl RecurrenceRuleDto {
    pub(crate) fn rule(self) -> RecurrenceRule {
        RecurrenceRule {
            frequency: self.frequency,
            interval: self.interval.map(|Whole(n)| n),
            count: self.count.map(|Whole(n)| n),
            until: self.until,
            byweekday: self.byweekday.unwrap_or_default(),
            bymonthday: wholes(self.bymonthday),
            bymonth: wholes(self.bymonth),
        }
    }
}

impl CreateSeries {
    fn draft(self) -> (String, SeriesDraft) {
        let draft = SeriesDraft {
            openmeet_id: self.id,
            name: self.name,
            slug: self.slug,
            description: self.description,
            time_zone: self.time_zone,
            recurrence_rule: self.recurrence_rule.rule(),
            template_start_date: self.template_start_date,
            template_end_date: self.template_end_date,
            template_type: self.template_type,
            template_location: self.template_location,
            template_location_online: self.template_location_online,
            visibility: self.visibility,
        };
        (self.owner_did, draft)
    }
}

fn wholes<T>(numbers: Option<Vec<Whole<T>>>) -> Vec<T> {
    numbers
        .unwrap_or_default()
        .into_iter()
        .map(|Whole(n)| n)
        .collect()
}

/// The series as recorded.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedSeries {
    /// Its local id (derived from OpenMeet's).
    pub series_id: Uuid,
    /// OpenMeet's id.
    pub id: String,
    /// Its URL name (`GET /api/series/{slug}`).
    pub slug: String,
    /// The global position of its creation, for `?after=` reads.
    pub position: u64,
}

/// Creates an OpenMeet series owned by `ownerDid`: by the owner's own
/// session, or an administrator's (the platform's service). 201 when
/// created; 200 with the first result when the same series was created
/// before under this id; 409 when another one was, when the slug is
/// another series', or when the owner has no account here; 400 naming the
/// field a value of which cannot be.
#[utoipa::path(post, path = "/api/series", request_body = CreateSeries,
    responses((status = 201, body = CreatedSeries), (status = 200, body = CreatedSeries, description = "created before, with the same content"),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(id = %request.id, owner = %request.owner_did))]
pub async fn create_series(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonObject(request): JsonObject<CreateSeries>,
) -> Result<(StatusCode, Json<CreatedSeries>), ApiError> {
    allowed(&caller, &request.owner_did)?;
    let (created, series) = put_series(&state, &caller.actor(), request).await?;
    Ok((status(created), Json(series)))
}

/// Whether `caller` may put events in for `owner_did`.
fn allowed(caller: &Authenticated, owner_did: &str) -> Result<(), ApiError> {
    platform::owner_did(owner_did).map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    caller.may(Action::CreateOwned { owner: owner_did })
}

fn status(created: Created) -> StatusCode {
    match created {
        Created::Now => StatusCode::CREATED,
        Created::Before => StatusCode::OK,
    }
}

/// Whether a put created what it asked for, or found it created before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// Created by this put.
    Now,
    /// Created before, with the same content.
    Before,
}

/// Puts an OpenMeet series in as `actor`, whoever asks (the route, after
/// authorizing its caller; `import-openmeet`, for the operator).
pub async fn put_series(
    state: &AppState,
    actor: &Actor,
    request: CreateSeries,
) -> Result<(Created, CreatedSeries), ApiError> {
    let (owner_did, draft) = request.draft();
    let owner = owner(state, &owner_did).await?;
    let command = platform::create_series(&draft, now())
        .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let visibility = platform::visibility(draft.visibility.as_deref())
        .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let SeriesCommand::Create {
        series_id, slug, ..
    } = &command
    else {
        return Err(ApiError::Internal(
            "a creation became another command".into(),
        ));
    };
    slug_is_free(state, slug, series_id.0).await?;
    let (created, position) = put_in::<Series>(
        state,
        actor,
        &command,
        Owned::Series(*series_id),
        &owner,
        visibility,
        already_created,
    )
    .await?;
    tracing::info!(slug, ?created, "OpenMeet series put in");
    Ok((
        created,
        CreatedSeries {
            series_id: series_id.0,
            id: draft.openmeet_id,
            slug: slug.clone(),
            position,
        },
    ))
}

/// A standalone event of OpenMeet's, as its backend creates it
/// (openmeet-api's `CreateEventDto`), with its owner.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateEvent {
    /// OpenMeet's own id of the event: a retry with the same id and content
    /// finds the first event.
    #[schema(min_length = 1)]
    id: String,
    /// The DID of its owner, who must have an account here.
    #[schema(
        pattern = "^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$",
        max_length = 2048
    )]
    owner_did: String,
    /// Its name.
    name: String,
    /// Its description (at most 30,000 bytes).
    description: Option<String>,
    /// The IANA zone its times are kept in; `UTC` when absent.
    time_zone: Option<String>,
    /// Its start: an RFC 3339 instant, or a wall time in `timeZone`.
    start_date: String,
    /// Its end, in the same forms.
    end_date: Option<String>,
    /// `in-person`, `online` or `hybrid`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(in-person|online|hybrid)$")]
    kind: String,
    /// Where, as free text (the name of its coordinates when `lat` and
    /// `lon` are given, else an address of unknown country, `ZZ`).
    location: Option<String>,
    /// Where online: an http(s) URL.
    location_online: Option<String>,
    /// Degrees north, -90 to 90, with `lon`.
    #[schema(minimum = -90, maximum = 90)]
    lat: Option<f64>,
    /// Degrees east, -180 to 180, with `lat`.
    #[schema(minimum = -180, maximum = 180)]
    lon: Option<f64>,
    /// `draft`, `pending`, `published` or `cancelled`.
    #[schema(pattern = "^(draft|pending|published|cancelled)$")]
    status: Option<String>,
    /// Who may see it: `public` (when absent), `authenticated` or
    /// `private`. Only a public event may be shared on Bluesky.
    #[schema(pattern = "^(public|authenticated|private)$")]
    visibility: Option<String>,
}

/// The event as recorded.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedEvent {
    /// Its local id (derived from OpenMeet's).
    pub occurrence_id: Uuid,
    /// OpenMeet's id.
    pub id: String,
    /// Its URL name (`GET /api/events/{slug}`, once projected).
    pub slug: String,
    /// The global position of its creation, for `?after=` reads.
    pub position: u64,
}

/// Creates a standalone OpenMeet event owned by `ownerDid`, as
/// `POST /api/series` creates a series: 201, or 200 for a retry, 409 for
/// other content under the id or an owner without an account, 400 naming
/// the field.
#[utoipa::path(post, path = "/api/events", request_body = CreateEvent,
    responses((status = 201, body = CreatedEvent), (status = 200, body = CreatedEvent, description = "created before, with the same content"),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(id = %request.id, owner = %request.owner_did))]
pub async fn create_event(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonObject(request): JsonObject<CreateEvent>,
) -> Result<(StatusCode, Json<CreatedEvent>), ApiError> {
    allowed(&caller, &request.owner_did)?;
    let (created, event) = put_event(&state, &caller.actor(), request).await?;
    Ok((status(created), Json(event)))
}

/// Puts a standalone OpenMeet event in as `actor`, as [`put_series`] does
/// a series.
pub async fn put_event(
    state: &AppState,
    actor: &Actor,
    request: CreateEvent,
) -> Result<(Created, CreatedEvent), ApiError> {
    let draft = EventDraft {
        openmeet_id: request.id,
        name: request.name,
        description: request.description,
        time_zone: request.time_zone,
        start_date: request.start_date,
        end_date: request.end_date,
        kind: request.kind,
        location: request.location,
        location_online: request.location_online,
        lat: request.lat,
        lon: request.lon,
        status: request.status,
        visibility: request.visibility,
    };
    let owner = owner(state, &request.owner_did).await?;
    let command = platform::schedule_event(&draft, now())
        .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let visibility = platform::visibility(draft.visibility.as_deref())
        .map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    let OccurrenceCommand::Schedule {
        occurrence_id,
        details,
        ..
    } = &command
    else {
        return Err(ApiError::Internal(
            "a scheduling became another command".into(),
        ));
    };
    let (created, position) = put_in::<Occurrence>(
        state,
        actor,
        &command,
        Owned::Occurrence(*occurrence_id),
        &owner,
        visibility,
        already_scheduled,
    )
    .await?;
    Ok((
        created,
        CreatedEvent {
            occurrence_id: occurrence_id.0,
            id: draft.openmeet_id,
            slug: domain::slug::slug(&details.name, occurrence_id.0),
            position,
        },
    ))
}

/// The account of `owner_did`.
async fn owner(state: &AppState, owner_did: &str) -> Result<Profile, ApiError> {
    platform::owner_did(owner_did).map_err(|refused| ApiError::BadRequest(refused.to_string()))?;
    match replay::<Identity>(&state.store, &identity_stream(owner_did)).await? {
        Identity::Registered(profile) => Ok(profile),
        _ => Err(ApiError::Conflict(format!(
            "ownerDid: {owner_did} has no account here; it logs in to OpenMeet first"
        ))),
    }
}

/// Records what `command` creates in `owned`'s stream, with its owner and
/// who may see it, and the position of the creation; the first creation's
/// position when `already` says this is it again; 409 when the stream
/// holds another.
async fn put_in<D: Decider + PartialEq>(
    state: &AppState,
    actor: &Actor,
    command: &D::Command,
    owned: Owned,
    owner: &Profile,
    visibility: Visibility,
    already: fn(&D, &D::Command) -> bool,
) -> Result<(Created, u64), ApiError>
where
    D::Error: std::fmt::Display,
{
    let stream = owned.stream();
    let (state_now, expected) = current::<D>(&state.store, &stream).await?;
    if already(&state_now, command)
        && replay::<Shareable>(&state.store, &stream).await?.visibility == visibility
    {
        return Ok((Created::Before, created_at(state, &stream).await?));
    }
    if state_now != D::default() {
        return Err(ApiError::Conflict(format!(
            "id: {stream} was created here before with other content"
        )));
    }
    let mut events = state_now
        .decide(command, now())
        .map_err(|err| ApiError::BadRequest(err.to_string()))?;
    events.push(
        OwnerAssigned {
            target: owned,
            owner: owner.user_id,
            did: owner.did.clone(),
        }
        .into(),
    );
    let seen_by = SharingCommand::SetVisibility {
        target: owned,
        visibility,
    };
    events.extend(
        Shareable::default()
            .decide(&seen_by, now())
            .map_err(|err| ApiError::BadRequest(err.to_string()))?,
    );
    let position = append_together(&state.store, vec![(stream, expected, events)], actor).await?;
    Ok((Created::Now, position))
}

/// The global position a creation of `stream` answered with: its last
/// event, the owner's assignment.
async fn created_at(state: &AppState, stream: &domain::StreamId) -> Result<u64, ApiError> {
    let created = state
        .store
        .read_stream(stream, StreamVersion(0), 2)
        .await
        .map_err(|err| ApiError::Unavailable(format!("the event store: {err}")))?;
    created
        .iter()
        .find(|event| event.payload.event_type == "OwnerAssigned")
        .map(|event| event.global_position.0)
        .ok_or_else(|| ApiError::Internal(format!("{stream} was created without an owner")))
}

/// Refuses a slug another series holds (read from the read model: a
/// creation racing another with the same slug is not caught here).
async fn slug_is_free(state: &AppState, slug: &str, series: Uuid) -> Result<(), ApiError> {
    let taken: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM read.series WHERE slug = $1 AND id <> $2")
            .bind(slug)
            .bind(series)
            .fetch_optional(state.store.pool())
            .await?;
    match taken {
        Some(other) => Err(ApiError::Conflict(format!(
            "slug: {slug:?} is series {other}'s"
        ))),
        None => Ok(()),
    }
}
