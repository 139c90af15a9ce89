//! Backfill's reconciliation (issue 25): a record we hold as live that its
//! PDS no longer lists was deleted while we were not listening. Its
//! deletion goes through intake like the firehose's; this records why, so
//! an auditor sees that the deletion came from a backfill and not from a
//! delivered commit.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::envelope::{Actor, Append, EventId, EventMetadata, Origin, StreamId, derived_uuid};

/// The reason a backfill's deletion carries.
pub const MISSING_AT_THE_PDS: &str = "missing at the PDS during backfill";

/// The stream of a DID's backfill decisions.
pub fn backfill_stream(did: &str) -> StreamId {
    StreamId::new("backfill", did)
}

/// A record held as live was not at its PDS when a backfill read the
/// repository at `rev`, nor when it was asked for once more. Schema
/// version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordMissingAtPds {
    /// The record's AT-URI.
    pub uri: String,
    /// The repository's revision the backfill read.
    pub rev: String,
    /// Why it is deleted here ([`MISSING_AT_THE_PDS`]).
    pub reason: String,
}

impl RecordMissingAtPds {
    /// `uri`, missing at revision `rev`.
    pub fn new(uri: &str, rev: &str) -> Self {
        Self {
            uri: uri.to_owned(),
            rev: rev.to_owned(),
            reason: MISSING_AT_THE_PDS.to_owned(),
        }
    }

    /// Its id: one per record and revision, so a backfill run again at the
    /// same revision records it once.
    pub fn event_id(&self) -> EventId {
        EventId(derived_uuid(
            "record-missing-at-pds",
            &format!("{}/{}", self.uri, self.rev),
        ))
    }
}

impl RecordMissingAtPds {
    /// It, on its way to `did`'s backfill stream.
    pub fn append(self, did: &str) -> Append {
        Append {
            stream: backfill_stream(did),
            metadata: EventMetadata {
                event_id: self.event_id(),
                causation_id: None,
                correlation_id: None,
                origin: Origin::Bluesky,
                actor: Actor::system("backfill"),
            },
            event: self.into(),
        }
    }
}

/// The records of `held` (live here) that `listed` (at the PDS) lacks, in
/// order, each once.
pub fn missing(held: &[String], listed: &[String]) -> Vec<String> {
    let listed: BTreeSet<&String> = listed.iter().collect();
    let missing: BTreeSet<&String> = held.iter().filter(|uri| !listed.contains(uri)).collect();
    missing.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_held_and_not_listed_is_missing_once() {
        let held = ["at://d/e/1", "at://d/e/2", "at://d/e/2", "at://d/e/3"].map(String::from);
        let listed = ["at://d/e/1", "at://d/e/4"].map(String::from);
        assert_eq!(missing(&held, &listed), ["at://d/e/2", "at://d/e/3"]);
        assert_eq!(missing(&listed, &listed), Vec::<String>::new());
    }

    #[test]
    fn the_same_record_at_the_same_revision_has_one_id() {
        let a = RecordMissingAtPds::new("at://d/e/1", "3mptbypluud2a");
        assert_eq!(
            a.event_id(),
            RecordMissingAtPds::new("at://d/e/1", "3mptbypluud2a").event_id()
        );
        assert_ne!(
            a.event_id(),
            RecordMissingAtPds::new("at://d/e/1", "3mptbypluud2b").event_id()
        );
        assert_eq!(a.reason, MISSING_AT_THE_PDS);
    }
}
