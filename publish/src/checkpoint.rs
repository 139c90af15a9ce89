//! The runners of this crate follow the log from a checkpoint in
//! `process.checkpoints` (the table the process manager uses too). The
//! checkpoint moves past every event that recorded something, and past the
//! last of each page: a stop repeats at most the event in hand, and events
//! that need nothing cost no write.

use std::future::Future;

use domain::{GlobalPosition, RecordedEvent};
use futures::StreamExt;
use store::{EventStore, PgEventStore, StoreError};

/// Events read at a time.
const BATCH: usize = 256;

/// What a runner does with one event of the log; returns how many events
/// it recorded.
pub(crate) trait Step {
    /// Why it stops.
    type Error: From<StoreError> + From<sqlx::Error>;

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

    async fn save(&mut self, to: GlobalPosition) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO process.checkpoints (name, position) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET position = GREATEST(process.checkpoints.position, $2)",
        )
        .bind(self.name)
        .bind(to.0 as i64)
        .execute(self.store.pool())
        .await?;
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
                self.save(event.global_position).await?;
            }
            recorded += now;
        }
        if let Some(last) = page.last()
            && last.global_position > self.position
        {
            self.save(last.global_position).await?;
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
