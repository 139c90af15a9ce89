//! The facts the process manager works from (what we published) and the
//! decisions it records (echoes matched, conflicts resolved).

use serde::{Deserialize, Serialize};

use crate::attendance::AttendanceStatus;
use crate::identity::UserId;
use crate::occurrence::{EventDetails, Link, Mode, OccurrenceId, Place, Status};
use crate::time::Timestamp;

/// An occurrence scheduled in OpenMeet was written to Bluesky as the record
/// `uri`. The publisher records it together with the external reference of
/// `uri`, so the firehose echo finds the occurrence it stands for.
/// Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrencePublished {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// `at://{our did}/community.lexicon.calendar.event/{rkey}`.
    pub uri: String,
    /// The CID the PDS answered with.
    pub cid: String,
    /// The content checksum of what we wrote
    /// ([`content_checksum`](crate::checksum::content_checksum)).
    pub checksum: String,
}

/// A firehose version of a record we published was our own write coming
/// back: it changed nothing but, perhaps, the CID. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfPublishedEchoMatched {
    /// The occurrence we published.
    pub occurrence_id: OccurrenceId,
    /// The record.
    pub uri: String,
    /// The CID of the version that arrived.
    pub cid: String,
    /// The CID we recorded when publishing.
    pub published_cid: String,
    /// The content checksum both versions share.
    pub checksum: String,
}

/// What a conflict was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConflictSubject {
    /// A field of an occurrence's content.
    Occurrence(OccurrenceId),
    /// One user's answer to one occurrence.
    Attendance {
        /// The occurrence.
        occurrence_id: OccurrenceId,
        /// The user.
        attendee_id: UserId,
    },
}

/// One field's value, named by its variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldValue {
    /// The event's name.
    Name(String),
    /// Its description.
    Description(Option<String>),
    /// Its start.
    StartsAt(Option<Timestamp>),
    /// Its end.
    EndsAt(Option<Timestamp>),
    /// Its time zone.
    TimeZone(Option<String>),
    /// Its attendance mode.
    Mode(Option<Mode>),
    /// Its status.
    Status(Option<Status>),
    /// Its places.
    Places(Vec<Place>),
    /// Its links.
    Links(Vec<Link>),
    /// Whether attendees are asked to respond.
    RsvpExpected(Option<bool>),
    /// An attendee's answer.
    Attendance(AttendanceStatus),
}

/// Which value a decision kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Winner {
    /// The value OpenMeet holds.
    #[serde(rename = "openmeet")]
    OpenMeet,
    /// The value that came from Bluesky.
    Bluesky,
    /// Both, merged.
    Merged,
}

/// The rule a decision applied (the spec's field-specific policies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The platform the event originates from is its source of truth.
    SourceOfTruth,
    /// A manual edit of user-written content made in OpenMeet stays.
    ManualEditPreserved,
    /// Locations from both sides, each once.
    LocationsMerged,
    /// The latest change wins, with a deterministic tie-break.
    LatestWins,
}

/// The two platforms disagreed about one field, and this was kept.
/// Schema version 1.
///
/// Its effect is conditional: the field becomes `resolved` only if it still
/// holds `in_effect`, so a decision recorded after a newer edit never undoes
/// that edit, in whatever order the two reach the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictResolved {
    /// What the field belongs to.
    pub subject: ConflictSubject,
    /// OpenMeet's value.
    pub openmeet: FieldValue,
    /// Bluesky's value (the overridden one, when OpenMeet won).
    pub bluesky: FieldValue,
    /// Which side was kept.
    pub winner: Winner,
    /// Why.
    pub policy: Policy,
    /// The value the field held when the decision was taken.
    pub in_effect: FieldValue,
    /// The value it holds after.
    pub resolved: FieldValue,
}

impl FieldValue {
    /// The field's name, as the lexicon spells it.
    pub fn field(&self) -> &'static str {
        match self {
            FieldValue::Name(_) => "name",
            FieldValue::Description(_) => "description",
            FieldValue::StartsAt(_) => "startsAt",
            FieldValue::EndsAt(_) => "endsAt",
            FieldValue::TimeZone(_) => "timeZone",
            FieldValue::Mode(_) => "mode",
            FieldValue::Status(_) => "status",
            FieldValue::Places(_) => "locations",
            FieldValue::Links(_) => "uris",
            FieldValue::RsvpExpected(_) => "rsvpExpected",
            FieldValue::Attendance(_) => "attendance",
        }
    }

    /// Every content field of `details`, in a fixed order.
    pub fn all_of(details: &EventDetails) -> [FieldValue; 10] {
        [
            FieldValue::Name(details.name.clone()),
            FieldValue::Description(details.description.clone()),
            FieldValue::StartsAt(details.starts_at),
            FieldValue::EndsAt(details.ends_at),
            FieldValue::TimeZone(details.time_zone.clone()),
            FieldValue::Mode(details.mode.clone()),
            FieldValue::Status(details.status.clone()),
            FieldValue::Places(details.places.clone()),
            FieldValue::Links(details.links.clone()),
            FieldValue::RsvpExpected(details.rsvp_expected),
        ]
    }

    /// The same field's value in `details`; `None` for an attendance answer.
    pub fn read_from(&self, details: &EventDetails) -> Option<FieldValue> {
        FieldValue::all_of(details)
            .into_iter()
            .find(|value| value.field() == self.field())
    }

    /// Sets this field of `details`; an attendance answer sets nothing.
    pub fn write_to(&self, details: &mut EventDetails) {
        match self.clone() {
            FieldValue::Name(name) => details.name = name,
            FieldValue::Description(description) => details.description = description,
            FieldValue::StartsAt(at) => details.starts_at = at,
            FieldValue::EndsAt(at) => details.ends_at = at,
            FieldValue::TimeZone(zone) => details.time_zone = zone,
            FieldValue::Mode(mode) => details.mode = mode,
            FieldValue::Status(status) => details.status = status,
            FieldValue::Places(places) => details.places = places,
            FieldValue::Links(links) => details.links = links,
            FieldValue::RsvpExpected(expected) => details.rsvp_expected = expected,
            FieldValue::Attendance(_) => {}
        }
    }
}

impl ConflictResolved {
    /// `details` as this decision leaves them: `resolved` if the field still
    /// holds `in_effect`, untouched otherwise.
    pub fn apply_to(&self, details: &mut EventDetails) {
        if self.in_effect.read_from(details).as_ref() == Some(&self.in_effect) {
            self.resolved.write_to(details);
        }
    }
}
