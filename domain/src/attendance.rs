//! Attendance: who goes to which occurrence, from either platform.

use serde::{Deserialize, Serialize};

use crate::envelope::{Origin, StreamId};
use crate::identity::UserId;
use crate::occurrence::OccurrenceId;
use crate::time::Timestamp;

/// OpenMeet's attendance statuses; the spec maps them one to one onto the
/// RSVP lexicon's `#going`, `#interested` and `#notgoing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttendanceStatus {
    /// `community.lexicon.calendar.rsvp#going`.
    Attending,
    /// `community.lexicon.calendar.rsvp#interested`.
    Interested,
    /// `community.lexicon.calendar.rsvp#notgoing`.
    Declined,
}

/// The stream of all attendance changes of one occurrence.
pub fn attendance_stream(occurrence: OccurrenceId) -> StreamId {
    StreamId::new("attendance", occurrence.0)
}

/// A user's attendance of an occurrence changed. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsvpChanged {
    /// The occurrence attended.
    pub occurrence_id: OccurrenceId,
    /// The attendee (a full or a shadow account).
    pub attendee_id: UserId,
    /// The new status.
    pub status: AttendanceStatus,
    /// The platform the change was made on.
    pub origin: Origin,
    /// When the change was made, by its own platform's clock: the latest wins.
    pub changed_at: Timestamp,
    /// The RSVP record's AT-URI, when the change came from or went to Bluesky.
    pub rsvp_uri: Option<String>,
    /// The RSVP record's CID, when known.
    pub rsvp_cid: Option<String>,
}
