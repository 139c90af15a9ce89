//! The `openmeet-sync` binary end to end on a scratch database: migrate,
//! import the bundled sample twice, and read the log back as an auditor.

use std::process::{Command, Output};

use domain::{Actor, EncodedPayload, EventId, EventMetadata, NewEvent, Origin, StreamId};
use store::testkit::ScratchDatabase;
use store::{EventStore, ExpectedVersion};
use uuid::Uuid;

fn openmeet_sync(db: &ScratchDatabase, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn tail(db: &ScratchDatabase) -> Vec<serde_json::Value> {
    stdout(&openmeet_sync(db, &["events", "tail"]))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn the_sample_imports_once_and_reads_back_as_json_lines() {
    let db = ScratchDatabase::create().await;
    stdout(&openmeet_sync(&db, &["migrate"]));

    let first = stdout(&openmeet_sync(
        &db,
        &["import-jetstream", "samples/jetstream-calendar.jsonl"],
    ));
    assert!(first.contains("appended    4 EventImported"), "{first}");
    assert!(first.contains("rejected 2"), "{first}");
    let log = tail(&db);
    assert_eq!(log.len(), 21);
    let positions: Vec<u64> = log
        .iter()
        .map(|event| event["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (1..=21).collect::<Vec<_>>());
    let rejected: Vec<&str> = log
        .iter()
        .filter(|event| event["type"] == "RecordRejected")
        .map(|event| event["payload"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(rejected.len(), 2);
    assert!(
        rejected[0].contains("\"maybe\" is not a known RSVP status"),
        "{rejected:?}"
    );

    let again = stdout(&openmeet_sync(
        &db,
        &["import-jetstream", "samples/jetstream-calendar.jsonl"],
    ));
    assert!(again.contains("already applied 11"), "{again}");
    assert!(!again.contains("appended"), "{again}");
    assert_eq!(tail(&db).len(), 21, "a second import appends nothing");

    let page = stdout(&openmeet_sync(
        &db,
        &["events", "tail", "--after", "15", "--limit", "1"],
    ));
    let only: serde_json::Value = serde_json::from_str(page.trim()).unwrap();
    assert_eq!(only["position"], 16);
}

#[tokio::test]
async fn an_event_that_does_not_decode_is_shown_and_fails_the_tail() {
    let db = ScratchDatabase::create().await;
    let store = db.store(1).await;
    let mystery = NewEvent {
        metadata: EventMetadata {
            event_id: EventId(Uuid::new_v4()),
            causation_id: None,
            correlation_id: None,
            origin: Origin::OpenMeet,
            actor: Actor::system("test"),
        },
        payload: EncodedPayload {
            event_type: "FromTheFuture".into(),
            schema_version: 1,
            bytes: vec![0xbe, 0xef],
        },
    };
    store
        .append(
            &StreamId::new("future", 1),
            ExpectedVersion::NoStream,
            vec![mystery],
        )
        .await
        .unwrap();

    let output = openmeet_sync(&db, &["events", "tail"]);
    assert_eq!(output.status.code(), Some(2));
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["decode_error"], "unknown event type \"FromTheFuture\"");
    assert_eq!(line["payload_hex"], "beef");
}

#[tokio::test]
async fn a_missing_input_file_is_named_in_the_error() {
    let db = ScratchDatabase::create().await;
    let output = openmeet_sync(&db, &["import-jetstream", "no/such/file.jsonl"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read no/such/file.jsonl"),
        "{stderr}"
    );
}

#[test]
fn every_calendar_record_in_the_sample_is_lexicon_valid() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/jetstream-calendar.jsonl"
    ))
    .unwrap();
    let mut checked = 0;
    for message in text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
    {
        let commit = &message["commit"];
        let Some(collection) = commit["collection"]
            .as_str()
            .filter(|c| c.starts_with("community.lexicon.calendar."))
        else {
            continue;
        };
        if let Some(record) = commit.get("record") {
            schemas::Lexicons::ours()
                .validate_record(collection, record)
                .unwrap_or_else(|err| panic!("{message}: {err}"));
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}

#[tokio::test]
async fn boolean_flags_from_the_environment_take_the_usual_spellings() {
    let db = ScratchDatabase::create().await;
    let migrate = |value: &str| {
        Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env("LOG_JSON", value)
            .env("RUST_LOG", "info")
            .output()
            .expect("the binary runs")
    };
    for value in ["1", "yes", "on", "true"] {
        let output = migrate(value);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "LOG_JSON={value}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            serde_json::from_str::<serde_json::Value>(first).is_ok(),
            "LOG_JSON={value} logs JSON: {first}"
        );
    }
    for value in ["0", "no", "off", "false"] {
        let output = migrate(value);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "LOG_JSON={value}: {stderr}");
        assert!(
            !stderr.trim_start().starts_with('{'),
            "LOG_JSON={value} logs text: {stderr}"
        );
    }
    let output = migrate("maybe");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("invalid value 'maybe' for '--log-json'")
    );
}
