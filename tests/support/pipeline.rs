//! The ingest pipeline driven through the binary: a test's own NATS stream
//! and subject root, its scratch database, and what the log holds after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use async_nats::jetstream;
use ingest::bus::{Bus, BusConfig, REASON_HEADER};
use store::testkit::ScratchDatabase;
use uuid::Uuid;

/// One test's own stream and subject root, deleted at the end.
pub struct TestBus {
    pub stream: String,
    pub root: String,
}

impl TestBus {
    pub fn new() -> Self {
        let id = Uuid::new_v4().simple().to_string();
        Self {
            stream: format!("TEST_{id}"),
            root: format!("test{id}"),
        }
    }

    pub fn config(&self) -> BusConfig {
        BusConfig {
            url: "nats://127.0.0.1:4222".into(),
            stream: self.stream.clone(),
            root: self.root.clone(),
        }
    }

    pub fn command(&self, db: &ScratchDatabase, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"));
        command
            .arg("ingest")
            .args(args)
            .env("DATABASE_URL", db.url())
            .env("INGEST_STREAM", &self.stream)
            .env("INGEST_SUBJECT_ROOT", &self.root)
            .env("RUST_LOG", "warn")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        command
    }

    pub fn run(&self, db: &ScratchDatabase, args: &[&str]) -> String {
        stdout(self.command(db, args).output().expect("the binary runs"))
    }

    /// The dead letters: (subject, reason) in order.
    pub async fn dead_letters(&self) -> Vec<(String, String)> {
        let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
        let js = jetstream::new(client);
        let mut stream = js.get_stream(format!("{}_DLQ", self.stream)).await.unwrap();
        let last = stream.info().await.unwrap().state.last_sequence;
        let mut letters = vec![];
        for seq in 1..=last {
            let message = stream.get_raw_message(seq).await.unwrap();
            let reason = message.headers.get(REASON_HEADER).unwrap().to_string();
            letters.push((message.subject.to_string(), reason));
        }
        letters
    }

    pub async fn delete(self) {
        Bus::connect(self.config())
            .await
            .unwrap()
            .delete()
            .await
            .unwrap();
    }
}

pub fn stdout(output: Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

pub fn binary(db: &ScratchDatabase, args: &[&str]) -> String {
    stdout(
        Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
            .args(args)
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "warn")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("the binary runs"),
    )
}

pub async fn migrated() -> ScratchDatabase {
    let db = ScratchDatabase::create().await;
    binary(&db, &["migrate"]);
    db
}

/// Every stored event as (stream, type, event id), per stream in order.
pub fn log(db: &ScratchDatabase) -> BTreeMap<String, Vec<(String, String)>> {
    let mut streams: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for line in binary(db, &["events", "tail", "--limit", "1000000"]).lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        streams
            .entry(event["stream"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                event["type"].as_str().unwrap().to_owned(),
                event["event_id"].as_str().unwrap().to_owned(),
            ));
    }
    streams
}

/// Every RecordRejected as (subject, reason, event id).
pub fn rejections(db: &ScratchDatabase) -> Vec<(String, String, String)> {
    binary(db, &["events", "tail", "--limit", "1000000"])
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["type"] == "RecordRejected")
        .map(|event| {
            (
                event["payload"]["subject"].as_str().unwrap().to_owned(),
                event["payload"]["reason"].as_str().unwrap().to_owned(),
                event["event_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub fn write_capture(lines: &[String]) -> (tempdir::Dir, String) {
    write_bytes(lines.join("\n").as_bytes())
}

/// A capture of any bytes, and its `file://` URL.
pub fn write_bytes(bytes: &[u8]) -> (tempdir::Dir, String) {
    let dir = tempdir::Dir::new();
    let path = dir.path().join("capture.jsonl");
    std::fs::write(&path, bytes).unwrap();
    let url = format!("file://{}", path.display());
    (dir, url)
}

pub mod tempdir {
    use super::*;

    /// A directory removed on drop.
    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("openmeet-ingest-{}", Uuid::new_v4()));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
