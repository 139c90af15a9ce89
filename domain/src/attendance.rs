//! Attendance: who goes to which occurrence, from either platform.

use schemas::records::{RsvpRecord, StrongRef};
use serde::{Deserialize, Serialize};
use thiserror::Error;

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

const GOING: &str = "community.lexicon.calendar.rsvp#going";
const INTERESTED: &str = "community.lexicon.calendar.rsvp#interested";
const NOT_GOING: &str = "community.lexicon.calendar.rsvp#notgoing";

/// An RSVP status this system does not know: the record is rejected with
/// this reason rather than guessed at.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("status {0:?} is not a known RSVP status")]
pub struct UnknownRsvpStatus(pub String);

impl AttendanceStatus {
    /// The spec's Bluesky → OpenMeet mapping. An RSVP without status means
    /// the lexicon's default, `#going`.
    pub fn from_rsvp_status(status: Option<&str>) -> Result<Self, UnknownRsvpStatus> {
        match status.unwrap_or(GOING) {
            GOING => Ok(AttendanceStatus::Attending),
            INTERESTED => Ok(AttendanceStatus::Interested),
            NOT_GOING => Ok(AttendanceStatus::Declined),
            other => Err(UnknownRsvpStatus(other.to_owned())),
        }
    }

    /// The spec's OpenMeet → Bluesky mapping.
    pub fn rsvp_status(self) -> &'static str {
        match self {
            AttendanceStatus::Attending => GOING,
            AttendanceStatus::Interested => INTERESTED,
            AttendanceStatus::Declined => NOT_GOING,
        }
    }

    /// The RSVP record publishing this status for the event `subject`.
    pub fn rsvp_record(self, subject: StrongRef) -> RsvpRecord {
        RsvpRecord {
            subject,
            status: Some(self.rsvp_status().to_owned()),
            extra: Default::default(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [AttendanceStatus; 3] = [
        AttendanceStatus::Attending,
        AttendanceStatus::Interested,
        AttendanceStatus::Declined,
    ];

    #[test]
    fn the_spec_mapping_holds_in_both_directions() {
        let table = [
            (
                AttendanceStatus::Attending,
                "community.lexicon.calendar.rsvp#going",
            ),
            (
                AttendanceStatus::Interested,
                "community.lexicon.calendar.rsvp#interested",
            ),
            (
                AttendanceStatus::Declined,
                "community.lexicon.calendar.rsvp#notgoing",
            ),
        ];
        for (status, token) in table {
            assert_eq!(status.rsvp_status(), token);
            assert_eq!(AttendanceStatus::from_rsvp_status(Some(token)), Ok(status));
        }
        for status in ALL {
            assert_eq!(
                AttendanceStatus::from_rsvp_status(Some(status.rsvp_status())),
                Ok(status)
            );
        }
    }

    #[test]
    fn an_rsvp_without_status_means_going() {
        assert_eq!(
            AttendanceStatus::from_rsvp_status(None),
            Ok(AttendanceStatus::Attending)
        );
    }

    #[test]
    fn an_unknown_status_is_an_error_not_a_guess() {
        let err = AttendanceStatus::from_rsvp_status(Some("maybe")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "status \"maybe\" is not a known RSVP status"
        );
    }

    #[test]
    fn a_published_rsvp_record_is_lexicon_valid() {
        let subject = StrongRef {
            uri: "at://did:plc:abc/community.lexicon.calendar.event/3k".into(),
            cid: "bafyreieis7y4we4bkg26lsispbedzo5rn7gbx3bf2bxkpw6hvg726kktee".into(),
            extra: Default::default(),
        };
        for status in ALL {
            let record = schemas::records::Record::to_json(&status.rsvp_record(subject.clone()));
            assert_eq!(
                schemas::Lexicons::ours()
                    .validate_record("community.lexicon.calendar.rsvp", &record),
                Ok(())
            );
        }
    }
}
