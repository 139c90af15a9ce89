//! Generated Jetstream captures for tests and benchmarks: organizers
//! creating, updating and deleting events, guests answering (some before
//! the event exists) and withdrawing.

use ipld_core::cid::Cid;
use ipld_core::cid::multihash::Multihash;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const EVENT: &str = "community.lexicon.calendar.event";
pub const RSVP: &str = "community.lexicon.calendar.rsvp";
const SOME_CID: &str = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

/// A valid CID (dag-cbor, sha2-256) standing for `seed`'s version.
pub fn cid_of(seed: &str) -> String {
    let digest = Multihash::wrap(0x12, &Sha256::digest(seed.as_bytes())).expect("32-byte digest");
    Cid::new_v1(0x71, digest).to_string()
}

/// A repository revision: the TID of `time_us`.
pub fn rev_at(time_us: i64) -> String {
    domain::record_key::tid(time_us.max(0) as u64, 0)
}

/// One Jetstream commit line.
pub fn commit(
    did: &str,
    time_us: i64,
    operation: &str,
    collection: &str,
    rkey: &str,
    record: Option<Value>,
) -> String {
    let mut commit = json!({
        "rev": rev_at(time_us),
        "operation": operation,
        "collection": collection,
        "rkey": rkey,
    });
    if let Some(record) = record {
        commit["record"] = record;
        commit["cid"] = cid_of(&format!("{did}/{rkey}/{operation}{time_us}")).into();
    }
    json!({"did": did, "time_us": time_us, "kind": "commit", "commit": commit}).to_string()
}

/// A calendar event record with `extra` fields.
pub fn event_record(name: &str, extra: Value) -> Value {
    let mut record = json!({
        "$type": EVENT,
        "name": name,
        "createdAt": "2026-11-01T10:00:00Z",
        "startsAt": "2026-12-01T18:00:00Z",
    });
    for (key, value) in extra.as_object().into_iter().flatten() {
        record[key] = value.clone();
    }
    record
}

/// An RSVP record answering `subject` with `status` (`going`, ...).
pub fn rsvp_record(subject: &str, status: &str) -> Value {
    json!({
        "$type": RSVP,
        "status": format!("{RSVP}#{status}"),
        "subject": {"uri": subject, "cid": SOME_CID},
    })
}

/// A source clock: each call a millisecond later than the last, in Unix
/// microseconds from late 2025.
pub fn clock() -> impl FnMut() -> i64 {
    let mut time = 1_764_000_000_000_000i64;
    move || {
        time += 1_000;
        time
    }
}

/// A capture of `organizers` accounts with four events each: one updated,
/// one deleted (and an answer withdrawn), one answered before it exists;
/// three guests answer each.
pub fn busy_capture(organizers: usize) -> Vec<String> {
    let mut lines = vec![];
    let mut tick = clock();
    for o in 0..organizers {
        let org = format!("did:plc:org{o}");
        for e in 0..4 {
            let rkey = format!("ev{e}");
            let uri = format!("at://{org}/{EVENT}/{rkey}");
            let name = format!("Meetup {o}.{e}");
            let details = json!({"description": "Talks, pizza and a long line for the projector.", "mode": format!("{EVENT}#inperson")});
            if e == 3 {
                let early = rsvp_record(&uri, "going");
                lines.push(commit(
                    &format!("did:plc:guest{o}"),
                    tick(),
                    "create",
                    RSVP,
                    &format!("early{o}"),
                    Some(early),
                ));
            }
            lines.push(commit(
                &org,
                tick(),
                "create",
                EVENT,
                &rkey,
                Some(event_record(&name, details.clone())),
            ));
            for g in 0..3 {
                let status = ["going", "interested", "notgoing"][(o + e + g) % 3];
                lines.push(commit(
                    &format!("did:plc:guest{g}"),
                    tick(),
                    "create",
                    RSVP,
                    &format!("r{o}x{e}"),
                    Some(rsvp_record(&uri, status)),
                ));
            }
            if e == 1 {
                let moved = event_record(&format!("{name} (moved)"), details);
                lines.push(commit(&org, tick(), "update", EVENT, &rkey, Some(moved)));
            }
            if e == 2 {
                lines.push(commit(&org, tick(), "delete", EVENT, &rkey, None));
                lines.push(commit(
                    "did:plc:guest0",
                    tick(),
                    "delete",
                    RSVP,
                    &format!("r{o}x{e}"),
                    None,
                ));
            }
        }
    }
    lines
}
