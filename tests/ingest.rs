//! The ingest pipeline end to end through the binary: a capture consumed
//! into a real NATS JetStream stream, processed into a real event store,
//! compared with a direct import; bad input; and consumers and processors
//! killed with SIGKILL at random points.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[path = "support/capture.rs"]
mod capture;
#[path = "support/pipeline.rs"]
#[allow(dead_code)]
mod pipeline;

use capture::{EVENT, RSVP, busy_capture, commit, event_record, rsvp_record};
use pipeline::{TestBus, binary, log, migrated, rejections, write_capture};

fn sample() -> String {
    format!(
        "file://{}/samples/jetstream-calendar.jsonl",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[tokio::test]
async fn the_pipeline_records_what_a_direct_import_records_and_a_replay_adds_nothing() {
    let (piped, direct, bus) = (migrated().await, migrated().await, TestBus::new());
    let consumed = bus.run(&piped, &["consume", &sample()]);
    assert!(
        consumed.contains("12 published, 0 already on the bus, 1 filtered, 1 refused"),
        "{consumed}"
    );
    let processed = bus.run(&piped, &["process", "--until-idle"]);
    assert!(
        processed.contains("appended    4 EventImported"),
        "{processed}"
    );
    binary(
        &direct,
        &["import-jetstream", "samples/jetstream-calendar.jsonl"],
    );

    // The one line that is not JSON is refused by the consumer and recorded
    // by the processor as the direct import records it: the logs agree.
    let not_json: Vec<(String, String, String)> = rejections(&direct)
        .into_iter()
        .filter(|(subject, _, _)| subject.ends_with("samples/jetstream-calendar.jsonl:14"))
        .collect();
    assert_eq!(not_json.len(), 1, "{:?}", rejections(&direct));
    assert_eq!(log(&piped), log(&direct));
    assert_eq!(
        bus.dead_letters().await,
        vec![
            (
                format!("{}.dlq.rsvp", bus.root),
                "status \"maybe\" is not a known RSVP status".into()
            ),
            (
                format!("{}.dlq.source", bus.root),
                "not a Jetstream message: EOF while parsing a value at line 1 column 55".into()
            ),
        ]
    );

    let again = bus.run(&piped, &["consume", "--cursor", "0", &sample()]);
    assert!(
        again.contains("0 published, 13 already on the bus, 1 filtered, 0 refused"),
        "{again}"
    );
    let resumed = bus.run(&piped, &["consume", &sample()]);
    assert!(
        resumed.contains("after cursor 14: 0 published"),
        "{resumed}"
    );
    bus.run(&piped, &["process", "--until-idle"]);
    assert_eq!(log(&piped), log(&direct), "a replay appends nothing");
    bus.delete().await;
}

#[tokio::test]
async fn every_bad_input_is_rejected_with_its_reason_and_dead_lettered() {
    let (db, bus) = (migrated().await, TestBus::new());
    let org = "did:plc:badinputs";
    let lines = vec![
        commit(
            org,
            1,
            "create",
            EVENT,
            "nodate",
            Some(serde_json::json!({"$type": EVENT, "name": "No createdAt"})),
        ),
        commit(
            org,
            2,
            "create",
            EVENT,
            "huge",
            Some(event_record(
                "Huge",
                serde_json::json!({"description": "x".repeat(70_000)}),
            )),
        ),
        commit(
            org,
            3,
            "create",
            RSVP,
            "maybe",
            Some(rsvp_record(
                "at://did:plc:x/community.lexicon.calendar.event/e",
                "maybe",
            )),
        ),
        commit(org, 4, "delete", EVENT, "never", None),
        commit(org, 5, "delete", RSVP, "never", None),
        "{\"did\": 12".to_owned(),
    ];
    let (_dir, url) = write_capture(&lines);
    bus.run(&db, &["consume", &url]);
    let processed = bus.run(&db, &["process", "--until-idle"]);
    assert!(processed.contains("rejected 6"), "{processed}");
    let uri = |collection: &str, rkey: &str| format!("at://{org}/{collection}/{rkey}");
    let mut reasons: Vec<(String, String)> = rejections(&db)
        .into_iter()
        .map(|(subject, reason, _)| (subject, reason))
        .collect();
    // The line that is no message is named by its file and line.
    let (subject, reason) = reasons.pop().unwrap();
    assert!(
        subject.ends_with(".jsonl:6") && reason.starts_with("not a Jetstream message"),
        "{subject}: {reason}"
    );
    assert_eq!(
        reasons,
        vec![
            (uri(EVENT, "nodate"), "invalid by lexicon community.lexicon.calendar.event: record must have the property \"createdAt\"".into()),
            (uri(EVENT, "huge"), format!("record of {} bytes exceeds the 65536-byte limit", event_record("Huge", serde_json::json!({"description": "x".repeat(70_000)})).to_string().len())),
            (uri(RSVP, "maybe"), "status \"community.lexicon.calendar.rsvp#maybe\" is not a known RSVP status".into()),
            (uri(EVENT, "never"), "delete of an event record never imported: nothing to delete".into()),
            (uri(RSVP, "never"), "delete of an RSVP record never seen: nothing to withdraw".into()),
        ]
    );
    let letters = bus.dead_letters().await;
    let kinds: Vec<&str> = letters
        .iter()
        .map(|(subject, _)| subject.rsplit('.').next().unwrap())
        .collect();
    assert_eq!(kinds, ["event", "event", "rsvp", "event", "rsvp", "source"]);
    assert!(
        letters[5].1.starts_with("not a Jetstream message"),
        "{letters:?}"
    );
    bus.delete().await;
}

#[tokio::test]
async fn an_rsvp_before_its_event_is_parked_and_applied_when_the_event_arrives() {
    let (db, bus) = (migrated().await, TestBus::new());
    let event_uri = "at://did:plc:parkorg/community.lexicon.calendar.event/later";
    let lines = vec![
        commit(
            "did:plc:parkguest",
            1,
            "create",
            RSVP,
            "early",
            Some(rsvp_record(event_uri, "interested")),
        ),
        commit(
            "did:plc:parkorg",
            2,
            "create",
            EVENT,
            "later",
            Some(event_record("Arrives late", serde_json::json!({}))),
        ),
        commit("did:plc:parkguest", 3, "delete", RSVP, "early", None),
    ];
    let (_dir, url) = write_capture(&lines);
    bus.run(&db, &["consume", &url]);
    let processed = bus.run(&db, &["process", "--until-idle"]);
    assert!(processed.contains("parked 1"), "{processed}");
    let attendance: Vec<String> = log(&db)
        .into_iter()
        .filter(|(stream, _)| {
            stream.starts_with("attendance-") || stream.starts_with("parked-rsvps-")
        })
        .flat_map(|(stream, events)| {
            events
                .into_iter()
                .map(move |(kind, _)| format!("{}:{kind}", stream.split('-').next().unwrap()))
        })
        .collect();
    assert_eq!(
        attendance,
        [
            "attendance:RsvpChanged",
            "attendance:RsvpWithdrawn",
            "parked:RsvpParked"
        ]
    );
    bus.delete().await;
}

/// Names only the streams that differ: the whole log is too long to read.
fn assert_same_log(
    got: &BTreeMap<String, Vec<(String, String)>>,
    want: &BTreeMap<String, Vec<(String, String)>>,
) {
    let differing: Vec<String> = got
        .keys()
        .chain(want.keys())
        .filter(|stream| got.get(*stream) != want.get(*stream))
        .map(|stream| {
            format!(
                "{stream}: got {:?}, want {:?}",
                got.get(stream),
                want.get(stream)
            )
        })
        .collect();
    assert!(differing.is_empty(), "{}", differing.join("\n"));
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn consumers_and_processors_killed_at_random_points_lose_and_duplicate_nothing() {
    let (reference, piped, bus) = (migrated().await, migrated().await, TestBus::new());
    let lines = busy_capture(40);
    let (dir, url) = write_capture(&lines);
    binary(
        &reference,
        &[
            "import-jetstream",
            dir.path().join("capture.jsonl").to_str().unwrap(),
        ],
    );

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("kill schedule seed {seed}");
    let mut state = seed;
    let mut next_delay = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Duration::from_millis(20 + (state >> 33) % 200)
    };
    let spawn = |args: &[&str]| {
        bus.command(&piped, args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut kills = 0;
    for _ in 0..5 {
        let mut consumer = spawn(&["consume", &url]);
        let mut processor = spawn(&["process", "--ack-wait-secs", "1"]);
        tokio::time::sleep(next_delay()).await;
        kill(&mut consumer);
        tokio::time::sleep(next_delay()).await;
        kill(&mut processor);
        kills += 2;
    }
    assert_eq!(kills, 10);
    bus.run(&piped, &["consume", &url]);
    bus.run(&piped, &["process", "--until-idle", "--ack-wait-secs", "1"]);
    assert_same_log(&log(&piped), &log(&reference));
    bus.delete().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// POSTs `body` with curl as the holder of `token`; (status, body).
fn post(url: &str, token: &str, body: &str) -> (u16, serde_json::Value) {
    let output = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            "-H",
            &format!("Authorization: Bearer {token}"),
            "--data-binary",
            body,
            url,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let (json, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), serde_json::from_str(json).unwrap())
}

#[tokio::test]
async fn the_process_endpoints_run_a_message_through_the_processor() {
    let db = migrated().await;
    let port = free_port();
    let service = "did:web:processor.openmeet.test";
    let session = |did: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
            .args(["auth", "session", "--did", did])
            .env("DATABASE_URL", db.url())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let token = session(service);
    let not_admin = session("did:web:someone.openmeet.test");
    let mut server = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", db.url())
        .env("ADMIN_DIDS", service)
        .env("NO_IDENTITY_ENRICHMENT", "true")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}/api/bluesky");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let uri = "at://did:plc:apiorg/community.lexicon.calendar.event/viaapi";
    let event = commit(
        "did:plc:apiorg",
        10,
        "create",
        EVENT,
        "viaapi",
        Some(event_record("Backfilled", serde_json::json!({}))),
    );
    let rsvp = commit(
        "did:plc:apiguest",
        11,
        "create",
        RSVP,
        "r",
        Some(rsvp_record(uri, "going")),
    );
    let bad = commit(
        "did:plc:apiguest",
        12,
        "create",
        RSVP,
        "bad",
        Some(rsvp_record(uri, "perhaps")),
    );

    let (status, body) = post(&format!("{base}/events/process"), "forged", &event);
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    let (status, body) = post(&format!("{base}/events/process"), &not_admin, &event);
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, body) = post(&format!("{base}/events/process"), &token, &event);
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("applied")),
        "{body}"
    );
    assert_eq!(
        body["appended"],
        serde_json::json!(["ShadowAccountCreated", "EventImported"])
    );
    let (status, body) = post(&format!("{base}/events/process"), &token, &event);
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("already_applied")),
        "{body}"
    );
    let (status, body) = post(&format!("{base}/events/process"), &token, &rsvp);
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    let (status, body) = post(&format!("{base}/rsvps/process"), &token, &rsvp);
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("applied")),
        "{body}"
    );
    let (status, body) = post(&format!("{base}/rsvps/process"), &token, &bad);
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    assert_eq!(
        body["reason"],
        "status \"community.lexicon.calendar.rsvp#perhaps\" is not a known RSVP status"
    );
    kill(&mut server);
    assert_eq!(rejections(&db).len(), 1);
}
