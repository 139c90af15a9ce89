//! The publishing scheduler's decisions are audited: `audit verify` takes
//! them again from the same fold at the time each `PublishingDecided`
//! records, finds one that was not taken so, and compares the followers'
//! snapshots with its own fold at their position.

use domain::occurrence::{OccurrenceId, OccurrenceScheduled};
use domain::publishing::{Publishing, SCHEDULER_ACTOR};
use domain::{Actor, DomainEvent, EventId, EventMetadata, NewEvent, Origin, StreamId};
use followers::SnapshotPolicy;
use projections::audit::verify::{Finding, verify};
use store::testkit::ScratchDatabase;
use store::{EventStore, ExpectedVersion, Snapshot};

#[path = "support/shared.rs"]
mod shared;

use shared::{at, details, shared_event};

#[tokio::test]
async fn audit_verify_takes_the_schedulers_decisions_again_at_their_recorded_times() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    let every_page = SnapshotPolicy {
        events: 1,
        ..SnapshotPolicy::default()
    };
    let (mut scheduler, _) =
        followers::scheduler::start(store.clone(), "https://openmeet.test", every_page)
            .await
            .unwrap();
    shared_event(&store, 1).await;
    assert_eq!(scheduler.tick(at("2026-11-20T10:00:00Z")).await.unwrap(), 1);
    shared_event(&store, 2).await;
    assert_eq!(scheduler.tick(at("2026-11-21T10:00:00Z")).await.unwrap(), 1);
    // Folded its own decisions: a snapshot at the head.
    assert_eq!(scheduler.tick(at("2026-11-22T10:00:00Z")).await.unwrap(), 0);

    let clean = verify(&store, &|_, _| {}).await.unwrap();
    assert_eq!(clean.findings, vec![]);
    assert_eq!(clean.decisions_matched, 2, "both publishing requests");
    assert_eq!(clean.publishing_untimed, 0);
    let head = store.head().await.unwrap();
    assert_eq!(
        clean.snapshots_compared,
        vec![(followers::scheduler::NAME.to_owned(), head)]
    );

    // A decision the scheduler did not take: it names a tick, but the
    // fold at that tick's time does not call for it.
    let ticks = store
        .read_streams(&[domain::publishing::scheduler_stream()])
        .await
        .unwrap();
    let forged = DomainEvent::from(OccurrenceScheduled {
        occurrence_id: OccurrenceId(uuid::Uuid::from_u128(3)),
        series_id: None,
        details: details("Never decided", "2026-12-11T18:00:00Z"),
    });
    let forged_at = store
        .append(
            &StreamId::new("occurrence", "forged"),
            ExpectedVersion::NoStream,
            vec![NewEvent {
                metadata: EventMetadata {
                    causation_id: Some(ticks[0].metadata.event_id),
                    event_id: EventId(uuid::Uuid::new_v4()),
                    correlation_id: None,
                    origin: Origin::OpenMeet,
                    actor: Actor::system(SCHEDULER_ACTOR),
                },
                payload: forged.encode(),
            }],
        )
        .await
        .unwrap()
        .last_position;

    // A snapshot that is not the fold of the log up to its position.
    let mut snapshot = Snapshot::load(&store, followers::scheduler::NAME)
        .await
        .unwrap()
        .unwrap();
    snapshot.state = postcard::to_allocvec(&Publishing::new("https://openmeet.test")).unwrap();
    snapshot.save(&store).await.unwrap();

    let tampered = verify(&store, &|_, _| {}).await.unwrap();
    assert_eq!(
        tampered.findings,
        vec![
            Finding::Snapshot {
                name: followers::scheduler::NAME.into(),
                position: head,
            },
            Finding::Unexpected {
                position: forged_at,
                event_type: "OccurrenceScheduled".into(),
                stream: "occurrence-forged".into(),
            },
        ]
    );
}
