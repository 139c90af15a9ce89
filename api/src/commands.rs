//! OpenMeet intent into events: replay an aggregate's stream, decide, and
//! append expecting the version decided against, deciding again when a
//! concurrent writer got there first.

use domain::decider::Decider;
use domain::{
    Actor, CorrelationId, DomainEvent, EventId, EventMetadata, NewEvent, Origin, RecordedEvent,
    StreamId, Timestamp,
};
use store::{AppendError, EventStore, ExpectedVersion, PgEventStore, StreamAppend};
use uuid::Uuid;

use crate::ApiError;

/// How often a command is decided again after losing a race.
const RACES: usize = 5;

/// What a command recorded.
pub(crate) struct Recorded<D> {
    /// The aggregate after it.
    pub state: D,
    /// The events, in order (none when the command changed nothing).
    pub events: Vec<DomainEvent>,
    /// The global position of the last one, for `?after=` reads.
    pub position: Option<u64>,
}

/// Carries out `command` on the aggregate in `stream`, as `actor`.
pub(crate) async fn execute<D, F>(
    store: &PgEventStore,
    stream: &StreamId,
    command: &D::Command,
    actor: &Actor,
    refused: F,
) -> Result<Recorded<D>, ApiError>
where
    D: Decider,
    F: Fn(D::Error) -> ApiError,
{
    let correlation = CorrelationId(Uuid::new_v4());
    for _ in 0..RACES {
        let (history, state) = history::<D>(store, stream).await?;
        let events = state.decide(command, now()).map_err(&refused)?;
        if events.is_empty() {
            return Ok(Recorded {
                state,
                events,
                position: None,
            });
        }
        let expected = expected_after(&history);
        let new_events = events
            .iter()
            .map(|event| new_event(event, correlation, actor))
            .collect();
        match store.append(stream, expected, new_events).await {
            Ok(appended) => {
                let state = events
                    .iter()
                    .fold(state, |state, event| state.evolve(event));
                return Ok(Recorded {
                    state,
                    events,
                    position: Some(appended.last_position.0),
                });
            }
            Err(AppendError::WrongExpectedVersion { .. }) => continue,
            Err(err) => return Err(ApiError::Internal(format!("appending to {stream}: {err}"))),
        }
    }
    Err(ApiError::Unavailable(format!(
        "{stream} kept changing while this request was decided; try again"
    )))
}

/// The state of the aggregate in `stream` and the version to expect when
/// appending what is decided from it.
pub(crate) async fn current<D: Decider>(
    store: &PgEventStore,
    stream: &StreamId,
) -> Result<(D, ExpectedVersion), ApiError> {
    let (history, state) = history::<D>(store, stream).await?;
    Ok((state, expected_after(&history)))
}

fn expected_after(history: &[RecordedEvent]) -> ExpectedVersion {
    history.last().map_or(ExpectedVersion::NoStream, |last| {
        ExpectedVersion::Exact(last.stream_version)
    })
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
                .map(|event| new_event(event, correlation, actor))
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

fn new_event(event: &DomainEvent, correlation: CorrelationId, actor: &Actor) -> NewEvent {
    NewEvent {
        metadata: EventMetadata {
            event_id: EventId(Uuid::new_v4()),
            causation_id: None,
            correlation_id: Some(correlation),
            origin: Origin::OpenMeet,
            actor: actor.clone(),
        },
        payload: event.encode(),
    }
}

/// The state of the aggregate in `stream`.
pub(crate) async fn replay<D: Decider>(
    store: &PgEventStore,
    stream: &StreamId,
) -> Result<D, ApiError> {
    Ok(history::<D>(store, stream).await?.1)
}

async fn history<D: Decider>(
    store: &PgEventStore,
    stream: &StreamId,
) -> Result<(Vec<RecordedEvent>, D), ApiError> {
    let history = store
        .read_streams(std::slice::from_ref(stream))
        .await
        .map_err(unavailable)?;
    let mut decoded = Vec::with_capacity(history.len());
    for recorded in &history {
        decoded.push(DomainEvent::decode(&recorded.payload).map_err(|err| {
            ApiError::Internal(format!(
                "{stream} holds an event this build cannot read: {err}"
            ))
        })?);
    }
    let state = D::replay(&decoded);
    Ok((history, state))
}

/// The API's clock: the one place a command's time is read.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_unix_micros(chrono::Utc::now().timestamp_micros())
}

fn unavailable(err: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("the event store: {err}"))
}
