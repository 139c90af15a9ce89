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

/// The stream of RSVPs that arrived before the event they answer.
pub fn parked_rsvps_stream(occurrence: OccurrenceId) -> StreamId {
    StreamId::new("parked-rsvps", occurrence.0)
}

/// A user withdrew an answer (on Bluesky: deleted the RSVP record).
/// Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsvpWithdrawn {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// The attendee.
    pub attendee_id: UserId,
    /// The platform it was withdrawn on.
    pub origin: Origin,
    /// When, by that platform's clock: answers given later stand.
    pub withdrawn_at: Timestamp,
    /// The deleted RSVP record, when on Bluesky.
    pub rsvp_uri: Option<String>,
}

/// An RSVP arrived for an event this system has not seen yet. It is kept
/// here, and becomes an [`RsvpChanged`] when the event arrives, instead of
/// being lost. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsvpParked {
    /// The AT-URI of the event the RSVP answers.
    pub subject_uri: String,
    /// The answer, as it will be recorded.
    pub rsvp: RsvpChanged,
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

/// One attendee's current answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The status.
    pub status: AttendanceStatus,
    /// The platform it was given on.
    pub origin: Origin,
    /// When it was given.
    pub changed_at: Timestamp,
}

impl Answer {
    /// True when this answer replaces `other` (see [`Answer::precedence`]).
    pub fn supersedes(&self, other: &Answer) -> bool {
        self.precedence() > other.precedence()
    }

    /// The order in which answers supersede each other: the latest change
    /// wins; at the same instant the order is still total, so every replica
    /// and every replay picks the same winner.
    fn precedence(&self) -> (Timestamp, u8, u8) {
        let origin = match self.origin {
            Origin::OpenMeet => 0,
            Origin::Bluesky => 1,
        };
        let status = match self.status {
            AttendanceStatus::Declined => 0,
            AttendanceStatus::Interested => 1,
            AttendanceStatus::Attending => 2,
        };
        (self.changed_at, origin, status)
    }
}

/// Everyone's answers for one occurrence: at most one per user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attendance {
    answers: std::collections::BTreeMap<UserId, Answer>,
    /// The latest withdrawal per user. Kept apart from the answers so that
    /// an answer older than a withdrawal stays withdrawn in any replay order.
    withdrawn: std::collections::BTreeMap<UserId, Timestamp>,
}

impl Attendance {
    /// The current answer of `user`, unless withdrawn since.
    pub fn answer(&self, user: UserId) -> Option<&Answer> {
        self.answers
            .get(&user)
            .filter(|answer| !self.withdrawn_after(user, answer.changed_at))
    }

    fn withdrawn_after(&self, user: UserId, at: Timestamp) -> bool {
        self.withdrawn.get(&user).is_some_and(|w| *w >= at)
    }

    /// How many users have a current answer.
    pub fn len(&self) -> usize {
        self.answers
            .keys()
            .filter(|user| self.answer(**user).is_some())
            .count()
    }

    /// True when nobody has a current answer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ChangeRsvp {
    /// The event recording this change.
    pub fn recorded(&self) -> RsvpChanged {
        RsvpChanged {
            occurrence_id: self.occurrence_id,
            attendee_id: self.attendee_id,
            status: self.status,
            origin: self.origin,
            changed_at: self.changed_at,
            rsvp_uri: self.rsvp_uri.clone(),
            rsvp_cid: self.rsvp_cid.clone(),
        }
    }
}

impl From<&RsvpChanged> for ChangeRsvp {
    /// The change a recorded (or parked) answer stands for.
    fn from(event: &RsvpChanged) -> Self {
        ChangeRsvp {
            occurrence_id: event.occurrence_id,
            attendee_id: event.attendee_id,
            status: event.status,
            origin: event.origin,
            changed_at: event.changed_at,
            rsvp_uri: event.rsvp_uri.clone(),
            rsvp_cid: event.rsvp_cid.clone(),
        }
    }
}

/// What can be asked of an occurrence's attendance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttendanceCommand {
    /// Give or change an answer.
    Change(ChangeRsvp),
    /// Withdraw an answer.
    Withdraw(WithdrawRsvp),
}

/// A user withdraws an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithdrawRsvp {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// The user.
    pub attendee_id: UserId,
    /// Where it was withdrawn.
    pub origin: Origin,
    /// When, by its platform's clock.
    pub withdrawn_at: Timestamp,
    /// The deleted RSVP record, when on Bluesky.
    pub rsvp_uri: Option<String>,
}

/// A user answers (or changes an answer to) an occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRsvp {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// The user.
    pub attendee_id: UserId,
    /// The answer.
    pub status: AttendanceStatus,
    /// Where it was given.
    pub origin: Origin,
    /// When it was given, by its platform's clock.
    pub changed_at: Timestamp,
    /// The RSVP record, when on Bluesky.
    pub rsvp_uri: Option<String>,
    /// Its CID.
    pub rsvp_cid: Option<String>,
}

impl crate::decider::Decider for Attendance {
    type Command = AttendanceCommand;
    type Error = std::convert::Infallible;

    /// Records an answer unless a later (or the same) answer from the same
    /// platform or a later withdrawal is already recorded. A delayed, older
    /// change never overwrites a newer one: one from the other platform is
    /// recorded, and loses in every fold. Records a withdrawal only of an answer given
    /// before it.
    fn decide(
        &self,
        command: &AttendanceCommand,
        _at: Timestamp,
    ) -> Result<Vec<crate::catalogue::DomainEvent>, Self::Error> {
        let change = match command {
            AttendanceCommand::Change(change) => change,
            AttendanceCommand::Withdraw(withdraw) => {
                let answered_before = self
                    .answer(withdraw.attendee_id)
                    .is_some_and(|answer| answer.changed_at <= withdraw.withdrawn_at);
                return Ok(if answered_before {
                    vec![
                        RsvpWithdrawn {
                            occurrence_id: withdraw.occurrence_id,
                            attendee_id: withdraw.attendee_id,
                            origin: withdraw.origin,
                            withdrawn_at: withdraw.withdrawn_at,
                            rsvp_uri: withdraw.rsvp_uri.clone(),
                        }
                        .into(),
                    ]
                } else {
                    vec![]
                });
            }
        };
        let new = Answer {
            status: change.status,
            origin: change.origin,
            changed_at: change.changed_at,
        };
        let current = self.answers.get(&change.attendee_id);
        // A different answer from the other platform that lost to a later
        // one is still recorded, so the process manager records why it lost;
        // every fold keeps the later answer.
        let contested = current
            .is_some_and(|current| current.origin != new.origin && current.status != new.status);
        let superseded = current.is_some_and(|current| !new.supersedes(current));
        if (superseded && !contested) || self.withdrawn_after(change.attendee_id, change.changed_at)
        {
            return Ok(vec![]);
        }
        Ok(vec![change.recorded().into()])
    }

    fn evolve(mut self, event: &crate::catalogue::DomainEvent) -> Attendance {
        if let crate::catalogue::DomainEvent::RsvpWithdrawn(withdrawn) = event {
            let latest = self
                .withdrawn
                .entry(withdrawn.attendee_id)
                .or_insert(withdrawn.withdrawn_at);
            *latest = (*latest).max(withdrawn.withdrawn_at);
        }
        if let crate::catalogue::DomainEvent::RsvpChanged(changed) = event {
            let new = Answer {
                status: changed.status,
                origin: changed.origin,
                changed_at: changed.changed_at,
            };
            // Replaying a log in which an older answer follows a newer one
            // (written before this rule existed) still ends at the newest.
            let newer = self
                .answers
                .get(&changed.attendee_id)
                .is_none_or(|current| new.supersedes(current));
            if newer {
                self.answers.insert(changed.attendee_id, new);
            }
        }
        self
    }
}
