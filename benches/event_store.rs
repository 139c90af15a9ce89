//! Event store throughput, each figure next to its ceiling: the same rows
//! written with plain `INSERT` / `COPY` into a table without the store's
//! guarantees (no keys, no locks, no checks). One run, one scratch database.
//!
//! `cargo bench --bench event_store` (`BENCH_SCALE=0.1` for a quick run).

use std::future::Future;
use std::time::{Duration, Instant};

use domain::occurrence::{EventImported, OccurrenceId};
use domain::{
    Actor, CorrelationId, DomainEvent, EventId, EventMetadata, GlobalPosition, NewEvent, Origin,
    StreamId, Timestamp,
};
use sqlx::PgPool;
use store::testkit::ScratchDatabase;
use store::{EventStore, ExpectedVersion, PgEventStore};
use uuid::Uuid;

const CLIENTS: usize = 8;
const BATCH: usize = 100;

fn scaled(n: usize) -> usize {
    let factor: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * factor) as usize).max(CLIENTS * BATCH)
}

/// A calendar event import with a realistic record (about 450 bytes encoded).
fn imported(n: usize) -> NewEvent {
    let uri = format!(
        "at://did:plc:benchorganizer{:04}/community.lexicon.calendar.event/3mbench{n:08}",
        n % 1000
    );
    let record = format!(
        r#"{{"$type":"community.lexicon.calendar.event","name":"Rust Meetup #{n}","description":"Talks and pizza, every Tuesday.","createdAt":"2026-11-01T09:00:00.000Z","startsAt":"2026-12-01T18:00:00.000Z","endsAt":"2026-12-01T20:00:00.000Z","mode":"community.lexicon.calendar.event#inperson","status":"community.lexicon.calendar.event#scheduled"}}"#
    );
    let event = DomainEvent::from(EventImported {
        occurrence_id: OccurrenceId::for_record(&uri),
        cid: format!("bafyreibench{n:040}"),
        uri,
        record,
        observed_at: Timestamp::from_unix_micros(1_764_000_000_000_000 + n as i64),
    });
    NewEvent {
        metadata: EventMetadata {
            event_id: EventId(Uuid::new_v4()),
            causation_id: None,
            correlation_id: Some(CorrelationId(Uuid::new_v4())),
            origin: Origin::Bluesky,
            actor: Actor("did:plc:benchorganizer".into()),
        },
        payload: event.encode(),
    }
}

/// Batches of `size` events, each batch for its own realistic stream name.
fn batches(count: usize, size: usize) -> Vec<(StreamId, Vec<NewEvent>)> {
    (0..count)
        .map(|b| {
            (
                StreamId::new("occurrence", Uuid::new_v4()),
                (0..size).map(|n| imported(b * size + n)).collect(),
            )
        })
        .collect()
}

/// Splits work into `CLIENTS` equal shares.
fn shares<T>(mut work: Vec<T>) -> Vec<Vec<T>> {
    let per_client = work.len().div_ceil(CLIENTS);
    let mut shares = Vec::new();
    while !work.is_empty() {
        let rest = work.split_off(per_client.min(work.len()));
        shares.push(std::mem::replace(&mut work, rest));
    }
    shares
}

struct Figure {
    what: String,
    events: usize,
    elapsed: Duration,
}

impl Figure {
    fn per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

async fn timed(
    figures: &mut Vec<Figure>,
    what: &str,
    events: usize,
    work: impl Future<Output = ()>,
) {
    let start = Instant::now();
    work.await;
    let figure = Figure {
        what: what.into(),
        events,
        elapsed: start.elapsed(),
    };
    eprintln!(
        "{:<72} {:>8} events {:>9.0} events/s",
        figure.what,
        figure.events,
        figure.per_second()
    );
    figures.push(figure);
}

/// Runs each share on its own task, all at once.
async fn concurrently<T: Send + 'static, Fut>(work: Vec<Vec<T>>, run: impl Fn(Vec<T>) -> Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = work
        .into_iter()
        .map(|share| tokio::spawn(run(share)))
        .collect();
    for task in tasks {
        task.await.expect("bench task");
    }
}

/// The table without guarantees: the store's columns, no keys.
const BARE: &str = "bench_plain";
/// The same columns with the store's unique keys, to show what they cost.
const KEYED: &str = "bench_keyed";

const PLAIN_INSERT: &str = "
WITH stream AS (SELECT nextval('bench_stream') AS key)
INSERT INTO {table} (global_position, stream_key, stream_id, stream_version, event_id, event_type, schema_version,
                     payload, recorded_at, causation_id, correlation_id, origin, actor)
SELECT nextval('bench_position'), stream.key, $1, e.ord, e.event_id, e.event_type, e.schema_version, e.payload, now(),
       NULL, e.correlation_id, 'bluesky', e.actor
FROM stream CROSS JOIN UNNEST($2::uuid[], $3::text[], $4::int4[], $5::bytea[], $6::uuid[], $7::text[])
     WITH ORDINALITY AS e(event_id, event_type, schema_version, payload, correlation_id, actor, ord)";

/// One multi-row `INSERT` statement (its own transaction) for the batch.
async fn plain_insert(pool: &PgPool, table: &str, stream: &StreamId, events: &[NewEvent]) {
    sqlx::query(sqlx::AssertSqlSafe(PLAIN_INSERT.replace("{table}", table)))
        .bind(stream.as_str())
        .bind(
            events
                .iter()
                .map(|e| e.metadata.event_id.0)
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.payload.event_type.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| i32::from(e.payload.schema_version))
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.payload.bytes.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.metadata.correlation_id.map(|c| c.0))
                .collect::<Vec<_>>(),
        )
        .bind(
            events
                .iter()
                .map(|e| e.metadata.actor.0.clone())
                .collect::<Vec<_>>(),
        )
        .execute(pool)
        .await
        .expect("plain insert");
}

/// One single-row `INSERT` per event, all in one transaction (how pgbench
/// measured the ceiling in `crates.md`).
async fn plain_insert_rows(pool: &PgPool, stream: &StreamId, events: &[NewEvent]) {
    let mut tx = pool.begin().await.expect("begin");
    for event in events {
        plain_insert_on(&mut tx, stream, event).await;
    }
    tx.commit().await.expect("commit");
}

async fn plain_insert_on(tx: &mut sqlx::PgConnection, stream: &StreamId, event: &NewEvent) {
    sqlx::query(
        "INSERT INTO bench_plain (global_position, stream_key, stream_id, stream_version, event_id, event_type, \
         schema_version, payload, correlation_id, origin, actor) \
         VALUES (nextval('bench_position'), 0, $1, 1, $2, $3, $4, $5, $6, 'bluesky', $7)",
    )
    .bind(stream.as_str())
    .bind(event.metadata.event_id.0)
    .bind(&event.payload.event_type)
    .bind(i32::from(event.payload.schema_version))
    .bind(&event.payload.bytes)
    .bind(event.metadata.correlation_id.map(|c| c.0))
    .bind(&event.metadata.actor.0)
    .execute(tx)
    .await
    .expect("plain row insert");
}

fn csv_rows(batches: &[(StreamId, Vec<NewEvent>)]) -> String {
    let mut csv = String::new();
    for (n, (stream, event)) in batches
        .iter()
        .flat_map(|(s, events)| events.iter().map(move |e| (s, e)))
        .enumerate()
    {
        let hex: String = event
            .payload
            .bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let correlation = event
            .metadata
            .correlation_id
            .map(|c| c.0.to_string())
            .unwrap_or_default();
        csv.push_str(&format!(
            "{},0,{stream},{},{},{},{},\\\\x{hex},2026-11-24 00:00:00+00,,{correlation},bluesky,{}\n",
            100_000_000 + n,
            n + 1,
            event.metadata.event_id.0,
            event.payload.event_type,
            event.payload.schema_version,
            event.metadata.actor.0,
        ));
    }
    csv
}

async fn copy_rows(pool: &PgPool, csv: &str) {
    let mut conn = pool.acquire().await.expect("connection");
    let mut copy = conn
        .copy_in_raw("COPY bench_plain FROM STDIN (FORMAT csv)")
        .await
        .expect("copy in");
    copy.send(csv.as_bytes()).await.expect("copy send");
    copy.finish().await.expect("copy finish");
}

async fn store_appends(store: &PgEventStore, work: Vec<(StreamId, Vec<NewEvent>)>) {
    for (stream, events) in work {
        store
            .append(&stream, ExpectedVersion::NoStream, events)
            .await
            .expect("append");
    }
}

async fn plain_appends(pool: &PgPool, table: &str, work: Vec<(StreamId, Vec<NewEvent>)>) {
    for (stream, events) in work {
        plain_insert(pool, table, &stream, &events).await;
    }
}

async fn read_and_decode(store: &PgEventStore, page: usize) -> usize {
    let mut after = GlobalPosition(0);
    let mut decoded = 0;
    loop {
        let events = store.read_all(after, page).await.expect("read");
        let Some(last) = events.last() else {
            return decoded;
        };
        after = last.global_position;
        for event in &events {
            DomainEvent::decode(&event.payload).expect("decode");
            decoded += 1;
        }
    }
}

/// Switches the hash chain's trigger off, for the last figure: what the
/// chain costs. The chain cannot be switched back on past the hole.
async fn without_chain(pool: &PgPool) {
    sqlx::raw_sql("ALTER TABLE eventstore.events DISABLE TRIGGER events_are_chained")
        .execute(pool)
        .await
        .expect("the trigger switches off");
}

#[tokio::main]
async fn main() {
    let db = ScratchDatabase::create().await;
    let store = db.store(CLIENTS as u32 + 2).await;
    let pool = store.pool().clone();
    for statement in [
        "CREATE SEQUENCE bench_position",
        "CREATE SEQUENCE bench_stream",
        "CREATE TABLE bench_plain (LIKE eventstore.events INCLUDING DEFAULTS)",
        "CREATE TABLE bench_keyed (LIKE eventstore.events INCLUDING DEFAULTS INCLUDING INDEXES)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .expect(statement);
    }
    let mut figures = Vec::new();
    let f = &mut figures;

    let singles = scaled(2_000);
    let work = batches(singles, 1);
    timed(
        f,
        "plain INSERT, 1 event per transaction, 1 client",
        singles,
        plain_appends(&pool, BARE, work),
    )
    .await;
    let work = batches(singles, 1);
    timed(
        f,
        "store append, 1 event per transaction, 1 client",
        singles,
        store_appends(&store, work),
    )
    .await;

    let singles8 = scaled(8_000);
    let work = shares(batches(singles8, 1));
    let p = pool.clone();
    let run = concurrently(work, move |share| {
        let pool = p.clone();
        async move { plain_appends(&pool, BARE, share).await }
    });
    timed(
        f,
        "plain INSERT, 1 event per transaction, 8 clients",
        singles8,
        run,
    )
    .await;
    let work = shares(batches(singles8, 1));
    let s = store.clone();
    let run = concurrently(work, move |share| {
        let store = s.clone();
        async move { store_appends(&store, share).await }
    });
    timed(
        f,
        "store append, 1 event per transaction, 8 clients",
        singles8,
        run,
    )
    .await;

    let batched = scaled(200_000);
    let work = batches(batched / BATCH, BATCH);
    let rows = async {
        for (stream, events) in &work {
            plain_insert_rows(&pool, stream, events).await;
        }
    };
    timed(
        f,
        "plain INSERT, 100 single-row statements per transaction, 1 client",
        batched,
        rows,
    )
    .await;
    let work = batches(batched / BATCH, BATCH);
    timed(
        f,
        "plain INSERT, one 100-row statement per transaction, 1 client",
        batched,
        plain_appends(&pool, BARE, work),
    )
    .await;
    let work = batches(batched / BATCH, BATCH);
    let what = "plain INSERT into a table with the store's 3 keys, one 100-row statement, 1 client";
    timed(f, what, batched, plain_appends(&pool, KEYED, work)).await;
    let work = batches(batched / BATCH, BATCH);
    timed(
        f,
        "store append, 100 events per transaction, 1 client",
        batched,
        store_appends(&store, work),
    )
    .await;

    let batched8 = scaled(80_000);
    let work = shares(batches(batched8 / BATCH, BATCH));
    let p = pool.clone();
    let run = concurrently(work, move |share| {
        let pool = p.clone();
        async move { plain_appends(&pool, BARE, share).await }
    });
    timed(
        f,
        "plain INSERT, one 100-row statement per transaction, 8 clients",
        batched8,
        run,
    )
    .await;
    let work = shares(batches(batched8 / BATCH, BATCH));
    let s = store.clone();
    let run = concurrently(work, move |share| {
        let store = s.clone();
        async move { store_appends(&store, share).await }
    });
    timed(
        f,
        "store append, 100 events per transaction, 8 clients",
        batched8,
        run,
    )
    .await;

    let copied = scaled(100_000);
    let csv = csv_rows(&batches(copied / BATCH, BATCH));
    timed(
        f,
        "plain COPY, one transaction",
        copied,
        copy_rows(&pool, &csv),
    )
    .await;

    let head = store.head().await.expect("head").0 as usize;
    for page in [1_000, 10_000] {
        let what = format!("store read_all + decode of the whole log, pages of {page}");
        timed(f, &what, head, async {
            assert_eq!(read_and_decode(&store, page).await, head);
        })
        .await;
    }

    without_chain(&pool).await;
    let work = batches(batched / BATCH, BATCH);
    timed(
        f,
        "store append without the hash chain (trigger off), 100 events per transaction, 1 client",
        batched,
        store_appends(&store, work),
    )
    .await;

    println!("| what | events | seconds | events/s |");
    println!("|---|---:|---:|---:|");
    for figure in &figures {
        println!(
            "| {} | {} | {:.2} | {:.0} |",
            figure.what,
            figure.events,
            figure.elapsed.as_secs_f64(),
            figure.per_second()
        );
    }
}
