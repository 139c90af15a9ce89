//! The shell around a decider: replay its stream, decide, append expecting
//! the version decided against, and decide again when a concurrent writer
//! got there first. The API's commands and the publisher's identity
//! records go through here.

use domain::decider::Decider;
use domain::{DomainEvent, EventMetadata, NewEvent, RecordedEvent, StreamId, Timestamp};
use thiserror::Error;

use crate::port::{AppendError, EventStore, ExpectedVersion, StoreError};

/// How often a command is decided again after losing a race.
const RACES: usize = 5;

/// Why a command was not carried out.
#[derive(Debug, Error)]
pub enum DecideError<E> {
    /// The decider refused it.
    #[error("refused: {0}")]
    Refused(E),
    /// The stream holds an event this build cannot read.
    #[error("{stream} holds an event this build cannot read: {reason}")]
    Undecodable {
        /// The stream.
        stream: StreamId,
        /// What the decoder said.
        reason: String,
    },
    /// The stream kept changing while the command was decided.
    #[error("{0} kept changing while the command was decided")]
    Contended(StreamId),
    /// Reading the stream failed.
    #[error(transparent)]
    Read(#[from] StoreError),
    /// Appending failed for another reason than a race.
    #[error("appending to {stream}: {source}")]
    Append {
        /// The stream.
        stream: StreamId,
        /// What the store said.
        #[source]
        source: AppendError,
    },
}

/// What a command recorded.
#[derive(Debug)]
pub struct Decided<D> {
    /// The aggregate after it.
    pub state: D,
    /// The events, in order (none when the command changed nothing).
    pub events: Vec<DomainEvent>,
    /// The global position of the last one.
    pub position: Option<u64>,
}

/// The aggregate in `stream`, and the version to expect when appending what
/// is decided from it.
pub async fn current<D: Decider, S: EventStore>(
    store: &S,
    stream: &StreamId,
) -> Result<(D, ExpectedVersion), DecideError<D::Error>> {
    let history = store.read_streams(std::slice::from_ref(stream)).await?;
    let mut decoded = Vec::with_capacity(history.len());
    for recorded in &history {
        decoded.push(DomainEvent::decode(&recorded.payload).map_err(|err| {
            DecideError::Undecodable {
                stream: stream.clone(),
                reason: err.to_string(),
            }
        })?);
    }
    Ok((D::replay(&decoded), expected_after(&history)))
}

/// The version a writer expects after `history`.
fn expected_after(history: &[RecordedEvent]) -> ExpectedVersion {
    history.last().map_or(ExpectedVersion::NoStream, |last| {
        ExpectedVersion::Exact(last.stream_version)
    })
}

/// Carries out `command` on the aggregate in `stream` at `at`; the `n`-th
/// event recorded gets `metadata(n)`.
pub async fn decide_and_append<D: Decider, S: EventStore>(
    store: &S,
    stream: &StreamId,
    command: &D::Command,
    at: Timestamp,
    metadata: impl Fn(usize) -> EventMetadata,
) -> Result<Decided<D>, DecideError<D::Error>> {
    for _ in 0..RACES {
        let (state, expected) = current::<D, S>(store, stream).await?;
        let events = state.decide(command, at).map_err(DecideError::Refused)?;
        if events.is_empty() {
            return Ok(Decided {
                state,
                events,
                position: None,
            });
        }
        let new_events = events
            .iter()
            .enumerate()
            .map(|(n, event)| NewEvent {
                metadata: metadata(n),
                payload: event.encode(),
            })
            .collect();
        match store.append(stream, expected, new_events).await {
            Ok(appended) => {
                let state = events
                    .iter()
                    .fold(state, |state, event| state.evolve(event));
                return Ok(Decided {
                    state,
                    events,
                    position: Some(appended.last_position.0),
                });
            }
            Err(AppendError::WrongExpectedVersion { .. }) => continue,
            Err(source) => {
                return Err(DecideError::Append {
                    stream: stream.clone(),
                    source,
                });
            }
        }
    }
    Err(DecideError::Contended(stream.clone()))
}
