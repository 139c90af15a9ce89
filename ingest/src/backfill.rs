//! A record read from its PDS during a backfill, as the firehose would
//! have delivered it: a Jetstream commit line that the same intake
//! applies. Its event ids derive from the record's identity and CID, so a
//! version the firehose already delivered is recognised and recorded only
//! once; its revision is the repository's as the backfill read it, never
//! older than a version recorded before.

use serde_json::{Value, json};

/// The commit line of `did`'s record `collection/rkey` at `cid`, listed at
/// revision `rev` and read at `time_us` (microseconds since the epoch).
pub fn commit_line(
    did: &str,
    rev: &str,
    time_us: i64,
    collection: &str,
    rkey: &str,
    cid: &str,
    record: &Value,
) -> String {
    line(
        did,
        time_us,
        json!({"rev": rev, "operation": "create", "collection": collection, "rkey": rkey,
            "record": record, "cid": cid}),
    )
}

/// The commit line deleting `did`'s record `collection/rkey`, found
/// missing at revision `rev` and read at `time_us`.
pub fn deletion_line(did: &str, rev: &str, time_us: i64, collection: &str, rkey: &str) -> String {
    line(
        did,
        time_us,
        json!({"rev": rev, "operation": "delete", "collection": collection, "rkey": rkey}),
    )
}

fn line(did: &str, time_us: i64, commit: Value) -> String {
    json!({"did": did, "time_us": time_us, "kind": "commit", "commit": commit}).to_string()
}

/// Where a backfilled record came from, as intake names a message's source
/// position.
pub fn position(did: &str, collection: &str, rkey: &str) -> String {
    format!("backfill:at://{did}/{collection}/{rkey}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::EventId;
    use domain::intake::{Change, Parsed, parse};

    #[test]
    fn a_listed_record_is_a_version_keyed_by_its_identity_and_cid() {
        let record = json!({"$type": "community.lexicon.calendar.event", "name": "Rust Meetup",
            "createdAt": "2026-11-01T10:00:00Z"});
        let cid = "bafyreigyny66xrsw4dsmltdguv4lcehcopbtlwopkssza2vdwltugb6s54";
        let line = commit_line(
            "did:plc:org",
            "3mptbypluud2a",
            1_765_000_000_000_000,
            "community.lexicon.calendar.event",
            "3ev",
            cid,
            &record,
        );
        let Parsed::Delivery(delivery) = parse(&line, "backfill") else {
            panic!("{line} is no delivery");
        };
        assert_eq!(
            delivery.key,
            EventId::for_record_version(
                "did:plc:org",
                "community.lexicon.calendar.event",
                "3ev",
                cid
            ),
            "the id the firehose's delivery of this version has"
        );
        match delivery.change {
            Change::EventVersion { uri, cid: read, .. } => {
                assert_eq!(uri, "at://did:plc:org/community.lexicon.calendar.event/3ev");
                assert_eq!(read, cid);
            }
            other => panic!("{other:?}"),
        }
    }
}
