//! The pure domain of openmeet-sync: identifiers, the event envelope and
//! catalogue, the aggregates (series, occurrences, attendance, identities)
//! and their rules, record mapping, recurrence and checksums.
//!
//! Nothing here performs IO, awaits, or reads a clock: time and ids come in
//! as arguments, so replay and property tests are cheap and deterministic.

#![warn(missing_docs)]

pub mod access;
pub mod attendance;
pub mod audit;
pub mod backfill;
pub mod catalogue;
pub mod checksum;
pub mod decider;
pub mod delivery;
pub mod envelope;
pub mod external_ref;
pub mod identity;
pub mod intake;
pub mod login_limits;
pub mod occurrence;
pub mod platform;
pub mod publishing;
pub mod record_key;
pub mod recurrence;
pub mod rejection;
pub mod series;
pub mod series_detection;
pub mod sharing;
pub mod skips;
pub mod slug;
pub mod sync;
pub mod text;
pub mod time;

pub use catalogue::{DecodeError, DomainEvent};
pub use envelope::{
    Actor, Append, CorrelationId, EncodedPayload, EventId, EventMetadata, GlobalPosition, NewEvent,
    Origin, RecordedEvent, StreamId, StreamVersion,
};
pub use time::Timestamp;
