//! Instants as the domain sees them: microseconds since the Unix epoch, UTC.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant in UTC with microsecond precision (the precision of Postgres
/// `timestamptz` and of Jetstream's `time_us`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `micros` microseconds after the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_unix_micros(self) -> i64 {
        self.0
    }

    /// The same instant as a chrono date-time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The instant of a chrono date-time, truncated to microseconds.
    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at.timestamp_micros())
    }

    /// Parses an RFC 3339 date-time such as `2026-11-24T18:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Result<Self, chrono::ParseError> {
        DateTime::parse_from_rfc3339(text).map(|at| Self::from_datetime(at.with_timezone(&Utc)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )
    }
}

// Human-readable formats (the audit JSON) get RFC 3339; binary payloads
// (postcard) get the plain integer, which keeps the frozen encoding small.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Self::parse_rfc3339(&text).map_err(|err| {
                serde::de::Error::custom(format!("{text:?} is not an RFC 3339 date-time: {err}"))
            })
        } else {
            i64::deserialize(deserializer).map(Self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn renders_as_rfc3339_in_utc() {
        let at = Timestamp::parse_rfc3339("2026-11-24T19:30:00+01:00").unwrap();
        assert_eq!(at.to_string(), "2026-11-24T18:30:00Z");
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            "\"2026-11-24T18:30:00Z\""
        );
    }

    proptest! {
        #[test]
        fn survives_json_and_postcard_round_trips(micros in -62_135_596_800_000_000i64..253_402_300_799_000_000i64) {
            let at = Timestamp::from_unix_micros(micros);
            let json = serde_json::to_string(&at).unwrap();
            prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), at);
            let bytes = postcard::to_stdvec(&at).unwrap();
            prop_assert_eq!(postcard::from_bytes::<Timestamp>(&bytes).unwrap(), at);
        }
    }
}
