//! The runners of this crate follow the log from a checkpoint in
//! `process.checkpoints` (the table the process manager uses too). The
//! checkpoint moves past every event that recorded something, and past the
//! last of each page: a stop repeats at most the event in hand, and events
//! that need nothing cost no write. It moves by compare-and-set, from where
//! this runner last left it: a second instance of the same runner finds it
//! moved and stops rather than write everything twice.

use std::future::Future;

use domain::decider::Decider;
use domain::skips::{ProjectionSkips, skips_stream};
use domain::{DomainEvent, GlobalPosition, RecordedEvent};
use futures::StreamExt;
use store::{EventStore, PgEventStore, StoreError};
use thiserror::Error;

/// Events read at a time.
const BATCH: usize = 256;

/// The checkpoint was moved by someone else since this runner read it.
#[derive(Debug, Error)]
#[error(
    "the checkpoint {name} was at {found} where this runner left it at {expected}: another instance runs; this one stops"
)]
pub struct CheckpointMoved {
    /// The runner.
    pub name: &'static str,
    /// Where this runner left it.
    pub expected: u64,
    /// Where it is.
    pub found: u64,
}

/// A runner met an event it needs and cannot decode: what it would do
/// with it cannot be known, so it stops there.
#[derive(Debug, Error)]
#[error(
    "{name} stopped at position {position} ({event_type}): {reason}; when no build can read it, \
     `openmeet-sync skip-event --projection {name} --position {position}` passes over it"
)]
pub struct Undecodable {
    /// The runner.
    pub name: &'static str,
    /// The event's position.
    pub position: GlobalPosition,
    /// Its type.
    pub event_type: String,
    /// What the decoder said.
    pub reason: String,
}

/// `event` decoded; `None` when it does not decode and an operator
/// recorded a skip of it for the runner `name`
/// (`openmeet-sync skip-event`); [`Undecodable`] otherwise.
pub(crate) async fn decoded_unless_skipped<E: From<Undecodable> + From<StoreError>>(
    store: &PgEventStore,
    name: &'static str,
    event: &RecordedEvent,
) -> Result<Option<DomainEvent>, E> {
    let err = match DomainEvent::decode(&event.payload) {
        Ok(decoded) => return Ok(Some(decoded)),
        Err(err) => err,
    };
    let recorded = store.read_streams(&[skips_stream()]).await?;
    let skips: Vec<DomainEvent> = recorded
        .iter()
        .filter_map(|skip| DomainEvent::decode(&skip.payload).ok())
        .collect();
    if ProjectionSkips::replay(&skips).is_skipped(name, event.global_position.0) {
        tracing::warn!(runner = name, position = %event.global_position, error = %err,
            "passed over an event that does not decode, by an operator's decision");
        return Ok(None);
    }
    Err(Undecodable {
        name,
        position: event.global_position,
        event_type: event.payload.event_type.clone(),
        reason: err.to_string(),
    }
    .into())
}

/// What a runner does with one event of the log; returns how many events
/// it recorded.
pub(crate) trait Step {
    /// Why it stops.
    type Error: From<StoreError> + From<sqlx::Error> + From<CheckpointMoved>;

    /// Handles `event`.
    fn step(
        &mut self,
        event: &RecordedEvent,
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send;
}

/// A runner's place in the log.
pub(crate) struct Cursor {
    store: PgEventStore,
    name: &'static str,
    position: GlobalPosition,
}

impl Cursor {
    /// The place of the runner `name` (the start when it never ran).
    pub(crate) async fn open(store: PgEventStore, name: &'static str) -> Result<Self, sqlx::Error> {
        let position: Option<i64> =
            sqlx::query_scalar("SELECT position FROM process.checkpoints WHERE name = $1")
                .bind(name)
                .fetch_optional(store.pool())
                .await?;
        Ok(Self {
            store,
            name,
            position: GlobalPosition(position.unwrap_or(0) as u64),
        })
    }

    async fn save<E: From<sqlx::Error> + From<CheckpointMoved>>(
        &mut self,
        to: GlobalPosition,
    ) -> Result<(), E> {
        let moved = sqlx::query(
            "INSERT INTO process.checkpoints (name, position) VALUES ($1, $3) \
             ON CONFLICT (name) DO UPDATE SET position = $3 \
             WHERE process.checkpoints.position = $2",
        )
        .bind(self.name)
        .bind(self.position.0 as i64)
        .bind(to.0 as i64)
        .execute(self.store.pool())
        .await?;
        if moved.rows_affected() != 1 {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT position FROM process.checkpoints WHERE name = $1")
                    .bind(self.name)
                    .fetch_optional(self.store.pool())
                    .await?;
            return Err(CheckpointMoved {
                name: self.name,
                expected: self.position.0,
                found: found.unwrap_or(0) as u64,
            }
            .into());
        }
        self.position = to;
        Ok(())
    }

    async fn handled<S: Step>(
        &mut self,
        page: &[RecordedEvent],
        step: &mut S,
    ) -> Result<usize, S::Error> {
        let mut recorded = 0;
        for event in page {
            let now = step.step(event).await?;
            if now > 0 {
                self.save::<S::Error>(event.global_position).await?;
            }
            recorded += now;
        }
        if let Some(last) = page.last()
            && last.global_position > self.position
        {
            self.save::<S::Error>(last.global_position).await?;
        }
        Ok(recorded)
    }

    /// Runs `step` over the log up to its head; returns what it recorded.
    pub(crate) async fn until_idle<S: Step>(&mut self, step: &mut S) -> Result<usize, S::Error> {
        let mut recorded = 0;
        loop {
            let page = self.store.read_all(self.position, BATCH).await?;
            if page.is_empty() {
                return Ok(recorded);
            }
            recorded += self.handled(&page, step).await?;
        }
    }

    /// Runs `step` over the log forever (or until an error).
    pub(crate) async fn follow<S: Step>(mut self, mut step: S) -> Result<(), S::Error> {
        let store = self.store.clone();
        let mut pages = store.subscribe(self.position).ready_chunks(BATCH);
        while let Some(page) = pages.next().await {
            let page = page.into_iter().collect::<Result<Vec<_>, _>>()?;
            self.handled(&page, &mut step).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use domain::{Actor, EventId, EventMetadata, NewEvent, Origin, StreamId};
    use store::ExpectedVersion;
    use store::testkit::ScratchDatabase;

    use super::*;

    /// Records one event for each it sees.
    struct Counting;

    #[derive(Debug, Error)]
    enum Stopped {
        #[error(transparent)]
        Store(#[from] StoreError),
        #[error(transparent)]
        Sql(#[from] sqlx::Error),
        #[error(transparent)]
        Moved(#[from] CheckpointMoved),
        #[error(transparent)]
        Undecodable(#[from] Undecodable),
    }

    impl Step for Counting {
        type Error = Stopped;

        async fn step(&mut self, _: &RecordedEvent) -> Result<usize, Stopped> {
            Ok(1)
        }
    }

    async fn append(store: &PgEventStore, stream: u128) {
        let event = domain::skips::ProjectionEventSkipped {
            projection: "filler".into(),
            position: 0,
            event_type: "Filler".into(),
            reason: "fills the log".into(),
        };
        let new = NewEvent {
            metadata: EventMetadata {
                event_id: EventId(uuid::Uuid::new_v4()),
                causation_id: None,
                correlation_id: None,
                origin: Origin::Bluesky,
                actor: Actor::system("test"),
            },
            payload: domain::DomainEvent::from(event).encode(),
        };
        store
            .append(
                &StreamId::new("filler", uuid::Uuid::from_u128(stream)),
                ExpectedVersion::Any,
                vec![new],
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_second_instance_of_a_runner_stops_when_it_finds_the_checkpoint_moved() {
        let db = ScratchDatabase::create().await;
        let store = db.store(2).await;
        append(&store, 1).await;
        let mut first = Cursor::open(store.clone(), "test-runner").await.unwrap();
        let mut second = Cursor::open(store.clone(), "test-runner").await.unwrap();
        assert_eq!(first.until_idle(&mut Counting).await.unwrap(), 1);
        append(&store, 2).await;
        let stopped = second.until_idle(&mut Counting).await.unwrap_err();
        assert!(
            matches!(
                stopped,
                Stopped::Moved(CheckpointMoved {
                    expected: 0,
                    found: 1,
                    ..
                })
            ),
            "{stopped}"
        );
        assert_eq!(
            first.until_idle(&mut Counting).await.unwrap(),
            1,
            "the first goes on"
        );
    }

    #[tokio::test]
    async fn an_event_that_does_not_decode_stops_a_runner_until_an_operator_skips_it() {
        let db = ScratchDatabase::create().await;
        let store = db.store(2).await;
        append(&store, 1).await;
        let garbage = NewEvent {
            metadata: EventMetadata {
                event_id: EventId(uuid::Uuid::new_v4()),
                causation_id: None,
                correlation_id: None,
                origin: Origin::OpenMeet,
                actor: Actor::system("a broken build"),
            },
            payload: domain::EncodedPayload {
                event_type: "OccurrencePublishRequested".into(),
                schema_version: 1,
                bytes: vec![0xff; 3],
            },
        };
        store
            .append(
                &StreamId::new("filler", "garbage"),
                ExpectedVersion::Any,
                vec![garbage],
            )
            .await
            .unwrap();
        let log = store.read_all(GlobalPosition(0), 10).await.unwrap();
        let (good, bad) = (&log[0], &log[1]);
        let decoded: Option<DomainEvent> =
            decoded_unless_skipped::<Stopped>(&store, "test-runner", good)
                .await
                .unwrap();
        assert!(decoded.is_some());
        let stopped = decoded_unless_skipped::<Stopped>(&store, "test-runner", bad)
            .await
            .unwrap_err();
        assert!(
            stopped.to_string().starts_with(&format!(
                "test-runner stopped at position {} (OccurrencePublishRequested)",
                bad.global_position
            )),
            "{stopped}"
        );
        let skip = domain::skips::ProjectionEventSkipped {
            projection: "another-runner".into(),
            position: bad.global_position.0,
            event_type: "OccurrencePublishRequested".into(),
            reason: "written by a broken build".into(),
        };
        let recorded = NewEvent {
            metadata: operator_metadata(),
            payload: DomainEvent::from(skip.clone()).encode(),
        };
        store
            .append(&skips_stream(), ExpectedVersion::Any, vec![recorded])
            .await
            .unwrap();
        assert!(
            decoded_unless_skipped::<Stopped>(&store, "test-runner", bad)
                .await
                .is_err(),
            "a skip for another runner is not this one's"
        );
        let mine = NewEvent {
            metadata: operator_metadata(),
            payload: DomainEvent::from(domain::skips::ProjectionEventSkipped {
                projection: "test-runner".into(),
                ..skip
            })
            .encode(),
        };
        store
            .append(&skips_stream(), ExpectedVersion::Any, vec![mine])
            .await
            .unwrap();
        let passed: Option<DomainEvent> =
            decoded_unless_skipped::<Stopped>(&store, "test-runner", bad)
                .await
                .unwrap();
        assert!(passed.is_none());
    }

    fn operator_metadata() -> EventMetadata {
        EventMetadata {
            event_id: EventId(uuid::Uuid::new_v4()),
            causation_id: None,
            correlation_id: None,
            origin: Origin::OpenMeet,
            actor: Actor::system("operator"),
        }
    }
}
