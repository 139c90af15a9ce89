//! Batches are applied as their messages would be one by one: the same
//! events, in the same order, with the same outcomes, redeliveries and bad
//! input included.

use domain::GlobalPosition;
use ingest::apply::{Applier, Incoming, Outcome};
use store::testkit::ScratchDatabase;
use store::{EventStore, PgEventStore};

#[path = "../../tests/support/capture.rs"]
mod capture;

use capture::{EVENT, RSVP, busy_capture, commit, event_record, rsvp_record};

/// A busy capture with redeliveries, a bad record, and identity messages.
fn deliveries() -> Vec<String> {
    let mut lines = busy_capture(6);
    let redelivered: Vec<String> = lines.iter().step_by(5).cloned().collect();
    for (n, line) in redelivered.into_iter().enumerate() {
        lines.insert((n * 7 + 3).min(lines.len()), line);
    }
    let org = "did:plc:org1";
    lines.insert(
        20,
        commit(
            org,
            1,
            "create",
            EVENT,
            "bad",
            Some(serde_json::json!({"name": 3})),
        ),
    );
    lines.insert(
        30,
        serde_json::json!({"did": org, "time_us": 2, "kind": "identity",
            "identity": {"did": org, "handle": "org1.example.com", "seq": 1, "time": "2026-11-01T10:00:00Z"}})
        .to_string(),
    );
    lines.push(commit(
        org,
        3,
        "update",
        EVENT,
        "ev0",
        Some(event_record("Renamed", serde_json::json!({}))),
    ));
    lines
}

/// Every stored event as (stream, event id), in global order.
async fn log(store: &PgEventStore) -> Vec<(String, String)> {
    store
        .read_all(GlobalPosition(0), 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|event| {
            (
                event.stream_id.to_string(),
                event.metadata.event_id.to_string(),
            )
        })
        .collect()
}

async fn one_by_one(lines: &[String]) -> (Vec<Outcome>, Vec<(String, String)>, ScratchDatabase) {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    let applier = Applier::new(store.clone());
    let mut outcomes = vec![];
    for (n, line) in lines.iter().enumerate() {
        outcomes.push(applier.apply(line, &format!("m:{n}")).await.unwrap());
    }
    (outcomes, log(&store).await, db)
}

async fn in_batches(lines: &[String], size: usize) -> (Vec<Outcome>, Vec<(String, String)>) {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    let applier = Applier::new(store.clone());
    let positions: Vec<String> = (0..lines.len()).map(|n| format!("m:{n}")).collect();
    let incoming: Vec<Incoming> = lines
        .iter()
        .zip(&positions)
        .map(|(raw, position)| Incoming::message(raw, position))
        .collect();
    let mut outcomes = vec![];
    for batch in incoming.chunks(size) {
        outcomes.extend(applier.apply_batch(batch).await.unwrap());
    }
    // Applying them all again is a redelivery of everything.
    for outcome in applier.apply_batch(&incoming).await.unwrap() {
        assert!(
            matches!(
                outcome,
                Outcome::AlreadyApplied | Outcome::Ignored(_) | Outcome::Rejected { .. }
            ),
            "{outcome:?}"
        );
    }
    (outcomes, log(&store).await)
}

#[tokio::test]
async fn a_batch_records_what_its_messages_record_one_by_one() {
    let lines = deliveries();
    let (expected_outcomes, expected_log, _db) = one_by_one(&lines).await;
    assert!(expected_outcomes.contains(&Outcome::Parked));
    assert!(expected_outcomes.contains(&Outcome::AlreadyApplied));
    assert!(
        expected_outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Rejected { .. }))
    );
    for size in [2, 7, 500] {
        let (outcomes, log) = in_batches(&lines, size).await;
        assert_eq!(outcomes, expected_outcomes, "batches of {size}");
        assert_eq!(log, expected_log, "batches of {size}");
    }
}

#[tokio::test]
async fn a_refused_message_leaves_only_its_rejection_and_the_batch_goes_on() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    let applier = Applier::new(store.clone());
    let new_org = "did:plc:refusedonly";
    let lines = [
        commit(new_org, 1, "delete", EVENT, "never", None),
        commit(
            "did:plc:fine",
            2,
            "create",
            EVENT,
            "ok",
            Some(event_record("Fine", serde_json::json!({}))),
        ),
    ];
    let incoming = [
        Incoming::message(&lines[0], "m:0"),
        Incoming::message(&lines[1], "m:1"),
    ];
    let outcomes = applier.apply_batch(&incoming).await.unwrap();
    assert_eq!(
        outcomes,
        [
            Outcome::Rejected {
                subject: format!("at://{new_org}/{EVENT}/never"),
                reason: "delete of an event record never imported: nothing to delete".into()
            },
            Outcome::Applied(vec!["ShadowAccountCreated", "EventImported"]),
        ]
    );
    let streams: Vec<String> = log(&store)
        .await
        .into_iter()
        .map(|(stream, _)| stream)
        .collect();
    assert_eq!(streams.len(), 3);
    assert!(streams[0].starts_with("rejected-"), "{streams:?}");
    assert!(
        !streams.iter().any(|s| s.contains("refusedonly")),
        "{streams:?}"
    );
}

#[tokio::test]
async fn an_rsvp_deleted_while_parked_is_not_applied_when_its_event_arrives() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    let applier = Applier::new(store.clone());
    let event_uri = format!("at://did:plc:lateorg/{EVENT}/later");
    let lines = [
        commit(
            "did:plc:changedmind",
            1,
            "create",
            RSVP,
            "r",
            Some(rsvp_record(&event_uri, "going")),
        ),
        commit("did:plc:changedmind", 2, "delete", RSVP, "r", None),
        commit(
            "did:plc:lateorg",
            3,
            "create",
            EVENT,
            "later",
            Some(event_record("Late", serde_json::json!({}))),
        ),
    ];
    let mut outcomes = vec![];
    for (n, line) in lines.iter().enumerate() {
        outcomes.push(applier.apply(line, &format!("m:{n}")).await.unwrap());
    }
    assert_eq!(
        outcomes,
        [
            Outcome::Parked,
            Outcome::Applied(vec!["RsvpWithdrawn"]),
            Outcome::Applied(vec!["ShadowAccountCreated", "EventImported"]),
        ]
    );
    let attendance: Vec<String> = store
        .read_all(GlobalPosition(0), 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.stream_id.as_str().starts_with("attendance-"))
        .map(|event| event.payload.event_type)
        .collect();
    assert_eq!(attendance, ["RsvpWithdrawn"]);
}

#[tokio::test]
async fn a_message_rejected_before_in_other_words_is_not_retried_forever() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    let line = commit("did:plc:reworded", 1, "delete", EVENT, "never", None);
    let subject = format!("at://did:plc:reworded/{EVENT}/never");
    let earlier = domain::intake::rejection(
        "firehose",
        &subject,
        "an older wording",
        domain::rejection::Input::Whole(line.as_bytes()),
    );
    let stored = domain::NewEvent {
        metadata: earlier.metadata,
        payload: earlier.event.encode(),
    };
    store
        .append(&earlier.stream, store::ExpectedVersion::Any, vec![stored])
        .await
        .unwrap();

    let outcome = Applier::new(store.clone())
        .apply(&line, "m:0")
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Rejected { subject: s, .. } if *s == subject),
        "{outcome:?}"
    );
    assert_eq!(
        log(&store).await.len(),
        1,
        "the earlier rejection stays the only record"
    );
}
