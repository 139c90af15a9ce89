//! Faults a test injects: what an earlier (or broken) build recorded,
//! appended past today's rules, and the binary run as an operator runs it.

use std::process::Command;

use domain::envelope::{Actor, EventId, EventMetadata, Origin};
use domain::{EncodedPayload, NewEvent, StreamId};
use store::testkit::ScratchDatabase;
use store::{EventStore, ExpectedVersion, PgEventStore};

/// Runs the binary on `db` with `args`: whether it succeeded, and what it
/// printed.
pub fn binary(db: &ScratchDatabase, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Appends what an earlier build recorded, bypassing today's rules.
pub async fn legacy(
    store: &PgEventStore,
    stream: StreamId,
    label: &str,
    payload: EncodedPayload,
) -> u64 {
    let metadata = EventMetadata {
        event_id: EventId(domain::envelope::derived_uuid("legacy", label)),
        causation_id: None,
        correlation_id: None,
        origin: Origin::Bluesky,
        actor: Actor::system("an-earlier-build"),
    };
    store
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![NewEvent { metadata, payload }],
        )
        .await
        .unwrap()
        .last_position
        .0
}

/// A payload no build decodes, as an `EventImported`.
pub fn garbage() -> EncodedPayload {
    EncodedPayload {
        event_type: "EventImported".into(),
        schema_version: 1,
        bytes: vec![0xff; 3],
    }
}
