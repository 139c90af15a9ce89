//! The read side facing a log it cannot fully apply: a record with a NUL
//! recorded by an earlier build must project and rebuild without stopping;
//! an event no build can decode stops the projections alone, shows on
//! `/health`, and an operator's recorded skip lets them go on.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::Request;
use domain::occurrence::{EventChangedExternally, EventImported, OccurrenceId};
use domain::{StreamId, Timestamp};
use ingest::apply::Applier;
use serde_json::Value;
use store::testkit::ScratchDatabase;
use store::{EventStore, PgEventStore};
use tower::ServiceExt;

#[path = "support/faults.rs"]
mod faults;
#[path = "support/shared.rs"]
mod shared;
#[path = "support/supervised.rs"]
mod supervised;

use faults::{binary, legacy};

const VALID_URI: &str =
    "at://did:plc:samplerustberlin/community.lexicon.calendar.event/3mrust0aaa2k";

async fn sample(store: &PgEventStore) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/jetstream-calendar.jsonl"
    ))
    .unwrap();
    let applier = Applier::new(store.clone());
    for (n, line) in text.lines().enumerate() {
        applier.apply(line, &format!("sample:{n}")).await.unwrap();
    }
}

/// Waits until every projection reaches the head, or gives up.
async fn caught_up(store: &PgEventStore) -> bool {
    let head = store.head().await.unwrap();
    for _ in 0..100 {
        let lags = projections::runner::lag(store.pool(), head).await.unwrap();
        if lags.iter().all(|lag| lag.behind == 0) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn health(store: &PgEventStore) -> Value {
    let response = api::router(api::AppState::new(store.clone()))
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn a_record_with_a_nul_already_in_the_log_projects_and_rebuilds_without_stopping() {
    let db = ScratchDatabase::create().await;
    let store = db.store(16).await;
    let nul_uri = "at://did:plc:old/community.lexicon.calendar.event/3old";
    let nul_record = r#"{"$type":"community.lexicon.calendar.event","name":"Old\u0000build","createdAt":"2026-11-01T10:00:00Z"}"#;
    let imported = EventImported {
        occurrence_id: OccurrenceId::for_record(nul_uri),
        uri: nul_uri.into(),
        cid: "bafyreigyny66xrsw4dsmltdguv4lcehcopbtlwopkssza2vdwltugb6s54".into(),
        record: nul_record.into(),
        observed_at: Timestamp::from_unix_micros(1),
    };
    let stream = OccurrenceId::for_record(nul_uri).stream();
    legacy(
        &store,
        stream,
        "imported",
        domain::DomainEvent::from(imported).encode(),
    )
    .await;
    sample(&store).await;
    let changed = EventChangedExternally {
        occurrence_id: OccurrenceId::for_record(VALID_URI),
        uri: VALID_URI.into(),
        cid: "bafyreib4uuaaw4dfpb6nyigkrspwndwuyyospb72qkbtpfsy3ndo543nzm".into(),
        record: nul_record.replace("Old", "Changed"),
        observed_at: Timestamp::from_unix_micros(2),
    };
    let stream = OccurrenceId::for_record(VALID_URI).stream();
    legacy(
        &store,
        stream,
        "changed",
        domain::DomainEvent::from(changed).encode(),
    )
    .await;

    let (_, tasks) = supervised::projecting(&store);
    assert!(
        caught_up(&store).await,
        "the projections did not reach the head"
    );
    tasks.iter().for_each(|task| task.abort());
    assert_eq!(health(&store).await["status"], "ok");
    let rows: Vec<(String, String, Option<Value>)> = sqlx::query_as(
        "SELECT name, state, external_data FROM read.occurrences WHERE external_id = $1 OR external_id = $2",
    )
    .bind(nul_uri)
    .bind(VALID_URI)
    .fetch_all(store.pool())
    .await
    .unwrap();
    // The version that never mapped has no row; the valid event keeps its
    // content, marked unreadable, without the record it cannot store.
    assert_eq!(
        rows,
        vec![("Rust Meetup #12".into(), "unreadable".into(), None)]
    );

    let (ok, verified) = binary(&db, &["rebuild", "--verify"]);
    assert!(
        ok && verified.matches("no difference").count() == 6,
        "{verified}"
    );
    let (ok, rebuilt) = binary(&db, &["rebuild"]);
    assert!(ok, "{rebuilt}");
}

#[tokio::test]
async fn an_event_no_build_decodes_stops_the_projections_until_an_operator_skips_it() {
    let db = ScratchDatabase::create().await;
    let store = db.store(16).await;
    let position = legacy(
        &store,
        StreamId::new("occurrence", "garbage"),
        "garbage",
        faults::garbage(),
    )
    .await;
    sample(&store).await;

    let (_, tasks) = supervised::projecting(&store);
    assert!(
        !caught_up(&store).await,
        "the projections went past an undecodable event"
    );
    let view = health(&store).await;
    assert_eq!(view["status"], "degraded", "{view}");
    let stopped = view["stopped"].as_array().unwrap();
    assert_eq!(stopped.len(), projections::Projection::ALL.len(), "{view}");
    assert!(
        stopped
            .iter()
            .all(|s| s["position"] == position && s["event_type"] == "EventImported")
    );

    let (ok, refused) = binary(
        &db,
        &[
            "skip-event",
            "--projection",
            "occurrences",
            "--position",
            "999999",
            "--reason",
            "x",
        ],
    );
    assert!(
        !ok && refused.contains("no event at position 999999"),
        "{refused}"
    );
    for projection in projections::Projection::ALL {
        let (ok, out) = binary(
            &db,
            &[
                "skip-event",
                "--projection",
                projection.name(),
                "--position",
                &position.to_string(),
                "--reason",
                "written by a broken build",
            ],
        );
        assert!(ok && out.contains("passes over position"), "{out}");
    }
    let (ok, again) = binary(
        &db,
        &[
            "skip-event",
            "--projection",
            "users",
            "--position",
            &position.to_string(),
            "--reason",
            "again",
        ],
    );
    assert!(ok && again.contains("already passes over"), "{again}");

    // The runners try again within seconds and read the skips.
    let mut healed = false;
    for _ in 0..10 {
        if caught_up(&store).await {
            healed = true;
            break;
        }
    }
    tasks.iter().for_each(|task| task.abort());
    assert!(healed, "the projections did not go on after the skip");
    assert_eq!(health(&store).await["status"], "ok");
    let names: i64 = sqlx::query_scalar("SELECT count(*) FROM read.occurrences")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(
        names, 4,
        "the sample's events after the skipped one are projected"
    );
    let (ok, verified) = binary(&db, &["rebuild", "--verify"]);
    assert!(
        ok && verified.matches("no difference").count() == 6,
        "{verified}"
    );
}

#[tokio::test]
async fn the_publishing_scheduler_stops_on_an_event_it_cannot_decode_until_an_operator_skips_it() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    sample(&store).await;
    let position = legacy(
        &store,
        StreamId::new("occurrence", "garbage"),
        "garbage",
        faults::garbage(),
    )
    .await;
    // A shared OpenMeet event after it: what is due depends on it.
    shared::shared_event(&store, 41).await;
    let now = Timestamp::parse_rfc3339("2026-11-20T10:00:00Z").unwrap();
    let (mut scheduler, _) = followers::scheduler::start(
        store.clone(),
        "https://openmeet.test",
        followers::SnapshotPolicy::default(),
    )
    .await
    .unwrap();
    let stopped = scheduler.tick(now).await.unwrap_err().to_string();
    assert!(
        stopped.starts_with(&format!(
            "publishing-scheduler stopped at position {position} (EventImported)"
        )) && stopped.contains("skip-event --projection publishing-scheduler"),
        "{stopped}"
    );
    let (ok, out) = binary(
        &db,
        &[
            "skip-event",
            "--projection",
            "publishing-scheduler",
            "--position",
            &position.to_string(),
            "--reason",
            "written by a broken build",
        ],
    );
    assert!(ok && out.contains("passes over position"), "{out}");
    assert_eq!(
        scheduler.tick(now).await.unwrap(),
        1,
        "it goes on from the event it stopped at: the shared event after it is due"
    );
}
