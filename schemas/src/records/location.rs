//! The `community.lexicon.location.*` family, and the open union of
//! locations an event lists.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{Extra, UriLink};

/// A street address.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// ISO 3166 country code.
    pub country: String,
    /// Postal code.
    #[serde(
        rename = "postalCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub postal_code: Option<String>,
    /// Region, such as a state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Locality, such as a city.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// Street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// Name of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields this type does not know (including `$type`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A WGS84 coordinate in decimal degrees, kept as the strings the lexicon
/// uses so no precision is lost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Geo {
    /// Latitude, degrees north.
    pub latitude: String,
    /// Longitude, degrees east.
    pub longitude: String,
    /// Altitude in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<String>,
    /// Name of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields this type does not know (including `$type`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Foursquare Open Source Places POI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fsq {
    /// The POI's id.
    pub fsq_place_id: String,
    /// Latitude, degrees north.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<String>,
    /// Longitude, degrees east.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<String>,
    /// Name of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields this type does not know (including `$type`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// An H3 cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hthree {
    /// The H3 index.
    pub value: String,
    /// Name of the place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields this type does not know (including `$type`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One member of an event's `locations` union. The union is open: a
/// member of an unknown type, or one without `$type`, is kept as it came.
#[derive(Clone, Debug, PartialEq)]
pub enum Location {
    /// `community.lexicon.location.address`.
    Address(Address),
    /// `community.lexicon.location.geo`.
    Geo(Geo),
    /// `community.lexicon.location.fsq`.
    Fsq(Fsq),
    /// `community.lexicon.location.hthree`.
    Hthree(Hthree),
    /// `community.lexicon.calendar.event#uri`: an online location.
    Uri(UriLink),
    /// Anything else, verbatim.
    Other(Value),
}

impl Location {
    /// The `$type` each known member carries.
    pub fn type_name(&self) -> Option<&'static str> {
        match self {
            Location::Address(_) => Some("community.lexicon.location.address"),
            Location::Geo(_) => Some("community.lexicon.location.geo"),
            Location::Fsq(_) => Some("community.lexicon.location.fsq"),
            Location::Hthree(_) => Some("community.lexicon.location.hthree"),
            Location::Uri(_) => Some("community.lexicon.calendar.event#uri"),
            Location::Other(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let type_name = value
            .get("$type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let typed = |location: Result<Location, serde_json::Error>| {
            location.map_err(serde::de::Error::custom)
        };
        match type_name {
            "community.lexicon.location.address" => {
                typed(serde_json::from_value(value).map(Location::Address))
            }
            "community.lexicon.location.geo" => {
                typed(serde_json::from_value(value).map(Location::Geo))
            }
            "community.lexicon.location.fsq" => {
                typed(serde_json::from_value(value).map(Location::Fsq))
            }
            "community.lexicon.location.hthree" => {
                typed(serde_json::from_value(value).map(Location::Hthree))
            }
            "community.lexicon.calendar.event#uri" => {
                typed(serde_json::from_value(value).map(Location::Uri))
            }
            _ => Ok(Location::Other(value)),
        }
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = match self {
            Location::Address(address) => serde_json::to_value(address),
            Location::Geo(geo) => serde_json::to_value(geo),
            Location::Fsq(fsq) => serde_json::to_value(fsq),
            Location::Hthree(hthree) => serde_json::to_value(hthree),
            Location::Uri(link) => serde_json::to_value(link),
            Location::Other(value) => Ok(value.clone()),
        }
        .map_err(serde::ser::Error::custom)?;
        // A member built locally has no `$type` yet; a union member needs one.
        if let (Value::Object(fields), Some(type_name)) = (&mut value, self.type_name()) {
            fields
                .entry("$type")
                .or_insert_with(|| Value::String(type_name.into()));
        }
        value.serialize(serializer)
    }
}
