//! Mapping between `community.lexicon.calendar.event` records and
//! [`EventDetails`], both ways. Reading keeps what it cannot represent
//! (unknown tokens and locations); writing starts from the previous record,
//! so fields we do not own survive, and unchanged values keep their exact
//! text.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use schemas::records::{Address, EventRecord, Fsq, Geo, Hthree, Location, UriLink};
use serde_json::Value;
use thiserror::Error;

use super::details::{EventDetails, Link, Mode, Place, Status};
use crate::time::Timestamp;

const TOKEN_PREFIX: &str = "community.lexicon.calendar.event#";

/// The record field real apps use for the event's IANA time zone.
const TIME_ZONE_FIELD: &str = "timezone";

/// A record whose content cannot become event details.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum MappingError {
    /// A datetime field does not hold a datetime.
    #[error("{field} is not a datetime: {value:?}")]
    NotADatetime {
        /// The record field.
        field: &'static str,
        /// What it holds.
        value: String,
    },
}

/// Parses the datetimes the lexicon admits: RFC 3339 and ISO 8601 forms
/// with or without an offset. Without an offset the time is taken as UTC,
/// as the ATProto reference implementation normalises it.
pub fn parse_datetime(text: &str) -> Option<Timestamp> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(Timestamp::from_datetime(at.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y%m%dT%H%M%S%.f%z"] {
        if let Ok(at) = DateTime::parse_from_str(text, format) {
            return Some(Timestamp::from_datetime(at.with_timezone(&Utc)));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y%m%dT%H%M%S%.fZ",
        "%Y%m%dT%H%M%S%.f",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Timestamp::from_datetime(at.and_utc()));
        }
    }
    None
}

/// The canonical ATProto form: UTC, milliseconds, `Z`.
pub fn format_datetime(at: Timestamp) -> String {
    at.to_datetime()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn datetime(field: &'static str, text: &str) -> Result<Timestamp, MappingError> {
    parse_datetime(text).ok_or_else(|| MappingError::NotADatetime {
        field,
        value: text.to_owned(),
    })
}

fn optional_datetime(
    field: &'static str,
    text: Option<&String>,
) -> Result<Option<Timestamp>, MappingError> {
    text.map(|text| datetime(field, text)).transpose()
}

impl Mode {
    fn from_token(token: &str) -> Self {
        match token.strip_prefix(TOKEN_PREFIX) {
            Some("inperson") => Mode::InPerson,
            Some("virtual") => Mode::Virtual,
            Some("hybrid") => Mode::Hybrid,
            _ => Mode::Other(token.to_owned()),
        }
    }

    fn token(&self) -> String {
        match self {
            Mode::InPerson => format!("{TOKEN_PREFIX}inperson"),
            Mode::Virtual => format!("{TOKEN_PREFIX}virtual"),
            Mode::Hybrid => format!("{TOKEN_PREFIX}hybrid"),
            Mode::Other(token) => token.clone(),
        }
    }
}

impl Status {
    fn from_token(token: &str) -> Self {
        match token.strip_prefix(TOKEN_PREFIX) {
            Some("planned") => Status::Planned,
            Some("scheduled") => Status::Scheduled,
            Some("rescheduled") => Status::Rescheduled,
            Some("cancelled") => Status::Cancelled,
            Some("postponed") => Status::Postponed,
            _ => Status::Other(token.to_owned()),
        }
    }

    fn token(&self) -> String {
        match self {
            Status::Planned => format!("{TOKEN_PREFIX}planned"),
            Status::Scheduled => format!("{TOKEN_PREFIX}scheduled"),
            Status::Rescheduled => format!("{TOKEN_PREFIX}rescheduled"),
            Status::Cancelled => format!("{TOKEN_PREFIX}cancelled"),
            Status::Postponed => format!("{TOKEN_PREFIX}postponed"),
            Status::Other(token) => token.clone(),
        }
    }
}

impl From<&Location> for Place {
    fn from(location: &Location) -> Self {
        match location {
            Location::Address(a) => Place::Address {
                country: a.country.clone(),
                postal_code: a.postal_code.clone(),
                region: a.region.clone(),
                locality: a.locality.clone(),
                street: a.street.clone(),
                name: a.name.clone(),
            },
            Location::Geo(g) => Place::Geo {
                latitude: g.latitude.clone(),
                longitude: g.longitude.clone(),
                altitude: g.altitude.clone(),
                name: g.name.clone(),
            },
            Location::Fsq(f) => Place::Foursquare {
                place_id: f.fsq_place_id.clone(),
                latitude: f.latitude.clone(),
                longitude: f.longitude.clone(),
                name: f.name.clone(),
            },
            Location::Hthree(h) => Place::H3 {
                value: h.value.clone(),
                name: h.name.clone(),
            },
            Location::Uri(link) => Place::Online(Link::from(link)),
            Location::Other(value) => Place::Other(value.to_string()),
        }
    }
}

impl From<&UriLink> for Link {
    fn from(link: &UriLink) -> Self {
        Link {
            uri: link.uri.clone(),
            name: link.name.clone(),
        }
    }
}

impl Link {
    fn to_uri_link(&self) -> UriLink {
        UriLink {
            uri: self.uri.clone(),
            name: self.name.clone(),
            extra: Default::default(),
        }
    }
}

impl Place {
    fn to_location(&self) -> Location {
        match self.clone() {
            Place::Address {
                country,
                postal_code,
                region,
                locality,
                street,
                name,
            } => Location::Address(Address {
                country,
                postal_code,
                region,
                locality,
                street,
                name,
                extra: Default::default(),
            }),
            Place::Geo {
                latitude,
                longitude,
                altitude,
                name,
            } => Location::Geo(Geo {
                latitude,
                longitude,
                altitude,
                name,
                extra: Default::default(),
            }),
            Place::Foursquare {
                place_id,
                latitude,
                longitude,
                name,
            } => Location::Fsq(Fsq {
                fsq_place_id: place_id,
                latitude,
                longitude,
                name,
                extra: Default::default(),
            }),
            Place::H3 { value, name } => Location::Hthree(Hthree {
                value,
                name,
                extra: Default::default(),
            }),
            Place::Online(link) => Location::Uri(link.to_uri_link()),
            Place::Other(json) => {
                Location::Other(serde_json::from_str(&json).unwrap_or(Value::String(json)))
            }
        }
    }
}

impl EventDetails {
    /// Reads an event record. Only a datetime field that holds no datetime
    /// is an error; everything else has a representation.
    pub fn from_record(record: &EventRecord) -> Result<Self, MappingError> {
        let time_zone = record
            .extra
            .get(TIME_ZONE_FIELD)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                record
                    .recurrence
                    .as_ref()
                    .map(|recurrence| recurrence.timezone.clone())
            });
        Ok(EventDetails {
            name: record.name.clone(),
            description: record.description.clone(),
            starts_at: optional_datetime("startsAt", record.starts_at.as_ref())?,
            ends_at: optional_datetime("endsAt", record.ends_at.as_ref())?,
            time_zone,
            mode: record.mode.as_deref().map(Mode::from_token),
            status: record.status.as_deref().map(Status::from_token),
            places: record.locations.iter().flatten().map(Place::from).collect(),
            links: record.uris.iter().flatten().map(Link::from).collect(),
            rsvp_expected: record.rsvp_expected,
            created_at: datetime("createdAt", &record.created_at)?,
        })
    }

    /// Writes these details as a record. Starting from `previous` keeps the
    /// fields we do not own, and keeps a value's exact text (a datetime's
    /// format, a location's extra fields) when its meaning did not change.
    /// A value these details lack is removed from the record.
    pub fn to_record(&self, previous: Option<&EventRecord>) -> EventRecord {
        let mut record = previous.cloned().unwrap_or_else(|| EventRecord {
            name: String::new(),
            description: None,
            created_at: String::new(),
            starts_at: None,
            ends_at: None,
            mode: None,
            status: None,
            locations: None,
            uris: None,
            rsvp_expected: None,
            recurrence: None,
            group: None,
            extra: Default::default(),
        });
        let keep_text = |old: Option<&String>, at: Timestamp| match old {
            Some(text) if parse_datetime(text) == Some(at) => text.clone(),
            _ => format_datetime(at),
        };
        record.name = self.name.clone();
        record.description = self.description.clone();
        record.created_at = keep_text(Some(&record.created_at), self.created_at);
        record.starts_at = self
            .starts_at
            .map(|at| keep_text(record.starts_at.as_ref(), at));
        record.ends_at = self
            .ends_at
            .map(|at| keep_text(record.ends_at.as_ref(), at));
        record.mode = self.mode.as_ref().map(Mode::token);
        record.status = self.status.as_ref().map(Status::token);
        let previous_locations = record.locations.take().unwrap_or_default();
        record.locations = (!self.places.is_empty()).then(|| {
            self.places
                .iter()
                .map(|place| {
                    previous_locations
                        .iter()
                        .find(|old| Place::from(*old) == *place)
                        .cloned()
                        .unwrap_or_else(|| place.to_location())
                })
                .collect()
        });
        let previous_links = record.uris.take().unwrap_or_default();
        record.uris = (!self.links.is_empty()).then(|| {
            self.links
                .iter()
                .map(|link| {
                    previous_links
                        .iter()
                        .find(|old| Link::from(*old) == *link)
                        .cloned()
                        .unwrap_or_else(|| link.to_uri_link())
                })
                .collect()
        });
        record.rsvp_expected = self.rsvp_expected;
        let implied = record
            .recurrence
            .as_ref()
            .map(|recurrence| recurrence.timezone.as_str());
        match &self.time_zone {
            // The recurrence extension already names the zone.
            Some(zone)
                if implied == Some(zone.as_str())
                    && !record.extra.contains_key(TIME_ZONE_FIELD) => {}
            Some(zone) => {
                record
                    .extra
                    .insert(TIME_ZONE_FIELD.into(), Value::String(zone.clone()));
            }
            None => {
                record.extra.remove(TIME_ZONE_FIELD);
            }
        }
        record
    }
}
