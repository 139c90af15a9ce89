//! OpenMeet intent into events: replay an aggregate's stream, decide, and
//! append expecting the version decided against, deciding again when a
//! concurrent writer got there first.

use domain::decider::Decider;
use domain::{
    Actor, CorrelationId, DomainEvent, EventId, EventMetadata, NewEvent, Origin, RecordedEvent,
    StreamId, Timestamp,
};
use store::{AppendError, EventStore, ExpectedVersion, PgEventStore};
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
        let expected = history.last().map_or(ExpectedVersion::NoStream, |last| {
            ExpectedVersion::Exact(last.stream_version)
        });
        let new_events = events
            .iter()
            .map(|event| NewEvent {
                metadata: EventMetadata {
                    event_id: EventId(Uuid::new_v4()),
                    causation_id: None,
                    correlation_id: Some(correlation),
                    origin: Origin::OpenMeet,
                    actor: actor.clone(),
                },
                payload: event.encode(),
            })
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
