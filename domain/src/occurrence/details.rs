//! What an event is: its content, as the domain sees it, independent of the
//! record format it came in.

use serde::{Deserialize, Serialize};

use crate::text::{self, UnstorableText};
use crate::time::Timestamp;

/// The content of an event, local or imported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetails {
    /// The event's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// When it starts.
    pub starts_at: Option<Timestamp>,
    /// When it ends.
    pub ends_at: Option<Timestamp>,
    /// The IANA time zone it takes place in, when known.
    pub time_zone: Option<String>,
    /// How attendees take part.
    pub mode: Option<Mode>,
    /// Where the event stands.
    pub status: Option<Status>,
    /// Where it takes place, in the order given.
    pub places: Vec<Place>,
    /// Links about it.
    pub links: Vec<Link>,
    /// Whether attendees are asked to respond.
    pub rsvp_expected: Option<bool>,
    /// When its author created it.
    pub created_at: Timestamp,
}

/// Attendance mode. The lexicon's set is open: an unknown token is kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// In person only.
    InPerson,
    /// Online only.
    Virtual,
    /// Both.
    Hybrid,
    /// A token this build does not know, verbatim.
    Other(String),
}

/// Event status. The lexicon's set is open: an unknown token is kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Created, not yet final.
    Planned,
    /// Created and scheduled.
    Scheduled,
    /// Moved to another time.
    Rescheduled,
    /// Will not take place.
    Cancelled,
    /// Postponed without a new date.
    Postponed,
    /// A token this build does not know, verbatim.
    Other(String),
}

/// Where an event takes place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Place {
    /// A street address.
    Address {
        /// ISO 3166 country code.
        country: String,
        /// Postal code.
        postal_code: Option<String>,
        /// Region, such as a state.
        region: Option<String>,
        /// Locality, such as a city.
        locality: Option<String>,
        /// Street address.
        street: Option<String>,
        /// Name of the place.
        name: Option<String>,
    },
    /// A WGS84 coordinate. Kept as the decimal strings of the record, so no
    /// precision is lost; `0` is a coordinate like any other.
    Geo {
        /// Degrees north.
        latitude: String,
        /// Degrees east.
        longitude: String,
        /// Metres above sea level.
        altitude: Option<String>,
        /// Name of the place.
        name: Option<String>,
    },
    /// A Foursquare Open Source Places POI.
    Foursquare {
        /// The POI id.
        place_id: String,
        /// Degrees north.
        latitude: Option<String>,
        /// Degrees east.
        longitude: Option<String>,
        /// Name of the place.
        name: Option<String>,
    },
    /// An H3 cell.
    H3 {
        /// The H3 index.
        value: String,
        /// Name of the place.
        name: Option<String>,
    },
    /// An online location.
    Online(Link),
    /// A location this build does not understand (an unknown type, or one
    /// without `$type`), as its JSON text.
    Other(String),
}

/// A link with an optional display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The URI.
    pub uri: String,
    /// Its display name.
    pub name: Option<String>,
}

impl Place {
    /// The coordinates in degrees, when the place has parseable ones.
    pub fn coordinates(&self) -> Option<(f64, f64)> {
        let (latitude, longitude) = match self {
            Place::Geo {
                latitude,
                longitude,
                ..
            } => (latitude.as_str(), longitude.as_str()),
            Place::Foursquare {
                latitude: Some(latitude),
                longitude: Some(longitude),
                ..
            } => (latitude.as_str(), longitude.as_str()),
            _ => return None,
        };
        Some((
            latitude.trim().parse().ok()?,
            longitude.trim().parse().ok()?,
        ))
    }
}

impl EventDetails {
    /// Refuses details holding a text no read model can store, naming
    /// the field (`details/places/0/name`).
    pub fn check_storable(&self) -> Result<(), UnstorableText> {
        // Serializing a struct of strings, options and enums cannot fail.
        let value = serde_json::to_value(self).unwrap_or_default();
        if let Some(field) = text::nul_in_value("details", &value) {
            return Err(UnstorableText { field });
        }
        // An unknown place is JSON text: its NUL is an escape.
        match self
            .places
            .iter()
            .position(|place| matches!(place, Place::Other(json) if text::json_escapes_nul(json)))
        {
            Some(n) => Err(UnstorableText {
                field: format!("details/places/{n}"),
            }),
            None => Ok(()),
        }
    }
}
