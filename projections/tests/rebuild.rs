//! Rebuilds: a deterministic projection rebuilt from 0 equals its live
//! tables, a swap replaces them, and a projector killed mid-batch resumes
//! without applying anything twice or skipping anything.

use std::time::Duration;

use domain::GlobalPosition;
use ingest::apply::Applier;
use projections::Projection;
use projections::projection::LIVE_SCHEMA;
use projections::rebuild::{Limits, rebuild, rebuild_within};
use projections::runner::run;
use store::testkit::ScratchDatabase;
use store::{EventStore, PgEventStore};

async fn fresh() -> (PgEventStore, ScratchDatabase) {
    let db = ScratchDatabase::create().await;
    (
        db.store(8)
            .await
            .with_poll_interval(Duration::from_millis(20)),
        db,
    )
}

/// Imports the bundled sample capture, `copies` times under distinct DIDs.
async fn import_sample(store: &PgEventStore, copies: usize) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/jetstream-calendar.jsonl"
    ))
    .unwrap();
    let applier = Applier::new(store.clone());
    for copy in 0..copies {
        for (n, line) in text.lines().enumerate() {
            let line = line.replace("did:plc:sample", &format!("did:plc:copy{copy}sample"));
            applier
                .apply(&line, &format!("sample:{copy}:{n}"))
                .await
                .unwrap();
        }
    }
}

async fn project_all(store: &PgEventStore) {
    let mut conn = store.pool().acquire().await.unwrap();
    for projection in Projection::ALL {
        let mut checkpoint = projection.checkpoint(store.pool()).await.unwrap();
        loop {
            let events = store.read_all(checkpoint, 7).await.unwrap();
            let Some(last) = events.last() else { break };
            projection
                .apply(&mut conn, LIVE_SCHEMA, &events, Some(checkpoint))
                .await
                .unwrap();
            checkpoint = last.global_position;
        }
    }
}

async fn count(store: &PgEventStore, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM read.{table}"
    )))
    .fetch_one(store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn verify_on_the_bundled_sample_finds_no_difference() {
    let (store, _db) = fresh().await;
    import_sample(&store, 1).await;
    project_all(&store).await;
    assert_eq!(count(&store, "occurrences").await, 4);
    // Four answers from three guests: one changed their mind.
    assert_eq!(count(&store, "attendees").await, 3);
    assert_eq!(count(&store, "users").await, 5);
    for projection in Projection::ALL {
        let report = rebuild(&store, &[projection], true, &|_, _| {})
            .await
            .unwrap()
            .remove(0);
        assert_eq!(report.differences, vec![], "{projection}");
        assert!(!report.swapped);
        assert_eq!(report.position, store.head().await.unwrap());
    }
}

#[tokio::test]
async fn verify_reports_a_tampered_row_and_a_swap_repairs_it() {
    let (store, _db) = fresh().await;
    import_sample(&store, 1).await;
    project_all(&store).await;
    sqlx::query("UPDATE read.attendees SET status = 'declined' WHERE status = 'attending'")
        .execute(store.pool())
        .await
        .unwrap();

    let report = rebuild(&store, &[Projection::Attendees], true, &|_, _| {})
        .await
        .unwrap()
        .remove(0);
    assert_eq!(report.differences.len(), 1);
    let difference = &report.differences[0];
    assert_eq!(
        (
            difference.table.as_str(),
            difference.only_live,
            difference.only_rebuilt
        ),
        ("attendees", 2, 2)
    );
    assert!(
        difference
            .examples
            .iter()
            .any(|row| row.starts_with("rebuilt: ") && row.contains("\"attending\"")),
        "{difference:?}"
    );

    let done = std::sync::atomic::AtomicU64::new(0);
    let swapped = rebuild(&store, &[Projection::Attendees], false, &|position, _| {
        done.store(position, std::sync::atomic::Ordering::Relaxed)
    })
    .await
    .unwrap()
    .remove(0);
    assert!(swapped.swapped);
    assert_eq!(
        done.into_inner(),
        store.head().await.unwrap().0,
        "progress reached the head"
    );
    assert_eq!(
        rebuild(&store, &[Projection::Attendees], true, &|_, _| {})
            .await
            .unwrap()
            .remove(0)
            .differences,
        vec![]
    );
    let attending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM read.attendees WHERE status = 'attending'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(attending, 2);
    let schemas: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'rebuild_%'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(schemas, 0, "side schemas are dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_killed_mid_batch_resumes_to_the_same_tables_as_a_clean_rebuild() {
    let (store, db) = fresh().await;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move { import_sample(&store, 12).await })
    };
    // Kill the projector at arbitrary moments while events keep coming. It
    // runs on a pool of its own, closed with it, as a crashed process's
    // connections are: the server rolls back whatever was in flight.
    for round in 0..12u64 {
        let projector = db.store(6).await;
        let mut tasks = tokio::task::JoinSet::new();
        for projection in Projection::ALL {
            tasks.spawn(run(projector.clone(), projection));
        }
        tokio::time::sleep(Duration::from_millis(15 + (round * 37) % 60)).await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        projector.pool().close().await;
    }
    writer.await.unwrap();
    let head = store.head().await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for projection in Projection::ALL {
        tasks.spawn(run(store.clone(), projection));
    }
    let caught_up = async {
        loop {
            let mut behind = false;
            for projection in Projection::ALL {
                behind |= projection.checkpoint(store.pool()).await.unwrap() < head;
            }
            if !behind {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), caught_up)
        .await
        .expect("projections caught up");
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}

    assert_eq!(count(&store, "occurrences").await, 4 * 12);
    for projection in Projection::ALL {
        let report = rebuild(&store, &[projection], true, &|_, _| {})
            .await
            .unwrap()
            .remove(0);
        assert_eq!(report.differences, vec![], "{projection}");
        assert_eq!(report.position, head);
    }
    assert!(head > GlobalPosition(200));
}

#[tokio::test]
async fn a_rebuild_past_its_memory_budget_goes_on_page_by_page_to_the_same_tables() {
    let (store, _db) = fresh().await;
    import_sample(&store, 3).await;
    project_all(&store).await;
    // Pages of 5 events and a budget of 10 rows: the in-memory fold stops
    // after its first pages and the rest of the log is applied page by page.
    let limits = Limits {
        page: 5,
        row_budget: 10,
    };
    let reports = rebuild_within(&store, &Projection::ALL, false, limits, &|_, _| {})
        .await
        .unwrap();
    assert!(
        reports
            .iter()
            .all(|report| report.swapped && report.position == reports[0].position)
    );
    for projection in Projection::ALL {
        let report = rebuild(&store, &[projection], true, &|_, _| {})
            .await
            .unwrap()
            .remove(0);
        assert_eq!(report.differences, vec![], "{projection}");
    }
    assert_eq!(count(&store, "occurrences").await, 12);
}
