//! The runtime's promises, on a real store: one instance per follower, a
//! stop on what it cannot decode until an operator skips it, what it
//! records stored with its checkpoint or not at all, and a restart from a
//! snapshot that folds only what came after it (and ignores one it cannot
//! trust).

use domain::skips::{ProjectionEventSkipped, skips_stream};
use domain::{
    Actor, Append, DomainEvent, EncodedPayload, EventId, EventMetadata, GlobalPosition, NewEvent,
    Origin, RecordedEvent, StreamId,
};
use followers::{Decide, Follow, FollowError, Follower, Handler, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use store::testkit::ScratchDatabase;
use store::{AppendError, EventStore, ExpectedVersion, PgEventStore, Snapshot, StreamAppend};

fn metadata(actor: &str) -> EventMetadata {
    EventMetadata {
        event_id: EventId(uuid::Uuid::new_v4()),
        causation_id: None,
        correlation_id: None,
        origin: Origin::OpenMeet,
        actor: Actor::system(actor),
    }
}

/// An event any follower can read: an operator's skip of another runner.
fn filler(n: u64) -> DomainEvent {
    ProjectionEventSkipped {
        projection: "filler".into(),
        position: n,
        event_type: "Filler".into(),
        reason: "fills the log".into(),
    }
    .into()
}

async fn append(store: &PgEventStore, stream: &str, event: DomainEvent) {
    store
        .append(
            &StreamId::new("filler", stream),
            ExpectedVersion::Any,
            vec![NewEvent {
                metadata: metadata("test"),
                payload: event.encode(),
            }],
        )
        .await
        .unwrap();
}

async fn garbage(store: &PgEventStore) -> GlobalPosition {
    store
        .append(
            &StreamId::new("filler", "garbage"),
            ExpectedVersion::Any,
            vec![NewEvent {
                metadata: metadata("a broken build"),
                payload: EncodedPayload {
                    event_type: "ProjectionEventSkipped".into(),
                    schema_version: 1,
                    bytes: vec![0xff; 3],
                },
            }],
        )
        .await
        .unwrap()
        .last_position
}

/// Counts the fillers it saw, and records one event for every third.
#[derive(Default, Serialize, Deserialize)]
struct Counter {
    seen: u64,
}

impl Handler for Counter {
    const NAME: &'static str = "test-counter";
    const SHAPE: u32 = 7;

    fn handle(&mut self, recorded: &RecordedEvent, _: &DomainEvent) -> Vec<Append> {
        self.seen += 1;
        if !self.seen.is_multiple_of(3) {
            return vec![];
        }
        vec![Append {
            stream: StreamId::new("counted", self.seen),
            metadata: EventMetadata {
                event_id: EventId::caused_by(recorded.metadata.event_id, "counted"),
                causation_id: Some(recorded.metadata.event_id),
                ..metadata(Self::NAME)
            },
            event: filler(self.seen),
        }]
    }
}

async fn counter(store: &PgEventStore, policy: SnapshotPolicy) -> Follow<Decide<Counter>> {
    let (follow, _) = Follow::start(store.clone(), Counter::default(), policy, &|_, _| {})
        .await
        .unwrap();
    follow
}

#[tokio::test]
async fn a_second_instance_of_a_follower_stops_when_it_finds_the_checkpoint_moved() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    for n in 0..3 {
        append(&store, "a", filler(n)).await;
    }
    let mut first = counter(&store, SnapshotPolicy::default()).await;
    let mut second = counter(&store, SnapshotPolicy::default()).await;
    let done = first.until_idle().await.unwrap();
    assert_eq!(
        (done.handled, done.recorded),
        (4, 1),
        "three fillers, then its own record"
    );
    append(&store, "a", filler(9)).await;
    let stopped = second.until_idle().await.unwrap_err();
    assert!(stopped.is_concurrent_runner(), "{stopped}");
    assert!(
        matches!(
            stopped,
            FollowError::Append {
                source: AppendError::CheckpointMoved {
                    expected: GlobalPosition(0),
                    found: GlobalPosition(4),
                    ..
                },
                ..
            }
        ),
        "{stopped}"
    );
    let counted_store = store.read_all(GlobalPosition(0), 100).await.unwrap();
    assert_eq!(
        counted_store
            .iter()
            .filter(|event| event.stream_id.as_str().starts_with("counted"))
            .count(),
        1,
        "the second instance recorded nothing"
    );
    assert_eq!(
        first.until_idle().await.unwrap().handled,
        1,
        "the first goes on"
    );
    assert_eq!(
        store.checkpoint(Counter::NAME).await.unwrap(),
        GlobalPosition(5)
    );
}

#[tokio::test]
async fn an_event_that_does_not_decode_stops_a_follower_until_an_operator_skips_it() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    append(&store, "a", filler(1)).await;
    let bad = garbage(&store).await;
    append(&store, "a", filler(2)).await;
    let mut follow = counter(&store, SnapshotPolicy::default()).await;
    let stopped = follow.until_idle().await.unwrap_err().to_string();
    assert!(
        stopped.starts_with(&format!(
            "test-counter stopped at position {bad} (ProjectionEventSkipped)"
        )) && stopped.contains("skip-event --projection test-counter"),
        "{stopped}"
    );
    assert_eq!(
        store.checkpoint(Counter::NAME).await.unwrap(),
        GlobalPosition(0),
        "nothing of the page is stored: it is handled again whole"
    );
    for projection in ["another-runner", Counter::NAME] {
        let skip = ProjectionEventSkipped {
            projection: projection.into(),
            position: bad.0,
            event_type: "ProjectionEventSkipped".into(),
            reason: "written by a broken build".into(),
        };
        store
            .append(
                &skips_stream(),
                ExpectedVersion::Any,
                vec![NewEvent {
                    metadata: metadata("operator"),
                    payload: DomainEvent::from(skip).encode(),
                }],
            )
            .await
            .unwrap();
    }
    follow.until_idle().await.unwrap();
    let head = store.head().await.unwrap();
    assert_eq!(
        follow.follower().state().seen,
        head.0 - 1,
        "every event once, its own record too; the garbage passed over"
    );
}

/// Records one event per event, as a publisher does after its effect.
struct Effectful {
    refuse: bool,
}

impl Follower for Effectful {
    const NAME: &'static str = "test-effectful";
    const EFFECTS: bool = true;
    type Error = FollowError;

    fn wants(&self, event_type: &str) -> bool {
        event_type == "ProjectionEventSkipped"
    }

    async fn step(
        &mut self,
        recorded: &RecordedEvent,
        _: &DomainEvent,
    ) -> Result<Vec<StreamAppend>, FollowError> {
        let event_id = EventId::caused_by(recorded.metadata.event_id, "effect");
        let stream = StreamId::new("effects", recorded.global_position.0);
        let expected = if self.refuse {
            ExpectedVersion::Exact(domain::StreamVersion(41))
        } else {
            ExpectedVersion::Any
        };
        Ok(vec![StreamAppend {
            stream,
            expected,
            events: vec![NewEvent {
                metadata: EventMetadata {
                    event_id,
                    ..metadata(Self::NAME)
                },
                payload: DomainEvent::from(domain::series::SeriesDeleted {
                    series_id: domain::series::SeriesId(uuid::Uuid::from_u128(
                        recorded.global_position.0.into(),
                    )),
                })
                .encode(),
            }],
        }])
    }
}

#[tokio::test]
async fn what_an_effectful_follower_records_is_stored_with_its_checkpoint_or_not_at_all() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    append(&store, "a", filler(1)).await;
    append(&store, "a", filler(2)).await;
    let mut refused = Follow::open(store.clone(), Effectful { refuse: true })
        .await
        .unwrap();
    let stopped = refused.until_idle().await.unwrap_err();
    assert!(
        matches!(
            stopped,
            FollowError::Append {
                source: AppendError::WrongExpectedVersion { .. },
                ..
            }
        ),
        "{stopped}"
    );
    assert_eq!(
        store.checkpoint(Effectful::NAME).await.unwrap(),
        GlobalPosition(0),
        "a refused record leaves the checkpoint where it was"
    );
    let mut follow = Follow::open(store.clone(), Effectful { refuse: false })
        .await
        .unwrap();
    let done = follow.until_idle().await.unwrap();
    assert_eq!(
        (done.handled, done.recorded),
        (2, 2),
        "one effect per filler"
    );
    assert_eq!(
        store.checkpoint(Effectful::NAME).await.unwrap(),
        GlobalPosition(4)
    );
}

#[tokio::test]
async fn a_restart_folds_only_what_came_after_its_snapshot_and_ends_as_a_fold_from_zero() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    for n in 0..10 {
        append(&store, "a", filler(n)).await;
    }
    let every_event = SnapshotPolicy {
        events: 1,
        ..SnapshotPolicy::default()
    };
    let mut first = counter(&store, every_event).await;
    first.until_idle().await.unwrap();
    let snapshot = Snapshot::load(&store, Counter::NAME)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.position, first.position());
    drop(first);
    for n in 10..15 {
        append(&store, "b", filler(n)).await;
    }

    let (mut restarted, started) =
        Follow::start(store.clone(), Counter::default(), every_event, &|_, _| {})
            .await
            .unwrap();
    assert_eq!(
        started.from, snapshot.position,
        "it started from its snapshot"
    );
    restarted.until_idle().await.unwrap();

    sqlx::query("DELETE FROM process.snapshots")
        .execute(store.pool())
        .await
        .unwrap();
    let (from_zero, started) = Follow::start(
        store.clone(),
        Counter::default(),
        SnapshotPolicy::default(),
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(started.from, GlobalPosition(0));
    let head = store.head().await.unwrap();
    assert_eq!(restarted.position(), head);
    assert_eq!(
        restarted.follower().state().seen,
        from_zero.follower().state().seen
    );
    assert_eq!(
        from_zero.follower().state().seen,
        head.0,
        "every event of the log, its own records too"
    );
}

#[tokio::test]
async fn a_snapshot_of_another_shape_or_settings_is_discarded_not_misread() {
    let db = ScratchDatabase::create().await;
    let store = db.store(2).await;
    for n in 0..4 {
        append(&store, "a", filler(n)).await;
    }
    let mut first = counter(&store, SnapshotPolicy::default()).await;
    first.until_idle().await.unwrap();
    let at = first.position();
    drop(first);
    let setup = postcard::to_allocvec(&Counter::default()).unwrap();
    let misleading = [
        (Counter::SHAPE + 1, setup.clone(), vec![1]),
        (Counter::SHAPE, vec![9, 9], vec![1]),
        (Counter::SHAPE, setup, vec![0xff; 12]),
    ];
    for (shape, setup, state) in misleading {
        Snapshot {
            name: Counter::NAME.into(),
            shape,
            setup,
            position: at,
            state,
        }
        .save(&store)
        .await
        .unwrap();
        let (follow, started) = Follow::start(
            store.clone(),
            Counter::default(),
            SnapshotPolicy::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        assert_eq!(started.from, GlobalPosition(0), "shape {shape}");
        assert_eq!(follow.follower().state().seen, at.0, "folded from the log");
    }
}
