//! The pure domain of openmeet-sync: identifiers, the event envelope, the
//! domain event catalogue and (in later issues) the rules that decide events.
//!
//! Nothing here performs IO, awaits, or reads a clock: time and ids come in
//! as arguments, so replay and property tests are cheap and deterministic.

pub mod attendance;
pub mod audit;
pub mod catalogue;
pub mod checksum;
pub mod decider;
pub mod envelope;
pub mod identity;
pub mod intake;
pub mod occurrence;
pub mod recurrence;
pub mod rejection;
pub mod series;
pub mod time;

pub use catalogue::{DecodeError, DomainEvent};
pub use envelope::{
    Actor, CorrelationId, EncodedPayload, EventId, EventMetadata, GlobalPosition, NewEvent, Origin,
    RecordedEvent, StreamId, StreamVersion,
};
pub use time::Timestamp;
