//! OpenMeet intent into events, through `store::decide`: replay an
//! aggregate's stream, decide, append expecting the version decided
//! against. Here the store's failures become API errors and every event
//! gets the request's actor and correlation.

use domain::decider::Decider;
use domain::{
    Actor, CorrelationId, DomainEvent, EventId, EventMetadata, NewEvent, Origin, StreamId,
    Timestamp,
};
use store::decide::{DecideError, Decided, decide_and_append};
use store::{AppendError, EventStore, ExpectedVersion, PgEventStore, StreamAppend};
use uuid::Uuid;

use crate::ApiError;

/// Carries out `command` on the aggregate in `stream`, as `actor`;
/// `refused` says what a refusal of the decider means to the caller.
pub(crate) async fn execute<D, F>(
    store: &PgEventStore,
    stream: &StreamId,
    command: &D::Command,
    actor: &Actor,
    refused: F,
) -> Result<Decided<D>, ApiError>
where
    D: Decider,
    F: Fn(D::Error) -> ApiError,
{
    let correlation = CorrelationId(Uuid::new_v4());
    decide_and_append::<D, _>(store, stream, command, now(), |_| {
        metadata(correlation, actor)
    })
    .await
    .map_err(|err| api_error(err, refused))
}

/// The events `commands` record, one after another, from `state`; a
/// refusal is `refused`.
pub(crate) fn decide_all<D>(
    state: &D,
    commands: &[D::Command],
    refused: fn(String) -> ApiError,
) -> Result<Vec<DomainEvent>, ApiError>
where
    D: Decider + Clone,
    D::Error: std::fmt::Display,
{
    let (mut folded, mut events) = (state.clone(), Vec::new());
    for command in commands {
        let decided = folded
            .decide(command, now())
            .map_err(|err| refused(err.to_string()))?;
        folded = decided
            .iter()
            .fold(folded, |state, event| state.evolve(event));
        events.extend(decided);
    }
    Ok(events)
}

/// The state of the aggregate in `stream` and the version to expect when
/// appending what is decided from it.
pub(crate) async fn current<D: Decider>(
    store: &PgEventStore,
    stream: &StreamId,
) -> Result<(D, ExpectedVersion), ApiError> {
    store::decide::current::<D, _>(store, stream)
        .await
        .map_err(|err| {
            api_error(err, |_| {
                ApiError::Internal(format!("replaying {stream} refused"))
            })
        })
}

/// The state of the aggregate in `stream`.
pub(crate) async fn replay<D: Decider>(
    store: &PgEventStore,
    stream: &StreamId,
) -> Result<D, ApiError> {
    Ok(current::<D>(store, stream).await?.0)
}

fn api_error<E>(err: DecideError<E>, refused: impl Fn(E) -> ApiError) -> ApiError {
    match err {
        DecideError::Refused(reason) => refused(reason),
        DecideError::Contended(stream) => ApiError::Unavailable(format!(
            "{stream} kept changing while this request was decided; try again"
        )),
        DecideError::Read(err) => ApiError::Unavailable(format!("the event store: {err}")),
        DecideError::Undecodable { stream, reason } => ApiError::Internal(format!(
            "{stream} holds an event this build cannot read: {reason}"
        )),
        DecideError::Append { stream, source } => {
            ApiError::Internal(format!("appending to {stream}: {source}"))
        }
    }
}

/// Appends decisions on several aggregates as one operation, all or none;
/// returns the global position of the last event.
pub(crate) async fn append_together(
    store: &PgEventStore,
    parts: Vec<(StreamId, ExpectedVersion, Vec<DomainEvent>)>,
    actor: &Actor,
) -> Result<u64, ApiError> {
    let correlation = CorrelationId(Uuid::new_v4());
    let parts = parts
        .into_iter()
        .map(|(stream, expected, events)| StreamAppend {
            stream,
            expected,
            events: events
                .iter()
                .map(|event| NewEvent {
                    metadata: metadata(correlation, actor),
                    payload: event.encode(),
                })
                .collect(),
        })
        .collect();
    match store.append_many(parts).await {
        Ok(appended) => Ok(appended
            .iter()
            .map(|a| a.last_position.0)
            .max()
            .unwrap_or(0)),
        Err(AppendError::WrongExpectedVersion { stream, .. }) => Err(ApiError::Conflict(format!(
            "{stream} changed while this request was decided; try again"
        ))),
        Err(err) => Err(ApiError::Internal(format!("appending: {err}"))),
    }
}

fn metadata(correlation: CorrelationId, actor: &Actor) -> EventMetadata {
    EventMetadata {
        event_id: EventId(Uuid::new_v4()),
        causation_id: None,
        correlation_id: Some(correlation),
        origin: Origin::OpenMeet,
        actor: actor.clone(),
    }
}

/// The API's clock: the one place a command's time is read.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_unix_micros(chrono::Utc::now().timestamp_micros())
}
