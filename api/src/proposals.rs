//! `/api/series-proposals`: the series detection proposes, for their
//! organizer to accept (one click: the series is created with the rule and
//! the member events become its occurrences, keeping their external refs
//! and RSVPs), adjust then accept, or reject.

use axum::Json;
use axum::extract::{Path, Query, State};
use domain::DomainEvent;
use domain::access::Action;
use domain::decider::Decider;
use domain::occurrence::{Occurrence, OccurrenceId};
use domain::series::{Series, SeriesCommand, SeriesId};
use domain::series_detection::review::{ProposalReview, ReviewCommand, ReviewError, series_of};
use domain::series_detection::{ProposalId, SeriesProposed};
use projections::Projection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::body::JsonObject;
use crate::commands::{append_together, current, execute, now, replay};
use crate::consistency::wait_for;
use crate::{ApiError, AppState};

/// One proposal, at its latest version.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct ProposalView {
    /// The proposal.
    pub id: Uuid,
    /// Its latest version.
    pub version: i32,
    /// The organizer's DID.
    pub organizer: String,
    /// The member events' AT-URIs, by start.
    #[schema(value_type = Vec<String>)]
    pub uris: serde_json::Value,
    /// `DTSTART;TZID=…`, `RRULE:…`, and `EXDATE`/`RDATE` when needed.
    pub rrule: String,
    /// From 0 to 1.
    pub confidence: f64,
    /// Why: the shared name, name similarity, pattern, timing, location and
    /// description similarity, skipped dates and moved members, the zone
    /// the rule repeats in (`zone`), what it rests on (`zone_source`:
    /// `record`, `offset`, `location`, `times`, `unknown`; null for
    /// proposals recorded before it was kept) and the evidence `ignored`.
    #[schema(value_type = Object)]
    pub explanation: serde_json::Value,
    /// `proposed`, `accepted` or `rejected`.
    pub status: String,
    /// The series made from it, once accepted.
    pub series_id: Option<Uuid>,
}

/// Filters of `GET /api/series-proposals`.
#[derive(Deserialize, IntoParams)]
pub struct ListProposals {
    /// Only this organizer's (administrators); a user always sees their own.
    organizer: Option<String>,
    /// Only `proposed`, `accepted` or `rejected` ones.
    status: Option<String>,
    /// Wait until the read model has applied this global position.
    after: Option<u64>,
}

/// The caller's proposals, or every organizer's for administrators, most
/// confident first.
#[utoipa::path(get, path = "/api/series-proposals", params(ListProposals),
    responses((status = 200, body = Vec<ProposalView>), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)))]
pub async fn list_proposals(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<ListProposals>,
) -> Result<Json<Vec<ProposalView>>, ApiError> {
    let organizer = match query.organizer {
        Some(organizer) if organizer == caller.caller.did => Some(organizer),
        Some(organizer) => {
            caller.may(Action::ListAllProposals)?;
            Some(organizer)
        }
        None if caller.may(Action::ListAllProposals).is_ok() => None,
        None => {
            caller.may(Action::ReviewProposal {
                organizer: &caller.caller.did,
            })?;
            Some(caller.caller.did.clone())
        }
    };
    wait_for(&state, query.after, &[Projection::SeriesProposals]).await?;
    let rows: Vec<ProposalView> = sqlx::query_as(
        "SELECT id, version, organizer, uris, rrule, confidence, explanation, status, series_id \
         FROM read.series_proposals \
         WHERE ($1::text IS NULL OR organizer = $1) AND ($2::text IS NULL OR status = $2) \
         ORDER BY confidence DESC, id LIMIT 500",
    )
    .bind(organizer)
    .bind(query.status)
    .fetch_all(state.store.pool())
    .await?;
    Ok(Json(rows))
}

/// How a proposal was adjusted before it was accepted.
#[derive(Deserialize, Serialize, ToSchema, Default)]
pub struct Adjustment {
    /// The rule to use instead (iCalendar lines: `DTSTART;TZID=…:…`,
    /// `RRULE:…`, optional `EXDATE`/`RDATE`).
    pub rrule: Option<String>,
    /// Events of the organizer to add, by AT-URI.
    #[serde(default)]
    pub add: Vec<String>,
    /// Members to leave out, by AT-URI.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// What an answer recorded.
#[derive(Serialize, ToSchema)]
pub struct AnswerView {
    /// `accepted` or `rejected`.
    pub status: &'static str,
    /// The series created, when accepted.
    pub series_id: Option<Uuid>,
    /// Its URL name, when accepted.
    pub series_slug: Option<String>,
    /// The global position of the last event recorded, for `?after=` reads.
    pub position: Option<u64>,
}

fn refused(err: ReviewError) -> ApiError {
    match err {
        ReviewError::Unknown => ApiError::NotFound("no such proposal".into()),
        ReviewError::AlreadyAccepted(_) => ApiError::Conflict(err.to_string()),
        ReviewError::TooFewMembers(_)
        | ReviewError::NotTheOrganizers { .. }
        | ReviewError::Rule(_)
        | ReviewError::NotImported(_) => ApiError::BadRequest(err.to_string()),
    }
}

/// The proposal, and whether the caller may answer it.
async fn reviewable(
    state: &AppState,
    caller: &Authenticated,
    id: Uuid,
) -> Result<(ProposalReview, store::ExpectedVersion, SeriesProposed), ApiError> {
    let stream = ProposalId(id).stream();
    let (review, expected): (ProposalReview, _) = current(&state.store, &stream).await?;
    let proposal = match &review {
        ProposalReview::Unknown => return Err(ApiError::NotFound(format!("no proposal {id}"))),
        ProposalReview::Accepted { series_id } => {
            return Err(ApiError::Conflict(format!(
                "proposal {id} was accepted already: series {series_id}"
            )));
        }
        ProposalReview::Open(proposal) | ProposalReview::Rejected(proposal) => proposal.clone(),
    };
    caller.may(Action::ReviewProposal {
        organizer: &proposal.organizer,
    })?;
    Ok((review, expected, proposal))
}

/// Creates the series from the proposal as it stands.
#[utoipa::path(post, path = "/api/series-proposals/{id}/accept", params(("id" = Uuid, Path)),
    responses((status = 200, body = AnswerView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    caller: Authenticated,
) -> Result<Json<AnswerView>, ApiError> {
    let (review, expected, _) = reviewable(&state, &caller, id).await?;
    let series_id = SeriesId(Uuid::new_v4());
    create_series(
        &state,
        &caller,
        id,
        review,
        expected,
        ReviewCommand::Accept { series_id },
    )
    .await
}

/// Changes the members or the rule, then creates the series.
#[utoipa::path(post, path = "/api/series-proposals/{id}/adjust", params(("id" = Uuid, Path)),
    request_body = Adjustment,
    responses((status = 200, body = AnswerView), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn adjust(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    caller: Authenticated,
    JsonObject(adjustment): JsonObject<Adjustment>,
) -> Result<Json<AnswerView>, ApiError> {
    let (review, expected, proposal) = reviewable(&state, &caller, id).await?;
    let mut uris: Vec<String> = proposal
        .uris
        .iter()
        .filter(|uri| !adjustment.remove.contains(uri))
        .cloned()
        .collect();
    uris.extend(
        adjustment
            .add
            .iter()
            .filter(|uri| !proposal.uris.contains(uri))
            .cloned(),
    );
    let command = ReviewCommand::Adjust {
        series_id: SeriesId(Uuid::new_v4()),
        uris,
        rrule: adjustment.rrule.unwrap_or(proposal.rrule),
    };
    create_series(&state, &caller, id, review, expected, command).await
}

/// Never proposes this group again, unless new events join it.
#[utoipa::path(post, path = "/api/series-proposals/{id}/reject", params(("id" = Uuid, Path)),
    responses((status = 200, body = AnswerView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
pub async fn reject(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    caller: Authenticated,
) -> Result<Json<AnswerView>, ApiError> {
    reviewable(&state, &caller, id).await?;
    let recorded = execute::<ProposalReview, _>(
        &state.store,
        &ProposalId(id).stream(),
        &ReviewCommand::Reject,
        &caller.actor(),
        refused,
    )
    .await?;
    Ok(Json(AnswerView {
        status: "rejected",
        series_id: None,
        series_slug: None,
        position: recorded.position,
    }))
}

async fn create_series(
    state: &AppState,
    caller: &Authenticated,
    id: Uuid,
    review: ProposalReview,
    expected: store::ExpectedVersion,
    command: ReviewCommand,
) -> Result<Json<AnswerView>, ApiError> {
    let answers = review.decide(&command, now()).map_err(refused)?;
    let Some(DomainEvent::SeriesProposalAccepted(accepted)) = answers.last() else {
        return Err(ApiError::Internal(format!(
            "proposal {id}: accepting it recorded no acceptance"
        )));
    };
    let mut members = Vec::with_capacity(accepted.uris.len());
    for uri in &accepted.uris {
        let occurrence: Occurrence =
            replay(&state.store, &OccurrenceId::for_record(uri).stream()).await?;
        members.push((uri.clone(), occurrence));
    }
    let command = series_of(accepted, &review, &members).map_err(refused)?;
    let created = Series::Absent
        .decide(&command, now())
        .map_err(|err| ApiError::BadRequest(err.to_string()))?;
    let SeriesCommand::Create { slug, .. } = command else {
        return Err(ApiError::Internal(format!(
            "proposal {id}: its series became another command"
        )));
    };
    let series_id = accepted.series_id;
    let position = append_together(
        &state.store,
        vec![
            (ProposalId(id).stream(), expected, answers),
            (
                series_id.stream(),
                store::ExpectedVersion::NoStream,
                created,
            ),
        ],
        &caller.actor(),
    )
    .await?;
    tracing::info!(proposal = %id, series = %series_id, members = members.len(), "series created from a proposal");
    Ok(Json(AnswerView {
        status: "accepted",
        series_id: Some(series_id.0),
        series_slug: Some(slug),
        position: Some(position),
    }))
}
