//! Records larger than anything the bus or the log should carry, through
//! both intake paths: 2 MB lines before, between and after ordinary ones.
//! Every good record is applied once, every oversized one is a
//! `RecordRejected` naming its size and the limit and keeping only its
//! first bytes with its size and digest, both paths record the same log,
//! and nothing stops. A stream that refuses a message for good (over its
//! `max_msg_size`) turns it into a rejection instead of a retry loop.

use async_nats::jetstream::{self, stream};
use ingest::bus::{SHA256_HEADER, SIZE_HEADER};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/pipeline.rs"]
#[allow(dead_code)]
mod pipeline;

use capture::{EVENT, RSVP, commit, event_record, rsvp_record};
use pipeline::{TestBus, binary, log, migrated, write_bytes};

const ORG: &str = "did:plc:oversized";
const TWO_MB: usize = 2_000_000;
const LINE_LIMIT: usize = ingest::lines::MAX_LINE_BYTES;

/// A capture and what each of its lines must become.
struct Capture {
    lines: Vec<Vec<u8>>,
    good_events: usize,
    good_rsvps: usize,
}

impl Capture {
    fn bytes(&self) -> Vec<u8> {
        // No newline after the last line: an oversized line may end the file.
        self.lines.join(&b'\n')
    }

    /// The (line number, bytes) of lines over the line limit.
    fn oversized(&self) -> Vec<(usize, &[u8])> {
        self.numbered()
            .filter(|(_, line)| line.len() > LINE_LIMIT)
            .collect()
    }

    fn numbered(&self) -> impl Iterator<Item = (usize, &[u8])> {
        self.lines
            .iter()
            .enumerate()
            .map(|(i, line)| (i + 1, line.as_slice()))
    }
}

fn huge_event(time_us: i64, rkey: &str) -> Vec<u8> {
    let record = event_record(
        "Huge",
        json!({"description": "x".repeat(TWO_MB), "$type": EVENT}),
    );
    commit(ORG, time_us, "create", EVENT, rkey, Some(record)).into_bytes()
}

fn good(capture: &mut Capture, time_us: i64) {
    let rkey = format!("e{time_us}");
    let uri = format!("at://{ORG}/{EVENT}/{rkey}");
    let name = format!("Meetup {time_us}");
    capture.lines.push(
        commit(
            ORG,
            time_us,
            "create",
            EVENT,
            &rkey,
            Some(event_record(&name, json!({}))),
        )
        .into_bytes(),
    );
    capture.lines.push(
        commit(
            "did:plc:guest",
            time_us + 1,
            "create",
            RSVP,
            &format!("r{time_us}"),
            Some(rsvp_record(&uri, "going")),
        )
        .into_bytes(),
    );
    capture.good_events += 1;
    capture.good_rsvps += 1;
}

/// Oversized lines first, between good ones, in a run, and last; and one
/// record over the record limit inside the line limit.
fn capture() -> Capture {
    let mut capture = Capture {
        lines: vec![],
        good_events: 0,
        good_rsvps: 0,
    };
    capture.lines.push(huge_event(1_000, "hugefirst"));
    for i in 0..4 {
        good(&mut capture, 2_000 + i * 10);
    }
    capture.lines.push(vec![b'{'; TWO_MB]);
    capture.lines.push(huge_event(3_000, "hugebetween"));
    let record = event_record("Long", json!({"description": "y".repeat(70_000)}));
    capture
        .lines
        .push(commit(ORG, 3_500, "create", EVENT, "long", Some(record)).into_bytes());
    for i in 0..4 {
        good(&mut capture, 4_000 + i * 10);
    }
    capture.lines.push(huge_event(5_000, "hugelast"));
    capture
}

fn rejected(db: &store::testkit::ScratchDatabase) -> Vec<Value> {
    binary(db, &["events", "tail", "--limit", "1000000"])
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| event["type"] == "RecordRejected")
        .map(|event| event["payload"].clone())
        .collect()
}

fn count_of(db: &store::testkit::ScratchDatabase, event_type: &str) -> usize {
    log(db)
        .values()
        .flatten()
        .filter(|(t, _)| t == event_type)
        .count()
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Every oversized line is rejected with its size and the limit, keeping
/// its first bytes with its size and digest; the long record keeps 4 KiB.
fn assert_rejections(db: &store::testkit::ScratchDatabase, capture: &Capture) {
    let rejected = rejected(db);
    let oversized = capture.oversized();
    assert_eq!(rejected.len(), oversized.len() + 1, "{rejected:#?}");
    for (number, line) in &oversized {
        let payload = rejected
            .iter()
            .find(|p| {
                p["subject"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("capture.jsonl:{number}"))
            })
            .unwrap_or_else(|| panic!("line {number} has no rejection: {rejected:#?}"));
        assert_eq!(
            payload["reason"],
            format!(
                "line {number} of {} bytes exceeds the {LINE_LIMIT}-byte limit",
                line.len()
            )
        );
        assert_eq!(payload["size"], line.len() as u64);
        assert_eq!(payload["sha256"], sha256(line));
        assert_eq!(
            payload["raw"].as_str().unwrap().as_bytes(),
            &line[..ingest::lines::HEAD_BYTES]
        );
    }
    let (_, long) = capture
        .numbered()
        .find(|(_, line)| line.len() > 65_536 && line.len() <= LINE_LIMIT)
        .unwrap();
    let payload = rejected
        .iter()
        .find(|p| p["subject"] == format!("at://{ORG}/{EVENT}/long"))
        .unwrap();
    assert!(
        payload["reason"]
            .as_str()
            .unwrap()
            .ends_with("bytes exceeds the 65536-byte limit"),
        "{payload}"
    );
    assert_eq!(payload["size"], long.len() as u64);
    assert_eq!(payload["sha256"], sha256(long));
    assert_eq!(
        payload["raw"].as_str().unwrap().len(),
        domain::rejection::KEPT_BYTES
    );
}

#[tokio::test]
async fn oversized_records_around_good_ones_are_rejected_alike_on_both_paths() {
    let capture = capture();
    let (_dir, url) = write_bytes(&capture.bytes());
    let path = url.trim_start_matches("file://");

    let direct = migrated().await;
    let imported = binary(&direct, &["import-jetstream", path]);
    assert!(
        imported.contains(&format!(
            "{} lines: {} messages, 0 empty, 0 not UTF-8, {} over {LINE_LIMIT} bytes",
            capture.lines.len(),
            capture.lines.len() - capture.oversized().len(),
            capture.oversized().len()
        )),
        "{imported}"
    );
    assert_eq!(count_of(&direct, "EventImported"), capture.good_events);
    assert_eq!(count_of(&direct, "RsvpChanged"), capture.good_rsvps);
    assert_rejections(&direct, &capture);

    let (piped, bus) = (migrated().await, TestBus::new());
    let consumed = bus.command(&piped, &["consume", &url]).output().unwrap();
    assert!(consumed.status.success(), "{consumed:?}");
    let consumed = String::from_utf8_lossy(&consumed.stdout);
    assert!(
        consumed.contains(&format!(
            "{} refused (recorded as rejected by the processor)",
            capture.oversized().len()
        )),
        "{consumed}"
    );
    bus.run(&piped, &["process", "--until-idle"]);
    assert_rejections(&piped, &capture);
    assert_eq!(log(&piped), log(&direct), "both paths record the same log");

    // Each oversized line's dead letter is a reference to it, never the line.
    let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
    let mut dlq = jetstream::new(client)
        .get_stream(format!("{}_DLQ", bus.stream))
        .await
        .unwrap();
    let letters = dlq.info().await.unwrap().state.last_sequence;
    assert_eq!(letters as usize, capture.oversized().len() + 1);
    let mut references = vec![];
    for seq in 1..=letters {
        let letter = dlq.get_raw_message(seq).await.unwrap();
        assert!(letter.payload.len() <= LINE_LIMIT);
        if let Some(size) = letter.headers.get(SIZE_HEADER) {
            let sha = letter.headers.get(SHA256_HEADER).unwrap().to_string();
            references.push((size.to_string().parse::<usize>().unwrap(), sha));
        }
    }
    let expected: Vec<(usize, String)> = capture
        .oversized()
        .iter()
        .map(|(_, line)| (line.len(), sha256(line)))
        .collect();
    assert_eq!(references, expected);
    bus.delete().await;
}

#[tokio::test]
async fn a_message_the_stream_refuses_for_good_is_rejected_and_the_rest_goes_on() {
    let (db, bus) = (migrated().await, TestBus::new());
    // An operator's limit below the largest message: the stream, not the
    // server, refuses a 3 KB record.
    let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
    let root = &bus.root;
    jetstream::new(client)
        .create_stream(stream::Config {
            name: bus.stream.clone(),
            subjects: vec![format!("{root}.event.*"), format!("{root}.rsvp.*")],
            max_message_size: 2_048,
            ..Default::default()
        })
        .await
        .unwrap();
    let long = event_record("Long talk", json!({"description": "z".repeat(3_000)}));
    let lines = [
        commit(
            ORG,
            10,
            "create",
            EVENT,
            "before",
            Some(event_record("Before", json!({}))),
        ),
        commit(ORG, 20, "create", EVENT, "long", Some(long)),
        commit(
            ORG,
            30,
            "create",
            EVENT,
            "after",
            Some(event_record("After", json!({}))),
        ),
    ];
    let (_dir, url) = write_bytes(lines.join("\n").as_bytes());
    let consumed = bus.command(&db, &["consume", &url]).output().unwrap();
    assert!(consumed.status.success(), "{consumed:?}");
    let consumed = String::from_utf8_lossy(&consumed.stdout);
    assert!(
        consumed.contains("2 published, 0 already on the bus, 0 filtered, 1 refused"),
        "{consumed}"
    );
    bus.run(&db, &["process", "--until-idle"]);
    assert_eq!(count_of(&db, "EventImported"), 2);
    let rejected = rejected(&db);
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    let uri = format!("at://{ORG}/{EVENT}/long");
    assert_eq!(rejected[0]["subject"], uri);
    let reason = rejected[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!("the bus refused {uri}: ")),
        "{reason}"
    );
    assert_eq!(rejected[0]["size"], lines[1].len() as u64);
    assert_eq!(rejected[0]["sha256"], sha256(lines[1].as_bytes()));
    bus.delete().await;
}
