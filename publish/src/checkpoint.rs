//! The runners of this crate follow the log from a checkpoint in
//! `process.checkpoints` (the table the process manager uses too). The
//! checkpoint moves past every event that recorded something, and past the
//! last of each page: a stop repeats at most the event in hand, and events
//! that need nothing cost no write. It moves by compare-and-set, from where
//! this runner last left it: a second instance of the same runner finds it
//! moved and stops rather than write everything twice.

use std::future::Future;

use domain::{GlobalPosition, RecordedEvent};
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
}
