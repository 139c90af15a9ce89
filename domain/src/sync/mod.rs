//! Keeping the two platforms in sync: what we published, the echoes of our
//! own writes, the field-by-field resolution of conflicting changes, and
//! the series proposed from imported events, decided by a replayable
//! process manager.

mod decisions;
mod detection;
mod manager;
mod outbound;
mod policies;

pub use decisions::{
    ConflictResolved, ConflictSubject, FieldValue, OccurrencePublished, Policy,
    SelfPublishedEchoMatched, Winner,
};
pub use manager::{ACTOR, DECISIONS, ProcessManager, SNAPSHOT_SHAPE, is_decision};
pub use outbound::{
    AttendanceSyncRequested, RsvpPublishFailed, RsvpPublishRequested, RsvpPublished,
};
pub use policies::{
    Resolution, latest_answer, merge_places, overwritten, resolve_imported, resolve_published,
};
