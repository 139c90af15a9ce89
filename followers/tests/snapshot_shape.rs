//! The snapshots' shapes are frozen like the events' payloads: the state
//! the process manager and the publishing scheduler fold from a fixed list
//! of the domain's golden events encodes to the bytes of a golden file
//! named after its shape. When a state's types change, this fails: raise
//! the handler's `SNAPSHOT_SHAPE` (so snapshots of the old shape are
//! discarded, never misread) and write the new golden file with
//! `BLESS_GOLDEN=1 cargo test -p followers --test snapshot_shape`.

use std::path::PathBuf;

use domain::publishing::Publishing;
use domain::sync::ProcessManager;
use domain::{
    Actor, DomainEvent, EncodedPayload, EventId, EventMetadata, GlobalPosition, Origin,
    RecordedEvent, StreamId, StreamVersion, Timestamp,
};
use followers::Handler;
use serde::Serialize;

/// The golden events folded, in this order (never changed: a new event
/// type does not belong here).
const FOLDED: [(&str, u16); 22] = [
    ("AccountRegistered", 1),
    ("ShadowAccountCreated", 1),
    ("ShadowClaimed", 1),
    ("SeriesCreated", 1),
    ("SeriesEdited", 1),
    ("RecurrenceChanged", 1),
    ("OccurrenceScheduled", 1),
    ("OccurrenceEdited", 1),
    ("BlueskySettingsChanged", 1),
    ("VisibilityChanged", 1),
    ("OccurrencePublishRequested", 1),
    ("OccurrencePublished", 1),
    ("EventImported", 1),
    ("EventChangedExternally", 1),
    ("ExternalRefLinked", 1),
    ("RsvpChanged", 1),
    ("RsvpPublishRequested", 1),
    ("RsvpPublished", 1),
    ("SeriesProposed", 2),
    ("SeriesProposalRejected", 1),
    ("OccurrenceCancelled", 1),
    ("EventDeletedExternally", 1),
];

fn golden_events() -> Vec<(RecordedEvent, DomainEvent)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../domain/tests/golden");
    FOLDED
        .iter()
        .enumerate()
        .map(|(n, &(event_type, schema_version))| {
            let path = dir.join(format!("{event_type}.v{schema_version}.bin"));
            let payload = EncodedPayload {
                event_type: event_type.into(),
                schema_version,
                bytes: std::fs::read(&path)
                    .unwrap_or_else(|err| panic!("{}: {err}", path.display())),
            };
            let event = DomainEvent::decode(&payload).unwrap();
            let recorded = RecordedEvent {
                stream_id: StreamId::new("golden", n),
                stream_version: StreamVersion(1),
                global_position: GlobalPosition(n as u64 + 1),
                recorded_at: Timestamp::from_unix_micros(1_764_000_000_000_000),
                metadata: EventMetadata {
                    event_id: EventId(uuid::Uuid::from_u128(n as u128 + 1)),
                    causation_id: None,
                    correlation_id: None,
                    origin: Origin::Bluesky,
                    actor: Actor::system("golden"),
                },
                payload,
            };
            (recorded, event)
        })
        .collect()
}

fn check<H: Handler + Serialize>(mut state: H) {
    for (recorded, event) in golden_events() {
        Handler::handle(&mut state, &recorded, &event);
    }
    let encoded = postcard::to_allocvec(&state).unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!(
        "tests/golden/{}.shape{}.bin",
        H::NAME,
        H::SHAPE
    ));
    if std::env::var_os("BLESS_GOLDEN").is_some() && !path.exists() {
        std::fs::write(&path, &encoded).unwrap();
    }
    let golden = std::fs::read(&path).unwrap_or_default();
    assert!(
        encoded == golden,
        "the state of {} no longer encodes as its shape {} did ({}): raise its SNAPSHOT_SHAPE and \
         bless the new shape's golden file (BLESS_GOLDEN=1)",
        H::NAME,
        H::SHAPE,
        path.display()
    );
}

#[test]
fn the_process_managers_state_encodes_as_its_shape_did() {
    check(ProcessManager::default());
}

#[test]
fn the_schedulers_state_encodes_as_its_shape_did() {
    check(Publishing::new("https://openmeet.test"));
}

#[test]
fn the_folded_golden_events_leave_something_in_each_state() {
    let (mut manager, mut publishing) = (
        ProcessManager::default(),
        Publishing::new("https://openmeet.test"),
    );
    for (recorded, event) in golden_events() {
        Handler::handle(&mut manager, &recorded, &event);
        Handler::handle(&mut publishing, &recorded, &event);
    }
    let grew = |bytes: Vec<u8>, fresh: Vec<u8>| bytes.len() > fresh.len();
    assert!(grew(
        postcard::to_allocvec(&manager).unwrap(),
        postcard::to_allocvec(&ProcessManager::default()).unwrap()
    ));
    assert!(grew(
        postcard::to_allocvec(&publishing).unwrap(),
        postcard::to_allocvec(&Publishing::new("https://openmeet.test")).unwrap()
    ));
}
