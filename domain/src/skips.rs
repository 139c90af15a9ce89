//! Skips: an operator's recorded decision that one read model passes over
//! one event of the log, when the event stops that read model and no fix
//! of the code can make it apply. Recorded as events, so every rebuild and
//! every runner skips the same positions and nothing else.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalogue::DomainEvent;
use crate::decider::Decider;
use crate::envelope::{GlobalPosition, RecordedEvent, StreamId};
use crate::text::{self, UnstorableText};
use crate::time::Timestamp;

/// The stream that holds every skip.
pub fn skips_stream() -> StreamId {
    StreamId::new("projection", "skips")
}

/// A read model passes over the event at `position`. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectionEventSkipped {
    /// The read model (`occurrences`, `users`, ...).
    pub projection: String,
    /// The global position of the event it passes over.
    pub position: u64,
    /// That event's type, as the operator saw it.
    pub event_type: String,
    /// Why, in the operator's words.
    pub reason: String,
}

/// Asks that `projection` pass over the event at `position`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkipEvent {
    /// The read model.
    pub projection: String,
    /// The event's position.
    pub position: u64,
    /// The event's type.
    pub event_type: String,
    /// Why.
    pub reason: String,
}

/// Why a skip was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SkipError {
    /// A skip is an audited decision: it says why.
    #[error("a skip needs a reason")]
    NoReason,
    /// The reason cannot be stored.
    #[error(transparent)]
    Unstorable(#[from] UnstorableText),
}

/// A recorded skip that does not decode.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("the skip record at position {position} does not decode: {reason}")]
pub struct UnreadableSkip {
    /// Its position.
    pub position: GlobalPosition,
    /// What the decoder said.
    pub reason: String,
}

/// Every position each read model passes over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectionSkips {
    skipped: BTreeMap<String, BTreeSet<u64>>,
}

impl ProjectionSkips {
    /// Whether `projection` passes over the event at `position`.
    pub fn is_skipped(&self, projection: &str, position: u64) -> bool {
        self.skipped
            .get(projection)
            .is_some_and(|positions| positions.contains(&position))
    }

    /// The skips that the skips stream's `recorded` events hold. One that
    /// does not decode is refused rather than passed over: what it skips
    /// cannot be known, and guessing "nothing" would make a follower stop
    /// on, or apply, an event an operator chose to pass over.
    pub fn from_recorded(recorded: &[RecordedEvent]) -> Result<Self, UnreadableSkip> {
        let events = recorded
            .iter()
            .map(|event| {
                DomainEvent::decode(&event.payload).map_err(|err| UnreadableSkip {
                    position: event.global_position,
                    reason: err.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::replay(&events))
    }

    /// How many positions `projection` passes over.
    pub fn count(&self, projection: &str) -> usize {
        self.skipped.get(projection).map_or(0, BTreeSet::len)
    }
}

impl Decider for ProjectionSkips {
    type Command = SkipEvent;
    type Error = SkipError;

    fn decide(&self, command: &SkipEvent, _at: Timestamp) -> Result<Vec<DomainEvent>, SkipError> {
        if command.reason.trim().is_empty() {
            return Err(SkipError::NoReason);
        }
        text::check("reason", &command.reason)?;
        if self.is_skipped(&command.projection, command.position) {
            return Ok(vec![]);
        }
        Ok(vec![
            ProjectionEventSkipped {
                projection: command.projection.clone(),
                position: command.position,
                event_type: command.event_type.clone(),
                reason: command.reason.clone(),
            }
            .into(),
        ])
    }

    fn evolve(mut self, event: &DomainEvent) -> Self {
        if let DomainEvent::ProjectionEventSkipped(skipped) = event {
            self.skipped
                .entry(skipped.projection.clone())
                .or_default()
                .insert(skipped.position);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Actor, EncodedPayload, EventId, EventMetadata, Origin, StreamVersion};

    fn recorded(position: u64, payload: EncodedPayload) -> RecordedEvent {
        RecordedEvent {
            stream_id: skips_stream(),
            stream_version: StreamVersion(position),
            global_position: GlobalPosition(position),
            recorded_at: Timestamp::from_unix_micros(0),
            metadata: EventMetadata {
                event_id: EventId(uuid::Uuid::nil()),
                causation_id: None,
                correlation_id: None,
                origin: Origin::OpenMeet,
                actor: Actor::system("operator"),
            },
            payload,
        }
    }

    #[test]
    fn skips_are_read_from_their_records_and_one_that_does_not_decode_is_refused() {
        let at = Timestamp::from_unix_micros(0);
        let events = ProjectionSkips::default()
            .decide(&skip(42, "a NUL in a record of 2026"), at)
            .unwrap();
        let good = recorded(3, events[0].encode());
        let skips = ProjectionSkips::from_recorded(std::slice::from_ref(&good)).unwrap();
        assert!(skips.is_skipped("occurrences", 42));

        let mut garbled = events[0].encode();
        garbled.bytes.truncate(2);
        let refused = ProjectionSkips::from_recorded(&[good, recorded(9, garbled)]).unwrap_err();
        assert_eq!(refused.position, GlobalPosition(9));
        assert!(
            refused
                .to_string()
                .starts_with("the skip record at position 9 does not decode"),
            "{refused}"
        );
    }

    fn skip(position: u64, reason: &str) -> SkipEvent {
        SkipEvent {
            projection: "occurrences".into(),
            position,
            event_type: "EventImported".into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn a_skip_is_recorded_once_and_names_its_projection_and_position() {
        let at = Timestamp::from_unix_micros(0);
        let events = ProjectionSkips::default()
            .decide(&skip(42, "a NUL in a record of 2026"), at)
            .unwrap();
        let skips = ProjectionSkips::replay(&events);
        assert!(skips.is_skipped("occurrences", 42));
        assert!(!skips.is_skipped("users", 42));
        assert!(!skips.is_skipped("occurrences", 43));
        assert_eq!(skips.decide(&skip(42, "again"), at), Ok(vec![]));
        assert_eq!(skips.count("occurrences"), 1);
    }

    #[test]
    fn a_skip_without_a_reason_is_refused() {
        let at = Timestamp::from_unix_micros(0);
        assert_eq!(
            ProjectionSkips::default().decide(&skip(1, "  "), at),
            Err(SkipError::NoReason)
        );
    }
}
