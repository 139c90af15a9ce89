//! Ingest throughput, each figure next to its ceiling measured in the same run:
//! - decode + filter + map on one core, of Jetstream JSON lines and of
//!   subscribeRepos CBOR/CAR frames, against a bare zero-copy parse;
//! - end to end from a capture into the store (file → NATS → processor →
//!   PostgreSQL, and the applier alone), against a plain batched INSERT of
//!   the same events.
//!
//! `cargo bench --bench ingest`; `BENCH_SCALE=0.1` for a quick run.

#[path = "../tests/support/capture.rs"]
mod capture;

use std::io::Write;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use ingest::apply::{Applier, Incoming};
use ingest::bus::{Bus, BusConfig};
use ingest::consumer::{ConsumeOptions, consume};
use ingest::firehose::decode_frame;
use ingest::metrics::IngestMetrics;
use ingest::processor::{ProcessOptions, process};
use ingest::routing::route_jetstream;
use ingest::source::Source;
use ipld_core::cid::Cid;
use ipld_core::cid::multihash::Multihash;
use ipld_core::ipld::Ipld;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use store::testkit::ScratchDatabase;
use store::{EventStore, PgEventStore};

/// Messages per transaction, as `ingest process` applies them by default.
const BATCH: usize = 512;
/// Records applied one per transaction: enough to measure, few enough to wait for.
const ONE_BY_ONE: usize = 2_000;

fn scale() -> f64 {
    std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

fn report(what: &str, count: usize, elapsed: Duration) -> f64 {
    let rate = count as f64 / elapsed.as_secs_f64();
    println!(
        "{what:<70} {count:>9} in {:>7.3} s = {rate:>11.0}/s",
        elapsed.as_secs_f64()
    );
    rate
}

/// Runs `f` over every item, `rounds` times, on this thread.
fn per_item<T>(items: &[T], rounds: usize, mut f: impl FnMut(&T) -> usize) -> (usize, Duration) {
    let start = Instant::now();
    let mut sink = 0;
    for _ in 0..rounds {
        for item in items {
            sink += f(item);
        }
    }
    std::hint::black_box(sink);
    (items.len() * rounds, start.elapsed())
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Bare<'a> {
    did: &'a str,
    time_us: i64,
    kind: &'a str,
    #[serde(borrow)]
    commit: Option<&'a RawValue>,
}

fn json_to_ipld(value: &serde_json::Value) -> Ipld {
    match value {
        serde_json::Value::Null => Ipld::Null,
        serde_json::Value::Bool(b) => Ipld::Bool(*b),
        serde_json::Value::Number(n) => Ipld::Integer(n.as_i64().unwrap_or_default().into()),
        serde_json::Value::String(s) => Ipld::String(s.clone()),
        serde_json::Value::Array(items) => Ipld::List(items.iter().map(json_to_ipld).collect()),
        serde_json::Value::Object(map) => Ipld::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), json_to_ipld(v)))
                .collect(),
        ),
    }
}

/// A `#commit` frame carrying the line's op, its record in a CAR block
/// under its real CID, as a PDS writes it.
fn frame_of(line: &str, seq: i64) -> Vec<u8> {
    let message: serde_json::Value = serde_json::from_str(line).unwrap();
    let commit = &message["commit"];
    let mut car = Vec::new();
    let mut op = std::collections::BTreeMap::from([
        (
            "action".to_owned(),
            Ipld::String(commit["operation"].as_str().unwrap().into()),
        ),
        (
            "path".to_owned(),
            Ipld::String(format!(
                "{}/{}",
                commit["collection"].as_str().unwrap(),
                commit["rkey"].as_str().unwrap()
            )),
        ),
        ("cid".to_owned(), Ipld::Null),
    ]);
    let mut blocks = vec![];
    if commit["record"].is_object() {
        let bytes = serde_ipld_dagcbor::to_vec(&json_to_ipld(&commit["record"])).unwrap();
        let cid = Cid::new_v1(
            0x71,
            Multihash::wrap(0x12, &Sha256::digest(&bytes)).unwrap(),
        );
        op.insert("cid".into(), Ipld::Link(cid));
        blocks.push((cid, bytes));
    }
    let root = blocks.first().map(|(cid, _)| *cid).unwrap_or_else(|| {
        Cid::new_v1(
            0x71,
            Multihash::wrap(0x12, &Sha256::digest(b"empty")).unwrap(),
        )
    });
    block_on(async {
        let header = iroh_car::CarHeader::new_v1(vec![root]);
        let mut writer = iroh_car::CarWriter::new(header, &mut car);
        writer.write_header().await.unwrap();
        for (cid, bytes) in &blocks {
            writer.write(*cid, bytes).await.unwrap();
        }
        writer.finish().await.unwrap();
    });
    let header = Ipld::Map(
        [
            ("op".to_owned(), Ipld::Integer(1)),
            ("t".to_owned(), Ipld::String("#commit".into())),
        ]
        .into(),
    );
    let body = Ipld::Map(
        [
            ("seq".to_owned(), Ipld::Integer(seq.into())),
            (
                "repo".to_owned(),
                Ipld::String(message["did"].as_str().unwrap().into()),
            ),
            (
                "rev".to_owned(),
                Ipld::String(commit["rev"].as_str().unwrap().into()),
            ),
            (
                "time".to_owned(),
                Ipld::String("2026-11-24T10:00:00.000Z".into()),
            ),
            ("ops".to_owned(), Ipld::List(vec![Ipld::Map(op)])),
            ("blocks".to_owned(), Ipld::Bytes(car)),
            ("blobs".to_owned(), Ipld::List(vec![])),
        ]
        .into(),
    );
    let mut frame = serde_ipld_dagcbor::to_vec(&header).unwrap();
    frame.extend(serde_ipld_dagcbor::to_vec(&body).unwrap());
    frame
}

fn decode_benchmarks(lines: &[String]) {
    let rounds = 5;
    println!(
        "== decode + filter + map on one core ({} calendar messages x {rounds})",
        lines.len()
    );
    let (n, t) = per_item(lines, rounds, |line| {
        usize::from(serde_json::from_str::<Bare>(line).unwrap().time_us > 0)
    });
    let ceiling = report("ceiling: bare zero-copy serde_json parse", n, t);
    let (n, t) = per_item(lines, rounds, |line| {
        usize::from(route_jetstream(line, None).is_ok())
    });
    let route = report("Jetstream JSON: decode + filter (route to a subject)", n, t);
    let (n, t) = per_item(lines, rounds, |line| {
        let routed = route_jetstream(line, None).is_ok();
        let mapped = domain::intake::parse(line, "bench");
        usize::from(routed) + usize::from(matches!(mapped, domain::intake::Parsed::Delivery(_)))
    });
    let full = report(
        "Jetstream JSON: decode + filter + map (lexicon-checked Delivery)",
        n,
        t,
    );
    println!(
        "   filter: {:.0} % of the ceiling; with the mapping: {:.0} %",
        100.0 * route / ceiling,
        100.0 * full / ceiling
    );

    let frames: Vec<Vec<u8>> = lines
        .iter()
        .enumerate()
        .map(|(n, line)| frame_of(line, n as i64 + 1))
        .collect();
    let (n, t) = per_item(&frames, rounds, |frame| {
        let mut de = serde_ipld_dagcbor::de::Deserializer::from_slice(frame);
        let header: Ipld = serde::Deserialize::deserialize(&mut de).unwrap();
        let body: Ipld = serde::Deserialize::deserialize(&mut de).unwrap();
        usize::from(header != body)
    });
    let ceiling = report(
        "ceiling: bare DAG-CBOR decode of the frame (header + body)",
        n,
        t,
    );
    let (n, t) = per_item(&frames, rounds, |frame| {
        usize::from(decode_frame(frame).is_ok())
    });
    let decode = report("CBOR/CAR frames: decode + CID check + filter + route", n, t);
    let (n, t) = per_item(&frames, rounds, |frame| match decode_frame(frame) {
        Ok(ingest::firehose::Frame::Messages { routed, .. }) => routed
            .iter()
            .filter(|r| {
                matches!(
                    domain::intake::parse(&r.payload, "bench"),
                    domain::intake::Parsed::Delivery(_)
                )
            })
            .count(),
        _ => 0,
    });
    let full = report("CBOR/CAR frames: decode + CID check + filter + map", n, t);
    println!(
        "   decode: {:.0} % of the ceiling; with the mapping: {:.0} %",
        100.0 * decode / ceiling,
        100.0 * full / ceiling
    );
}

async fn plain_insert_ceiling(store: &PgEventStore) -> (usize, Duration) {
    let events = store
        .read_all(domain::GlobalPosition(0), usize::MAX)
        .await
        .unwrap();
    let pool = store.pool();
    sqlx::query(
        "CREATE TABLE bench_plain (position int8, stream text, event_type text, payload bytea)",
    )
    .execute(pool)
    .await
    .unwrap();
    let start = Instant::now();
    for chunk in events.chunks(1_000) {
        sqlx::query("INSERT INTO bench_plain SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::bytea[])")
            .bind(chunk.iter().map(|e| e.global_position.0 as i64).collect::<Vec<_>>())
            .bind(chunk.iter().map(|e| e.stream_id.0.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|e| e.payload.event_type.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|e| e.payload.bytes.clone()).collect::<Vec<_>>())
            .execute(pool)
            .await
            .unwrap();
    }
    (events.len(), start.elapsed())
}

/// A bus of its own, deleted by the caller.
async fn bench_bus() -> Bus {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Bus::connect(BusConfig {
        url: "nats://127.0.0.1:4222".into(),
        stream: format!("BENCH_{id}"),
        root: format!("bench{id}"),
    })
    .await
    .unwrap()
}

async fn end_to_end(lines: &[String]) {
    println!(
        "== end to end, {} records of a capture into the store",
        lines.len()
    );
    let dir = std::env::temp_dir().join(format!("openmeet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("capture.jsonl");
    let mut file = std::fs::File::create(&path).unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }

    let single = ScratchDatabase::create().await;
    let store = single.store(4).await;
    let applier = Applier::new(store.clone());
    let start = Instant::now();
    let first = &lines[..lines.len().min(ONE_BY_ONE)];
    for (n, line) in first.iter().enumerate() {
        applier.apply(line, &format!("bench:{n}")).await.unwrap();
    }
    report(
        "applier, one message per transaction (the first records)",
        first.len(),
        start.elapsed(),
    );

    let direct = ScratchDatabase::create().await;
    let store = direct.store(4).await;
    let applier = Applier::new(store.clone());
    let positions: Vec<String> = (0..lines.len()).map(|n| format!("bench:{n}")).collect();
    let incoming: Vec<Incoming> = lines
        .iter()
        .zip(&positions)
        .map(|(raw, position)| Incoming::message(raw, position))
        .collect();
    let start = Instant::now();
    for batch in incoming.chunks(BATCH) {
        applier.apply_batch(batch).await.unwrap();
    }
    report(
        &format!("applier, batches of {BATCH} messages per transaction"),
        lines.len(),
        start.elapsed(),
    );
    let (n, t) = plain_insert_ceiling(&store).await;
    report(
        "ceiling: plain batched INSERT of the same events (1,000 per statement)",
        n,
        t,
    );
    println!("   ({} events from {} records)", n, lines.len());

    let piped = ScratchDatabase::create().await;
    let store = piped.store(4).await;
    let bus = bench_bus().await;
    let metrics = IngestMetrics::register(&prometheus::Registry::new()).unwrap();
    let source = Source::parse(&format!("file://{}", path.display())).unwrap();
    let start = Instant::now();
    consume(
        &bus,
        source,
        ConsumeOptions {
            cursor: None,
            buffer: 4096,
        },
        &metrics,
    )
    .await
    .unwrap();
    let consumed = start.elapsed();
    report("consumer: file → NATS JetStream", lines.len(), consumed);
    let options = ProcessOptions {
        durable: "bench".into(),
        batch: BATCH,
        until_idle: true,
        ack_wait: Duration::from_secs(10),
    };
    let begin = Instant::now();
    process(&bus, &Applier::new(store.clone()), &options, &metrics)
        .await
        .unwrap();
    let processed = begin.elapsed();
    report("processor: NATS JetStream → store", lines.len(), processed);
    report(
        "pipeline end to end (consumer, then processor)",
        lines.len(),
        consumed + processed,
    );
    bus.delete().await.unwrap();

    let together = ScratchDatabase::create().await;
    let store = together.store(4).await;
    let bus = bench_bus().await;
    let source = Source::parse(&format!("file://{}", path.display())).unwrap();
    let start = Instant::now();
    let consumer = tokio::spawn({
        let bus = bus.clone();
        async move {
            let metrics = IngestMetrics::register(&prometheus::Registry::new()).unwrap();
            let options = ConsumeOptions {
                cursor: None,
                buffer: 4096,
            };
            consume(&bus, source, options, &metrics).await.unwrap();
        }
    });
    let applier = Applier::new(store.clone());
    loop {
        // Idle before the consumer is done only means the processor caught up.
        let consumed = consumer.is_finished();
        process(&bus, &applier, &options, &metrics).await.unwrap();
        if consumed {
            break;
        }
    }
    consumer.await.unwrap();
    report(
        "pipeline end to end (consumer and processor running together)",
        lines.len(),
        start.elapsed(),
    );
    bus.delete().await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::main]
async fn main() {
    let organizers = ((500.0 * scale()) as usize).max(10);
    let lines = capture::busy_capture(organizers);
    decode_benchmarks(&lines);
    let e2e_organizers = ((1_000.0 * scale()) as usize).max(5);
    end_to_end(&capture::busy_capture(e2e_organizers)).await;
}
