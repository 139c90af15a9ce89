//! Occurrences: single dated events, local or imported from Bluesky.

mod decider;
mod details;
mod record;

pub use decider::{Occurrence, OccurrenceCommand, OccurrenceError, details_of};
pub use details::{EventDetails, Link, Mode, Place, Status};
pub use record::{MappingError, format_datetime, parse_datetime};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::envelope::{StreamId, derived_uuid};
use crate::series::SeriesId;
use crate::time::Timestamp;

/// The local id of an occurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OccurrenceId(pub Uuid);

impl OccurrenceId {
    /// The id of the occurrence imported from the record at `at_uri`. Derived,
    /// so an RSVP that arrives before its event still names the same occurrence.
    pub fn for_record(at_uri: &str) -> Self {
        Self(derived_uuid("occurrence", at_uri))
    }

    /// The stream that orders everything that happens to this occurrence.
    pub fn stream(self) -> StreamId {
        StreamId::new("occurrence", self.0)
    }
}

impl std::fmt::Display for OccurrenceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A calendar event record seen on Bluesky for the first time became an
/// occurrence. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventImported {
    /// The occurrence it became.
    pub occurrence_id: OccurrenceId,
    /// `at://{did}/community.lexicon.calendar.event/{rkey}`.
    pub uri: String,
    /// The CID of the record version imported.
    pub cid: String,
    /// The record exactly as received (JSON), so a corrected mapping can be
    /// replayed over history.
    pub record: String,
    /// When the source says the change happened.
    pub observed_at: Timestamp,
}

/// A new version of an imported record arrived. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventChangedExternally {
    /// The occurrence the record maps to.
    pub occurrence_id: OccurrenceId,
    /// The record's AT-URI.
    pub uri: String,
    /// The CID of the new version.
    pub cid: String,
    /// The new version exactly as received (JSON).
    pub record: String,
    /// When the source says the change happened.
    pub observed_at: Timestamp,
}

/// An imported record was deleted on Bluesky. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDeletedExternally {
    /// The occurrence the record mapped to.
    pub occurrence_id: OccurrenceId,
    /// The record's AT-URI.
    pub uri: String,
    /// When the source says the deletion happened.
    pub observed_at: Timestamp,
}

/// An occurrence scheduled in OpenMeet was deleted there. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrenceDeleted {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
}

/// A local occurrence was scheduled in OpenMeet. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrenceScheduled {
    /// The new occurrence.
    pub occurrence_id: OccurrenceId,
    /// The series it belongs to, if any.
    pub series_id: Option<SeriesId>,
    /// Its content.
    pub details: EventDetails,
}

/// An occurrence's content was edited in OpenMeet. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrenceEdited {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// The new content.
    pub details: EventDetails,
}

/// An occurrence was cancelled in OpenMeet. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrenceCancelled {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// Why, when given.
    pub reason: Option<String>,
}
