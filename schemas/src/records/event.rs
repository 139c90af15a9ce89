//! `community.lexicon.calendar.event`.

use serde::{Deserialize, Serialize};

use super::{Extra, HostedBy, Location, Record, Recurrence};

/// The event lexicon's NSID.
pub const EVENT_NSID: &str = "community.lexicon.calendar.event";

/// A link about an event (`#uri`), also an online location.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UriLink {
    /// The URI.
    pub uri: String,
    /// Its display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields this type does not know (including `$type` in a union).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A calendar event record. Datetimes stay the strings the record holds, so
/// a record reads and writes back byte for byte.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The event's name.
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the client created the record.
    #[serde(rename = "createdAt")]
    pub created_at: String,
    /// When the event starts.
    #[serde(rename = "startsAt", default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// When it ends.
    #[serde(rename = "endsAt", default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// Attendance mode token (open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Status token (open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Where it takes place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<Location>>,
    /// Links about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uris: Option<Vec<UriLink>>,
    /// Whether attendees are asked to respond.
    #[serde(
        rename = "rsvpExpected",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub rsvp_expected: Option<bool>,
    /// Our recurrence extension (`openmeet.lexicon.calendar.recurrence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Recurrence>,
    /// The group hosting the event (`openmeet.lexicon.group#hostedBy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<HostedBy>,
    /// Fields this type does not know (`$type`, `media`, `timezone`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Record for EventRecord {
    const NSID: &'static str = EVENT_NSID;
}
