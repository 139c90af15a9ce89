//! Typed records of our lexicons. Each keeps the fields it does not know in
//! `extra`, so a record written by a newer app survives being read and
//! written again. Parsing is lenient (shape only); [`crate::Lexicons`]
//! says whether a record is valid.

mod event;
mod group;
mod location;
mod recurrence;
mod rsvp;

pub use event::{EVENT_NSID, EventRecord, UriLink};
pub use group::{GROUP_NSID, GroupRecord, HostedBy, Membership, RoleAssignment};
pub use location::{Address, Fsq, Geo, Hthree, Location};
pub use recurrence::{RECURRENCE_NSID, Recurrence, SeriesLink};
pub use rsvp::{RSVP_NSID, RsvpRecord, StrongRef};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use thiserror::Error;

/// Fields a record type does not declare, kept verbatim.
pub type Extra = Map<String, Value>;

/// A record whose JSON does not fit its Rust type.
#[derive(Debug, Error)]
#[error("{nsid} record does not fit its type: {source}")]
pub struct ShapeError {
    /// The record's lexicon.
    pub nsid: &'static str,
    /// What serde reported, naming the field.
    #[source]
    pub source: serde_json::Error,
}

/// A typed lexicon record: JSON in, JSON out, nothing lost.
pub trait Record: Serialize + DeserializeOwned {
    /// The lexicon NSID of this record type.
    const NSID: &'static str;

    /// Reads a record from its JSON form.
    fn from_json(value: &Value) -> Result<Self, ShapeError> {
        serde_json::from_value(value.clone()).map_err(|source| ShapeError {
            nsid: Self::NSID,
            source,
        })
    }

    /// The record's JSON form, with its `$type`.
    fn to_json(&self) -> Value {
        // Derived Serialize of string/number/map fields cannot fail.
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Value::Object(fields) = &mut value
            && !fields.contains_key("$type")
        {
            fields.insert("$type".into(), Value::String(Self::NSID.into()));
        }
        value
    }
}
