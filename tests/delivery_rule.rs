//! Intake's pure step (`domain::delivery::decide`), without a store: it
//! names each stream it reads before it decides, parks an answer to an
//! event not seen yet and gives it once the event arrives, refuses what can
//! never apply, ignores DIDs it does not know and an older version of an
//! answer that moved to another event, and (property) after any
//! sequence of messages, a redelivery of those that recorded something
//! records nothing new, whatever came after them. (A message refused
//! because its record was not there yet is recorded as rejected by the
//! adapter, not here.)

use std::collections::BTreeMap;

use domain::delivery::{Routing, Streams, Undecided, decide};
use domain::identity::identity_stream;
use domain::intake::{Parsed, parse};
use domain::{DomainEvent, EventId, StreamId};
use proptest::prelude::*;
use serde_json::json;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;

use capture::{EVENT, RSVP, commit, event_record, rsvp_record};

/// The log as streams, each with its events.
#[derive(Clone, Debug, Default, PartialEq)]
struct Log(BTreeMap<StreamId, Vec<(EventId, DomainEvent)>>);

impl Log {
    /// Decides `line`, giving the rule each stream it asks for, and
    /// appends what it decided: what became of it, or why it was refused.
    fn deliver(&mut self, line: &str) -> Result<Routing, String> {
        let delivery = match parse(line, "test") {
            Parsed::Delivery(delivery) => delivery,
            other => return Err(format!("{other:?}")),
        };
        let mut streams = Streams::default();
        loop {
            match decide(&delivery, &streams) {
                Err(Undecided::Needs(stream)) => {
                    let events = self.0.get(&stream).cloned().unwrap_or_default();
                    streams.hold(stream, events);
                }
                Err(Undecided::Refused(reason)) => return Err(reason),
                Ok(routed) => {
                    for part in routed.parts {
                        self.0.entry(part.stream).or_default().extend(
                            part.events
                                .into_iter()
                                .map(|(metadata, event)| (metadata.event_id, event)),
                        );
                    }
                    return Ok(routed.routing);
                }
            }
        }
    }
}

fn event(did: &str, rkey: &str, name: &str, at: i64) -> String {
    commit(
        did,
        at,
        "create",
        EVENT,
        rkey,
        Some(event_record(name, json!({}))),
    )
}

fn answer(did: &str, rkey: &str, subject: &str, status: &str, at: i64) -> String {
    commit(
        did,
        at,
        "create",
        RSVP,
        rkey,
        Some(rsvp_record(subject, status)),
    )
}

fn deleted(did: &str, collection: &str, rkey: &str, at: i64) -> String {
    commit(did, at, "delete", collection, rkey, None)
}

fn identity(did: &str, handle: &str, at: i64) -> String {
    json!({"did": did, "time_us": at, "kind": "identity",
           "identity": {"did": did, "handle": handle, "seq": at, "time": "2026-11-01T10:00:00Z"}})
    .to_string()
}

const ORG: &str = "did:plc:org";
const GUEST: &str = "did:plc:guest";

fn uri(did: &str, rkey: &str) -> String {
    format!("at://{did}/{EVENT}/{rkey}")
}

#[test]
fn it_names_the_stream_it_reads_before_it_decides() {
    let Parsed::Delivery(delivery) = parse(&event(ORG, "e1", "Rust Meetup", 1), "test") else {
        panic!("a delivery");
    };
    assert_eq!(
        decide(&delivery, &Streams::default()),
        Err(Undecided::Needs(identity_stream(ORG)))
    );
}

#[test]
fn an_answer_before_its_event_is_parked_and_given_once_the_event_arrives() {
    let mut log = Log::default();
    let rsvp = answer(GUEST, "r1", &uri(ORG, "e1"), "going", 2);
    assert_eq!(log.deliver(&rsvp), Ok(Routing::Parked));
    assert_eq!(
        log.deliver(&rsvp),
        Ok(Routing::AlreadyApplied),
        "redelivered"
    );
    assert_eq!(
        log.deliver(&event(ORG, "e1", "Rust Meetup", 3)),
        Ok(Routing::Applied(vec![
            "ShadowAccountCreated",
            "EventImported",
            "RsvpChanged"
        ]))
    );
}

#[test]
fn what_can_never_apply_is_refused_and_an_unknown_did_ignored() {
    let mut log = Log::default();
    assert_eq!(
        log.deliver(&deleted(ORG, EVENT, "never", 1)),
        Err("delete of an event record never imported: nothing to delete".into())
    );
    assert_eq!(
        log.deliver(&deleted(GUEST, RSVP, "never", 2)),
        Err("delete of an RSVP record never seen: nothing to withdraw".into())
    );
    assert_eq!(
        log.deliver(&identity(ORG, "org.example.com", 3)),
        Ok(Routing::Ignored(format!("{ORG} is not known here")))
    );
    log.deliver(&event(ORG, "e1", "Rust Meetup", 4)).unwrap();
    assert_eq!(
        log.deliver(&identity(ORG, "org.example.com", 5)),
        Ok(Routing::Applied(vec!["HandleChanged"]))
    );
}

#[test]
fn an_older_version_of_an_answer_that_moved_to_another_event_is_ignored() {
    let mut log = Log::default();
    log.deliver(&event(ORG, "e1", "Rust Meetup", 1)).unwrap();
    log.deliver(&event(ORG, "e2", "Go Meetup", 2)).unwrap();
    let first = answer(GUEST, "r1", &uri(ORG, "e1"), "going", 3);
    log.deliver(&first).unwrap();
    log.deliver(&answer(GUEST, "r1", &uri(ORG, "e2"), "going", 4))
        .unwrap();
    let before = log.clone();
    let rsvp_uri = format!("at://{GUEST}/{RSVP}/r1");
    assert_eq!(
        log.deliver(&first),
        Ok(Routing::Ignored(format!(
            "an older version of {rsvp_uri} than the one recorded"
        )))
    );
    assert_eq!(
        log, before,
        "the record stays linked to the event it answers now"
    );
}

/// One message of a small world: two organizers' events (created,
/// renamed, deleted), a guest's answers to them, and identity changes.
fn message() -> impl Strategy<Value = String> {
    let did = prop_oneof![Just(ORG), Just("did:plc:other")];
    let rkey = prop_oneof![Just("e1"), Just("e2")];
    (0u8..5, did, rkey, 0u8..3, 1i64..1_000).prop_map(|(kind, did, rkey, version, at)| {
        let at = 1_764_000_000_000_000 + at * 1_000;
        match kind {
            0 | 1 => event(did, rkey, &format!("Meetup v{version}"), at),
            2 => deleted(did, EVENT, rkey, at),
            3 => answer(GUEST, &format!("r-{rkey}"), &uri(did, rkey), "going", at),
            _ => identity(did, &format!("h{version}.example.com"), at),
        }
    })
}

proptest! {
    #[test]
    fn a_redelivery_of_what_recorded_something_records_nothing_new(
        messages in prop::collection::vec(message(), 1..24)
    ) {
        let mut log = Log::default();
        let mut recorded = vec![];
        for line in &messages {
            if let Ok(Routing::Applied(_) | Routing::Parked) = log.deliver(line) {
                recorded.push(line);
            }
        }
        let once = log.clone();
        for line in recorded {
            let again = log.deliver(line);
            prop_assert!(
                !matches!(again, Ok(Routing::Applied(_)) | Ok(Routing::Parked)),
                "{line}: {again:?}"
            );
        }
        prop_assert_eq!(log, once);
    }
}
