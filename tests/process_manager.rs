//! The process manager on the real database: firehose deliveries through
//! the applier, OpenMeet's side appended as its events, decisions recorded
//! by the runner, read models built from the log, and `audit verify` and
//! `audit show` over the result.

use std::collections::BTreeMap;

use domain::checksum::content_checksum;
use domain::external_ref::{ExternalRefLinked, LocalRef, external_ref_stream};
use domain::occurrence::{
    EventDetails, OccurrenceEdited, OccurrenceId, OccurrenceScheduled, details_of,
};
use domain::sync::{ConflictResolved, OccurrencePublished, Policy, Winner, is_decision};
use domain::{Actor, DomainEvent, EventId, EventMetadata, NewEvent, Origin, StreamId};
use ingest::apply::{Applier, Outcome};
use projections::Projection;
use projections::audit::history::{Subject, history};
use projections::audit::verify::{Finding, Verification, verify};
use proptest::prelude::*;
use serde_json::{Value, json};
use store::postgres::chain::ChainBreak;
use store::testkit::ScratchDatabase;
use store::{EventStore, ExpectedVersion, PgEventStore};
use uuid::Uuid;

// Shared with tests/ingest.rs, which uses all of it.
#[allow(dead_code)]
#[path = "support/capture.rs"]
mod capture;

use capture::{EVENT, RSVP, commit, event_record, rsvp_record};

const OURS: &str = "did:plc:openmeet";
const ORGANIZER: &str = "did:plc:organizer";
const PUBLISHED_RKEY: &str = "3lpub";
/// `commit` names a version's CID after its operation and time.
const PUBLISHED_AT: i64 = 1_000;

fn published_uri() -> String {
    format!("at://{OURS}/{EVENT}/{PUBLISHED_RKEY}")
}

fn address() -> Value {
    json!({"$type": "community.lexicon.location.address", "country": "DE", "locality": "Berlin", "street": "Rungestraße 20"})
}

fn geo() -> Value {
    json!({"$type": "community.lexicon.location.geo", "latitude": "52.5128", "longitude": "13.4201"})
}

fn our_record(name: &str, locations: Value) -> Value {
    event_record(name, json!({"locations": locations}))
}

async fn fresh() -> (PgEventStore, ScratchDatabase) {
    let db = ScratchDatabase::create().await;
    (db.store(8).await, db)
}

/// Appends one of OpenMeet's own events, with an id derived from `label`.
async fn openmeet(store: &PgEventStore, stream: StreamId, label: &str, event: DomainEvent) {
    let metadata = EventMetadata {
        event_id: EventId(Uuid::new_v5(&Uuid::NAMESPACE_OID, label.as_bytes())),
        causation_id: None,
        correlation_id: None,
        origin: Origin::OpenMeet,
        actor: Actor::system("test-openmeet"),
    };
    let payload = event.encode();
    store
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![NewEvent { metadata, payload }],
        )
        .await
        .unwrap();
}

/// An occurrence scheduled in OpenMeet and published by us as
/// [`published_uri`], with the CID its firehose echo at `PUBLISHED_AT` has.
async fn published(store: &PgEventStore) -> OccurrenceId {
    let id = OccurrenceId(Uuid::from_u128(7));
    let record = our_record("Rust Meetup Berlin", json!([address()]));
    let details = details_of(&published_uri(), &record.to_string()).unwrap();
    let scheduled = OccurrenceScheduled {
        occurrence_id: id,
        series_id: None,
        details: details.clone(),
    };
    openmeet(store, id.stream(), "scheduled", scheduled.into()).await;
    let cid = capture::cid_of(&format!("{OURS}/{PUBLISHED_RKEY}/create{PUBLISHED_AT}"));
    let publication = OccurrencePublished {
        occurrence_id: id,
        uri: published_uri(),
        cid: cid.clone(),
        checksum: content_checksum(&details),
    };
    openmeet(store, id.stream(), "published", publication.into()).await;
    let link = ExternalRefLinked {
        uri: published_uri(),
        cid: Some(cid),
        target: LocalRef::Occurrence(id),
    };
    openmeet(
        store,
        external_ref_stream(&published_uri()),
        "link",
        link.into(),
    )
    .await;
    id
}

/// Our published occurrence, then its record renamed on Bluesky by another
/// client: one conflict (the name) and a new link.
async fn renamed_on_bluesky(store: &PgEventStore) {
    published(store).await;
    let edited = commit(
        OURS,
        2_000,
        "update",
        EVENT,
        PUBLISHED_RKEY,
        Some(our_record("Renamed on Bluesky", json!([address()]))),
    );
    deliver(store, &edited).await;
}

async fn deliver(store: &PgEventStore, line: &str) -> Outcome {
    Applier::new(store.clone())
        .apply(line, "test")
        .await
        .expect("the store is reachable")
}

async fn reconcile(store: &PgEventStore) -> u64 {
    let (mut runner, _) = followers::process_manager::start(
        store.clone(),
        followers::SnapshotPolicy::default(),
        &|_, _| {},
    )
    .await
    .unwrap();
    runner.until_idle().await.unwrap().recorded
}

/// Every decision in the log, with its stream, id, cause and payload.
async fn decisions(store: &PgEventStore) -> Vec<(String, EventId, Option<EventId>, Value)> {
    let mut found = vec![];
    for event in store
        .read_all(domain::GlobalPosition(0), 100_000)
        .await
        .unwrap()
    {
        if is_decision(&event) {
            let decoded = DomainEvent::decode(&event.payload).unwrap();
            found.push((
                event.stream_id.to_string(),
                event.metadata.event_id,
                event.metadata.causation_id,
                json!({"type": event.payload.event_type, "payload": decoded.payload_json()}),
            ));
        }
    }
    found.sort_by_key(|decision| decision.1.0);
    found
}

fn conflicts(found: &[(String, EventId, Option<EventId>, Value)]) -> Vec<ConflictResolved> {
    found
        .iter()
        .filter(|(_, _, _, decision)| decision["type"] == "ConflictResolved")
        .map(|(_, _, _, decision)| serde_json::from_value(decision["payload"].clone()).unwrap())
        .collect()
}

/// Every read model, rebuilt from the log: rows as JSON without the
/// position that last touched them.
async fn read_models(store: &PgEventStore) -> BTreeMap<&'static str, Vec<String>> {
    projections::rebuild::rebuild(store, &Projection::ALL, false, &|_, _| {})
        .await
        .unwrap();
    let mut models = BTreeMap::new();
    for table in [
        "series",
        "occurrences",
        "attendees",
        "users",
        "external_refs",
        "series_proposals",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT (to_jsonb(t) - 'last_position')::text FROM read.{table} t ORDER BY 1"
        )))
        .fetch_all(store.pool())
        .await
        .unwrap();
        models.insert(table, rows);
    }
    models
}

async fn occurrence_row(store: &PgEventStore, id: OccurrenceId) -> (String, Value, i64) {
    let (name, places): (String, Value) =
        sqlx::query_as("SELECT name, places FROM read.occurrences WHERE id = $1")
            .bind(id.0)
            .fetch_one(store.pool())
            .await
            .unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM read.occurrences")
        .fetch_one(store.pool())
        .await
        .unwrap();
    (name, places, count)
}

#[tokio::test]
async fn our_echo_is_matched_and_an_edit_on_bluesky_is_resolved_for_openmeet() {
    let (store, _db) = fresh().await;
    let id = published(&store).await;
    let echo = commit(
        OURS,
        PUBLISHED_AT,
        "create",
        EVENT,
        PUBLISHED_RKEY,
        Some(our_record("Rust Meetup Berlin", json!([address()]))),
    );
    let edited = commit(
        OURS,
        2_000,
        "update",
        EVENT,
        PUBLISHED_RKEY,
        Some(our_record("Rust meetup #12", json!([geo()]))),
    );
    deliver(&store, &echo).await;
    deliver(&store, &edited).await;

    assert_eq!(reconcile(&store).await, 4);
    let found = decisions(&store).await;
    let types: Vec<&Value> = found.iter().map(|(_, _, _, d)| &d["type"]).collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "SelfPublishedEchoMatched")
            .count(),
        1
    );
    assert_eq!(
        types.iter().filter(|t| **t == "ExternalRefLinked").count(),
        1
    );
    let resolved = conflicts(&found);
    let by_field: BTreeMap<&str, (Winner, Policy)> = resolved
        .iter()
        .map(|c| (c.resolved.field(), (c.winner, c.policy)))
        .collect();
    assert_eq!(
        by_field,
        BTreeMap::from([
            ("name", (Winner::OpenMeet, Policy::SourceOfTruth)),
            ("locations", (Winner::Merged, Policy::LocationsMerged)),
        ])
    );

    read_models(&store).await;
    let (name, places, occurrences) = occurrence_row(&store, id).await;
    assert_eq!(name, "Rust Meetup Berlin");
    assert_eq!(places.as_array().map(Vec::len), Some(2), "{places}");
    assert_eq!(occurrences, 1, "the echo created no second occurrence");
}

#[tokio::test]
async fn a_manual_edit_of_an_imported_event_survives_and_audit_show_says_why() {
    let (store, _db) = fresh().await;
    let uri = format!("at://{ORGANIZER}/{EVENT}/3limp");
    let created = commit(
        ORGANIZER,
        1_000,
        "create",
        EVENT,
        "3limp",
        Some(event_record("Rust Meetup", json!({}))),
    );
    deliver(&store, &created).await;
    let id = OccurrenceId::for_record(&uri);
    let mut edited: EventDetails =
        details_of(&uri, &event_record("Rust Meetup", json!({})).to_string()).unwrap();
    edited.name = "Rust Meetup Berlin".into();
    let edit = OccurrenceEdited {
        occurrence_id: id,
        details: edited,
    };
    openmeet(&store, id.stream(), "manual edit", edit.into()).await;
    let updated = commit(
        ORGANIZER,
        2_000,
        "update",
        EVENT,
        "3limp",
        Some(event_record("Rust meetup #12", json!({}))),
    );
    deliver(&store, &updated).await;

    assert_eq!(reconcile(&store).await, 1);
    let resolved = conflicts(&decisions(&store).await);
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        (resolved[0].winner, resolved[0].policy),
        (Winner::OpenMeet, Policy::ManualEditPreserved)
    );
    assert_eq!(
        resolved[0].bluesky,
        domain::sync::FieldValue::Name("Rust meetup #12".into())
    );
    read_models(&store).await;
    assert_eq!(occurrence_row(&store, id).await.0, "Rust Meetup Berlin");

    let told = history(&store, Subject::parse(&uri)).await.unwrap();
    let types: Vec<&str> = told
        .events
        .iter()
        .map(|e| e.payload.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "EventImported",
            "OccurrenceEdited",
            "EventChangedExternally",
            "ConflictResolved"
        ]
    );
    let decision = DomainEvent::decode(&told.events[3].payload).unwrap();
    let why = domain::audit::explain(&decision).unwrap();
    assert!(
        why.starts_with(
            "name: OpenMeet's value kept, because a manual edit made in OpenMeet is preserved"
        ),
        "{why}"
    );
    assert!(why.contains("Bluesky had \"Rust meetup #12\""), "{why}");
}

#[tokio::test]
async fn a_restarted_runner_records_no_decision_twice() {
    let (store, _db) = fresh().await;
    renamed_on_bluesky(&store).await;
    assert_eq!(reconcile(&store).await, 2);
    let before = decisions(&store).await;

    // As after a crash between the append and the checkpoint.
    sqlx::query("UPDATE process.checkpoints SET position = 0")
        .execute(store.pool())
        .await
        .unwrap();
    reconcile(&store).await;
    assert_eq!(decisions(&store).await, before);
    let report = verify(&store, &|_, _| {}).await.unwrap();
    assert_eq!(
        (report.decisions_matched, report.findings.clone()),
        (2, vec![])
    );
}

/// Rewrites one stored event around the append-only guard, as someone with
/// the database's superuser could.
async fn tamper(store: &PgEventStore, position: u64, payload: Vec<u8>) {
    let mut tx = store.pool().begin().await.unwrap();
    sqlx::raw_sql("ALTER TABLE eventstore.events DISABLE TRIGGER events_are_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE eventstore.events SET payload = $1 WHERE global_position = $2")
        .bind(payload)
        .bind(position as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::raw_sql("ALTER TABLE eventstore.events ENABLE TRIGGER events_are_append_only")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn findings_at(report: &Verification, position: domain::GlobalPosition) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|finding| finding.position() == position)
        .collect()
}

#[tokio::test]
async fn audit_verify_finds_a_decision_changed_by_hand_and_a_tampered_payload() {
    let (store, _db) = fresh().await;
    renamed_on_bluesky(&store).await;
    let imported = commit(
        ORGANIZER,
        3_000,
        "create",
        EVENT,
        "3limp",
        Some(event_record("Book Club", json!({}))),
    );
    deliver(&store, &imported).await;
    reconcile(&store).await;
    let clean = verify(&store, &|_, _| {}).await.unwrap();
    assert_eq!(clean.findings, vec![]);

    let log = store
        .read_all(domain::GlobalPosition(0), 1_000)
        .await
        .unwrap();
    let decision = log
        .iter()
        .find(|e| e.payload.event_type == "ConflictResolved")
        .unwrap();
    let DomainEvent::ConflictResolved(mut flipped) =
        DomainEvent::decode(&decision.payload).unwrap()
    else {
        unreachable!("the type was checked")
    };
    flipped.winner = Winner::Bluesky;
    flipped.resolved = flipped.bluesky.clone();
    tamper(
        &store,
        decision.global_position.0,
        DomainEvent::from(flipped).encode().bytes,
    )
    .await;
    let import = log
        .iter()
        .find(|e| e.payload.event_type == "EventImported")
        .unwrap();
    let mut forged = import.payload.bytes.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    tamper(&store, import.global_position.0, forged).await;

    let report = verify(&store, &|_, _| {}).await.unwrap();
    let at_decision = findings_at(&report, decision.global_position);
    assert!(
        matches!(
            at_decision.as_slice(),
            [
                Finding::Chain(ChainBreak::Mismatch { .. }),
                Finding::Altered { .. }
            ]
        ),
        "{at_decision:?}"
    );
    // The report shows both: what the log holds and what the replay decided.
    let Finding::Altered {
        recorded, replayed, ..
    } = at_decision[1]
    else {
        unreachable!("matched above")
    };
    assert_eq!(recorded["payload"]["winner"], "bluesky");
    assert_eq!(replayed["payload"]["winner"], "openmeet");
    assert_eq!(replayed["event_id"], recorded["event_id"]);
    let at_import = findings_at(&report, import.global_position);
    assert!(
        matches!(
            at_import.first(),
            Some(Finding::Chain(ChainBreak::Mismatch { .. }))
        ),
        "{at_import:?}"
    );
    // The process manager's snapshot, taken when it caught up before the
    // log was changed, is no longer the fold of the log.
    let snapshots: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|finding| matches!(finding, Finding::Snapshot { name, .. } if name == "process-manager"))
        .collect();
    assert_eq!(snapshots.len(), 1, "{:?}", report.findings);
    assert_eq!(
        report.findings.len(),
        at_decision.len() + at_import.len() + snapshots.len(),
        "{:?}",
        report.findings
    );
}

/// The deliveries of one scenario, per repository, in the order each
/// repository wrote them: our published record echoed then edited on
/// Bluesky, an organizer's events created, updated and deleted, and guests
/// answering (one before the event exists).
fn repositories() -> Vec<Vec<String>> {
    let event = |rkey: &str| format!("at://{ORGANIZER}/{EVENT}/{rkey}");
    vec![
        vec![
            commit(
                OURS,
                PUBLISHED_AT,
                "create",
                EVENT,
                PUBLISHED_RKEY,
                Some(our_record("Rust Meetup Berlin", json!([address()]))),
            ),
            commit(
                OURS,
                2_000,
                "update",
                EVENT,
                PUBLISHED_RKEY,
                Some(our_record("Rust meetup #12", json!([address(), geo()]))),
            ),
        ],
        vec![
            commit(
                ORGANIZER,
                1_100,
                "create",
                EVENT,
                "3la",
                Some(event_record("Book Club", json!({}))),
            ),
            commit(
                ORGANIZER,
                1_200,
                "create",
                EVENT,
                "3lb",
                Some(event_record("Board Games", json!({}))),
            ),
            commit(
                ORGANIZER,
                1_300,
                "update",
                EVENT,
                "3la",
                Some(event_record("Book Club: Dune", json!({}))),
            ),
            commit(ORGANIZER, 1_400, "delete", EVENT, "3lb", None),
        ],
        vec![
            commit(
                "did:plc:guest1",
                1_150,
                "create",
                RSVP,
                "3lr1",
                Some(rsvp_record(&event("3la"), "going")),
            ),
            commit(
                "did:plc:guest1",
                1_500,
                "update",
                RSVP,
                "3lr1",
                Some(rsvp_record(&event("3la"), "notgoing")),
            ),
        ],
        vec![commit(
            "did:plc:guest2",
            1_050,
            "create",
            RSVP,
            "3lr2",
            Some(rsvp_record(&event("3la"), "interested")),
        )],
    ]
}

/// A delivery order: repositories interleaved as `picks` says, each in its
/// own order, and the messages named by `repeats` delivered again, later.
fn interleaving(picks: &[usize], repeats: &[usize]) -> Vec<String> {
    let mut queues: Vec<std::collections::VecDeque<String>> =
        repositories().into_iter().map(Into::into).collect();
    let mut order = vec![];
    let mut pick = picks.iter().cycle();
    while queues.iter().any(|queue| !queue.is_empty()) {
        let open: Vec<usize> = (0..queues.len())
            .filter(|&n| !queues[n].is_empty())
            .collect();
        let chosen = open[pick.next().copied().unwrap_or(0) % open.len()];
        order.extend(queues[chosen].pop_front());
    }
    // A message comes again only after it came first, as when a consumer
    // re-reads the source from an older cursor.
    for &repeat in repeats {
        let original = repeat % order.len();
        let at = original + 1 + repeat % (order.len() - original);
        order.insert(at, order[original].clone());
    }
    order
}

async fn outcome_of(
    order: &[String],
) -> (
    BTreeMap<&'static str, Vec<String>>,
    Vec<(String, EventId, Option<EventId>, Value)>,
) {
    let (store, _db) = fresh().await;
    published(&store).await;
    for line in order {
        deliver(&store, line).await;
    }
    reconcile(&store).await;
    (read_models(&store).await, decisions(&store).await)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    /// Repositories interleaved in any way, any messages delivered twice:
    /// the same read models and the same decisions, event for event.
    #[test]
    fn any_interleaving_and_redelivery_yields_the_same_read_models_and_decisions(
        picks in proptest::collection::vec(0usize..4, 1..12),
        repeats in proptest::collection::vec(0usize..64, 0..6),
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let in_order: Vec<String> = repositories().into_iter().flatten().collect();
        let expected = runtime.block_on(outcome_of(&in_order));
        prop_assert_eq!(conflicts(&expected.1).len(), 2, "the edit on Bluesky was resolved: {:?}", expected.1);
        // One row per record, answer and DID: ours (echoed and edited), the
        // organizer's two events (one deleted), two guests' answers to one
        // event, and four accounts.
        let rows = |table: &str| expected.0[table].len();
        prop_assert_eq!(
            (rows("occurrences"), rows("attendees"), rows("users")),
            (3, 2, 4)
        );
        let shuffled = runtime.block_on(outcome_of(&interleaving(&picks, &repeats)));
        prop_assert_eq!(shuffled.0, expected.0);
        prop_assert_eq!(shuffled.1, expected.1);
    }
}

fn binary(db: &ScratchDatabase, args: &[&str]) -> (Option<i32>, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[tokio::test]
async fn the_audit_commands_tell_the_history_and_fail_on_a_changed_decision() {
    let (store, db) = fresh().await;
    renamed_on_bluesky(&store).await;
    let (code, out) = binary(&db, &["reconcile", "--until-idle"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("2 decisions recorded"), "{out}");

    let (code, out) = binary(&db, &["audit", "show", "--json", &published_uri()]);
    assert_eq!(code, Some(0));
    let told: Value = serde_json::from_str(&out).unwrap();
    let types: Vec<&str> = told["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "OccurrenceScheduled",
            "OccurrencePublished",
            "ExternalRefLinked",
            "EventChangedExternally",
            "ConflictResolved",
            "ExternalRefLinked"
        ]
    );
    let why = told["events"][4]["why"].as_str().unwrap();
    assert!(why.starts_with("name: OpenMeet's value kept, because the platform the event originates from is its source of truth"), "{why}");

    let (code, out) = binary(&db, &["audit", "verify"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("2 recorded decisions match"), "{out}");

    let position: i64 = sqlx::query_scalar(
        "SELECT global_position FROM eventstore.events WHERE event_type = 'ConflictResolved'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    let (code, out) = binary(&db, &["audit", "show", &published_uri()]);
    assert_eq!(code, Some(0));
    assert!(out.contains(&format!("#{position} ")), "{out}");
    tamper(&store, position as u64, vec![0]).await;
    let (code, out) = binary(&db, &["audit", "verify"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("hash chain broken at position {position}")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "position {position}: ConflictResolved does not decode"
        )),
        "{out}"
    );
}

/// Three weekly Tuesday meetups of the organizer, record keys `{prefix}0..2`.
async fn deliver_weekly_meetups(store: &PgEventStore, prefix: &str) {
    for (n, day) in ["2026-12-01", "2026-12-08", "2026-12-15"]
        .iter()
        .enumerate()
    {
        let record = event_record(
            &format!("Rust Meetup #{}", 12 + n),
            json!({"startsAt": format!("{day}T18:00:00Z")}),
        );
        let line = commit(
            ORGANIZER,
            1_000 + n as i64,
            "create",
            EVENT,
            &format!("{prefix}{n}"),
            Some(record),
        );
        deliver(store, &line).await;
    }
}

#[tokio::test]
async fn weekly_imports_become_one_proposal_whose_versions_follow_the_group() {
    let (store, _db) = fresh().await;
    deliver_weekly_meetups(&store, "3lw").await;
    reconcile(&store).await;
    read_models(&store).await;
    let proposals = || async {
        sqlx::query_as::<_, (i32, Value, String)>(
            "SELECT version, uris, rrule FROM read.series_proposals",
        )
        .fetch_all(store.pool())
        .await
        .unwrap()
    };
    let first = proposals().await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        (first[0].0, first[0].1.as_array().map(Vec::len)),
        (1, Some(3))
    );
    assert!(
        first[0].2.contains("RRULE:FREQ=WEEKLY;BYDAY=TU"),
        "{}",
        first[0].2
    );

    let fourth = event_record(
        "Rust Meetup #15",
        json!({"startsAt": "2026-12-22T18:00:00Z"}),
    );
    deliver(
        &store,
        &commit(ORGANIZER, 1_010, "create", EVENT, "3lw3", Some(fourth)),
    )
    .await;
    reconcile(&store).await;
    read_models(&store).await;
    let second = proposals().await;
    assert_eq!(
        second.len(),
        1,
        "a new version, not a second proposal: {second:?}"
    );
    assert_eq!(
        (second[0].0, second[0].1.as_array().map(Vec::len)),
        (2, Some(4))
    );
    assert_eq!(verify(&store, &|_, _| {}).await.unwrap().findings, vec![]);
}

#[tokio::test]
async fn audit_verify_finds_a_decision_removed_by_hand_and_shows_what_the_replay_decided() {
    let (store, _db) = fresh().await;
    renamed_on_bluesky(&store).await;
    reconcile(&store).await;
    let (position, cause): (i64, Uuid) = sqlx::query_as(
        "SELECT global_position, causation_id FROM eventstore.events WHERE event_type = 'ConflictResolved'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE eventstore.events DISABLE TRIGGER events_are_append_only;
         DELETE FROM eventstore.events WHERE global_position = {position};
         ALTER TABLE eventstore.events ENABLE TRIGGER events_are_append_only;"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    let cause_position: i64 =
        sqlx::query_scalar("SELECT global_position FROM eventstore.events WHERE event_id = $1")
            .bind(cause)
            .fetch_one(store.pool())
            .await
            .unwrap();

    let report = verify(&store, &|_, _| {}).await.unwrap();
    let missing: Vec<&Value> = report
        .findings
        .iter()
        .filter_map(|finding| match finding {
            Finding::Missing { cause, replayed } if cause.0 == cause_position as u64 => {
                Some(replayed)
            }
            _ => None,
        })
        .collect();
    assert_eq!(missing.len(), 1, "{:?}", report.findings);
    assert_eq!(missing[0]["type"], "ConflictResolved");
    assert_eq!(missing[0]["payload"]["winner"], "openmeet");
    assert!(
        report
            .findings
            .iter()
            .any(|finding| matches!(finding, Finding::Chain(ChainBreak::Gap { .. }))),
        "{:?}",
        report.findings
    );
}

#[tokio::test]
async fn audit_show_finds_a_rejected_record_by_its_uri_and_nothing_by_part_of_it() {
    let (store, _db) = fresh().await;
    let broken =
        json!({"$type": EVENT, "name": "No creation date", "startsAt": "2026-12-01T18:00:00Z"});
    let outcome = deliver(
        &store,
        &commit(ORGANIZER, 1_000, "create", EVENT, "3lbroken", Some(broken)),
    )
    .await;
    assert!(matches!(outcome, Outcome::Rejected { .. }), "{outcome:?}");
    let uri = format!("at://{ORGANIZER}/{EVENT}/3lbroken");

    let told = history(&store, Subject::parse(&uri)).await.unwrap();
    let types: Vec<&str> = told
        .events
        .iter()
        .map(|e| e.payload.event_type.as_str())
        .collect();
    assert_eq!(types, ["RecordRejected"]);
    let why =
        domain::audit::explain(&DomainEvent::decode(&told.events[0].payload).unwrap()).unwrap();
    assert!(why.contains("createdAt"), "{why}");

    let part = history(&store, Subject::parse(&uri[..uri.len() - 3])).await;
    assert!(
        matches!(
            part,
            Err(projections::audit::history::HistoryError::Unknown(_))
        ),
        "{part:?}"
    );
    let whole_did = history(&store, Subject::parse(ORGANIZER)).await.unwrap();
    assert_eq!(
        whole_did.events.len(),
        1,
        "the DID's history holds its rejected record"
    );
}

#[tokio::test]
async fn an_answer_to_a_record_we_published_goes_to_our_occurrence() {
    let (store, _db) = fresh().await;
    let id = published(&store).await;
    let answer = commit(
        "did:plc:guest1",
        3_000,
        "create",
        RSVP,
        "3lr1",
        Some(rsvp_record(&published_uri(), "going")),
    );
    assert!(
        matches!(deliver(&store, &answer).await, Outcome::Applied(_)),
        "the event is known: the answer is not parked"
    );
    read_models(&store).await;
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT occurrence_id, status FROM read.attendees")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(rows, [(id.0, "attending".to_owned())]);
}

/// A log whose series proposals were made by earlier rules of detection,
/// which this build decides otherwise: recorded by hand as the process
/// manager wrote version 1 of `SeriesProposed`.
async fn proposed_by_earlier_rules(store: &PgEventStore, detector_of_record: Option<u16>) {
    deliver_weekly_meetups(store, "3le").await;
    let v1 = domain::series_detection::SeriesProposedV1 {
        proposal_id: domain::series_detection::ProposalId(Uuid::from_u128(0xe1)),
        version: 1,
        organizer: ORGANIZER.into(),
        uris: vec![format!("at://{ORGANIZER}/{EVENT}/3le0")],
        rrule: "DTSTART;TZID=UTC:20261201T180000\nRRULE:FREQ=WEEKLY;BYDAY=TU".into(),
        confidence: 1000,
        series_name: "rust meetup".into(),
        name_similarity: 1000,
        pattern: "weekly on Tuesday".into(),
        timing: 1000,
        location_similarity: None,
        description_similarity: None,
        skipped: vec![],
        moved: vec![],
    };
    let payload = match detector_of_record {
        None => domain::EncodedPayload {
            event_type: "SeriesProposed".into(),
            schema_version: 1,
            bytes: postcard::to_stdvec(&v1).unwrap(),
        },
        Some(detector) => DomainEvent::from(domain::series_detection::SeriesProposed {
            detector,
            ..v1.into()
        })
        .encode(),
    };
    let head = store.head().await.unwrap();
    store
        .append(
            &StreamId::new("proposal", Uuid::from_u128(0xe1)),
            ExpectedVersion::NoStream,
            vec![NewEvent {
                metadata: EventMetadata {
                    event_id: EventId(Uuid::from_u128(0xe2)),
                    causation_id: None,
                    correlation_id: None,
                    origin: Origin::Bluesky,
                    actor: Actor::system(domain::sync::ACTOR),
                },
                payload,
            }],
        )
        .await
        .unwrap();
    sqlx::query("INSERT INTO process.checkpoints (name, position) VALUES ($1, $2)")
        .bind(domain::sync::ACTOR)
        .bind(head.0 as i64 + 1)
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn proposals_made_by_earlier_rules_of_detection_are_not_compared_and_said_so() {
    let (store, _db) = fresh().await;
    proposed_by_earlier_rules(&store, None).await;
    let report = verify(&store, &|_, _| {}).await.unwrap();
    assert_eq!(report.findings, vec![]);
    assert_eq!(report.proposals_by_earlier_rules, Some((1, 1)));
}

#[tokio::test]
async fn a_proposal_of_this_build_s_rules_that_the_replay_would_not_make_is_a_finding() {
    let (store, _db) = fresh().await;
    proposed_by_earlier_rules(&store, Some(domain::series_detection::DETECTOR_VERSION)).await;
    let report = verify(&store, &|_, _| {}).await.unwrap();
    assert_eq!(report.proposals_by_earlier_rules, None);
    assert!(
        report
            .findings
            .iter()
            .any(|finding| matches!(finding, Finding::Unexpected { event_type, .. } if event_type == "SeriesProposed")),
        "{:#?}",
        report.findings
    );
}
