//! `community.lexicon.calendar.rsvp` and `com.atproto.repo.strongRef`.

use serde::{Deserialize, Serialize};

use super::{Extra, Record};

/// The RSVP lexicon's NSID.
pub const RSVP_NSID: &str = "community.lexicon.calendar.rsvp";

/// A reference to one version of a record: its AT-URI and CID.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrongRef {
    /// The record's AT-URI.
    pub uri: String,
    /// The CID of the version referred to.
    pub cid: String,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A response to an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RsvpRecord {
    /// The event responded to.
    pub subject: StrongRef,
    /// `#going`, `#interested`, `#notgoing` or an unknown value; absent
    /// means the lexicon's default, `#going`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Fields this type does not know (`$type`, `createdAt`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Record for RsvpRecord {
    const NSID: &'static str = RSVP_NSID;
}
