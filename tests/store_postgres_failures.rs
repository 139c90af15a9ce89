//! How the PostgreSQL event store behaves when things go wrong: rewrites of
//! history, a connection killed mid-append, an unreachable server, and rows
//! written around the store.

use std::time::Duration;

use domain::{GlobalPosition, StreamId, StreamVersion};
use futures::StreamExt;
use sqlx::postgres::PgPoolOptions;
use store::testkit::ScratchDatabase;
use store::testkit::conformance::probe;
use store::{AppendError, EventStore, ExpectedVersion, PgEventStore, StoreError};

#[tokio::test]
async fn history_cannot_be_updated_deleted_or_truncated() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    let s = StreamId::new("ledger", 1);
    store
        .append(&s, ExpectedVersion::NoStream, vec![probe("kept")])
        .await
        .unwrap();

    for statement in [
        "UPDATE eventstore.events SET payload = 'forged'",
        "DELETE FROM eventstore.events",
        "TRUNCATE eventstore.events",
        "DELETE FROM eventstore.streams",
        "TRUNCATE eventstore.streams CASCADE",
    ] {
        let err = sqlx::query(statement)
            .execute(store.pool())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("is append-only"),
            "{statement}: {err}"
        );
    }
    let read = store.read_stream(&s, StreamVersion(1), 10).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].payload.bytes, b"kept");
}

/// Waits until a backend of `database` is blocked on a lock and returns its pid.
async fn blocked_backend(admin: &sqlx::PgPool, database: &str) -> i32 {
    for _ in 0..200 {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' LIMIT 1",
        )
        .bind(database)
        .fetch_optional(admin)
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no backend of {database} ever waited on a lock");
}

#[tokio::test]
async fn an_append_whose_connection_dies_mid_transaction_leaves_nothing_visible() {
    let db = ScratchDatabase::create().await;
    let store = db.store(4).await;
    let admin = db.pool(2).await;
    store
        .append(
            &StreamId::new("before", 1),
            ExpectedVersion::Any,
            vec![probe("before")],
        )
        .await
        .unwrap();

    // Hold the head row so the append stops after it has locked its stream
    // and just before it takes positions and inserts.
    let mut blocker = admin.begin().await.unwrap();
    sqlx::query("SELECT position FROM eventstore.head FOR UPDATE")
        .execute(&mut *blocker)
        .await
        .unwrap();

    let victim = StreamId::new("victim", 1);
    let batch: Vec<_> = (0..50).map(|n| probe(&format!("v{n}"))).collect();
    let append = tokio::spawn({
        let store = store.clone();
        let victim = victim.clone();
        let batch = batch.clone();
        async move {
            store
                .append(&victim, ExpectedVersion::NoStream, batch)
                .await
        }
    });
    let pid = blocked_backend(&admin, db.name()).await;
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(terminated);

    let err = append.await.unwrap().unwrap_err();
    assert!(
        matches!(err, AppendError::Store(StoreError::Unavailable { .. })),
        "{err}"
    );
    blocker.rollback().await.unwrap();

    assert_eq!(store.head().await.unwrap(), GlobalPosition(1));
    assert!(
        store
            .read_stream(&victim, StreamVersion(1), 100)
            .await
            .unwrap()
            .is_empty()
    );
    // The writer's retry of the same batch then lands whole, once.
    let appended = store
        .append(&victim, ExpectedVersion::NoStream, batch)
        .await
        .unwrap();
    assert_eq!(
        (appended.first_position, appended.last_position),
        (GlobalPosition(2), GlobalPosition(51))
    );
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_unavailable() {
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy("postgres://postgres@127.0.0.1:9/nowhere")
        .unwrap();
    let store = PgEventStore::new(pool);
    let err = store
        .append(
            &StreamId::new("s", 1),
            ExpectedVersion::Any,
            vec![probe("lost?")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppendError::Store(StoreError::Unavailable { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("event store unavailable while appending events"),
        "{err}"
    );
}

#[tokio::test]
async fn a_subscription_stops_at_a_gap_instead_of_skipping_it() {
    let db = ScratchDatabase::create().await;
    let store = db
        .store(2)
        .await
        .with_poll_interval(Duration::from_millis(20));
    store
        .append(
            &StreamId::new("s", 1),
            ExpectedVersion::Any,
            vec![probe("one")],
        )
        .await
        .unwrap();
    // A row written around the store, leaving position 2 empty (the hash
    // chain refuses such a row, so it is switched off first).
    sqlx::raw_sql(
        "ALTER TABLE eventstore.events DISABLE TRIGGER events_are_chained; \
         INSERT INTO eventstore.events (global_position, stream_key, stream_id, stream_version, event_id, event_type, \
         schema_version, payload, origin, actor) \
         VALUES (3, 0, 'rogue', 1, gen_random_uuid(), 'Rogue', 1, '\\x00', 'openmeet', 'psql'); \
         ALTER TABLE eventstore.events ENABLE TRIGGER events_are_chained;",
    )
    .execute(store.pool())
    .await
    .unwrap();

    let mut subscription = store.subscribe(GlobalPosition(0));
    assert_eq!(
        subscription.next().await.unwrap().unwrap().global_position,
        GlobalPosition(1)
    );
    let err = subscription.next().await.unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        "event store is inconsistent at global position 3: the log jumps from position 1 to 3"
    );
    assert!(
        subscription.next().await.is_none(),
        "the subscription ends after the error"
    );
}
