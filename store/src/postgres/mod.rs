//! The PostgreSQL adapter of the event store, in the `eventstore` schema of
//! the same database as the read models.
//!
//! Global positions come from one locked counter row (`eventstore.head`),
//! held from the moment an append takes its positions until it commits. So
//! positions are gap-free and follow commit order, and a reader that asks
//! for `global_position > last` can never skip an event that a concurrent
//! writer commits later (the sequence-gap trap of a plain identity column).

mod append;
mod append_many;
pub mod chain;
pub mod checkpoints;
mod errors;
mod rows;
mod subscription;

use std::time::Duration;

use domain::{GlobalPosition, NewEvent, RecordedEvent, StreamId, StreamVersion};
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::port::{AppendError, Appended, EventStore, ExpectedVersion, StoreError, StreamAppend};
pub use checkpoints::{Advance, Followers};
use errors::classify;

/// The sqlx migrations of the event store and the read models.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The channel an append notifies on commit, with its last position.
pub(crate) const APPENDED_CHANNEL: &str = "eventstore_appended";

/// How often a subscription re-reads the log when no notification arrives.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The event store on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgEventStore {
    pool: PgPool,
    poll_interval: Duration,
}

impl PgEventStore {
    /// Up to `limit` events after `after`, each with the hash the chain
    /// stored for it (see [`chain`]).
    pub async fn read_all_hashed(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<(RecordedEvent, Option<Vec<u8>>)>, StoreError> {
        chain::read_all_hashed(&self.pool, after, limit).await
    }

    /// A store over an existing pool whose database is migrated.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// Connects to `url` with a pool of `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(classify("connecting"))?;
        Ok(Self::new(pool))
    }

    /// Creates the database `url` names when it does not exist yet.
    pub async fn create_database_if_missing(url: &str) -> Result<(), StoreError> {
        use sqlx::migrate::MigrateDatabase;
        let exists = sqlx::Postgres::database_exists(url)
            .await
            .map_err(classify("checking the database exists"))?;
        if !exists {
            sqlx::Postgres::create_database(url)
                .await
                .map_err(classify("creating the database"))?;
        }
        Ok(())
    }

    /// Sets how often subscriptions poll when notifications are missing.
    pub fn with_poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// The underlying pool, for the read models that share the database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Appends `parts` as [`append_many`](EventStore::append_many) does,
    /// and moves a follower's checkpoint in the same transaction: refused
    /// with [`AppendError::CheckpointMoved`], storing nothing, when the
    /// checkpoint is not where the follower left it. `parts` may be empty.
    pub async fn append_advancing(
        &self,
        parts: Vec<StreamAppend>,
        advance: &Advance,
    ) -> Result<Vec<Appended>, AppendError> {
        append_many::append_many(&self.pool, &parts, Some(advance)).await
    }

    /// Where the write-side follower `name` stands in the log (0 when it
    /// never ran).
    pub async fn checkpoint(&self, name: &str) -> Result<GlobalPosition, StoreError> {
        checkpoints::position(&self.pool, Followers::Writers, name).await
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|err| StoreError::Backend {
                operation: "applying migrations",
                source: Box::new(err),
            })
    }
}

impl EventStore for PgEventStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, AppendError> {
        append::append(&self.pool, stream, expected, &events).await
    }

    async fn append_many(&self, parts: Vec<StreamAppend>) -> Result<Vec<Appended>, AppendError> {
        append_many::append_many(&self.pool, &parts, None).await
    }

    async fn read_streams(&self, streams: &[StreamId]) -> Result<Vec<RecordedEvent>, StoreError> {
        let names: Vec<&str> = streams.iter().map(StreamId::as_str).collect();
        let rows = sqlx::query(rows::READ_STREAMS)
            .bind(&names)
            .fetch_all(&self.pool)
            .await
            .map_err(classify("reading streams"))?;
        let mut events = rows
            .iter()
            .map(rows::recorded_event)
            .collect::<Result<Vec<_>, _>>()?;
        let order: std::collections::HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(n, name)| (*name, n))
            .collect();
        // Stable: each stream's events keep their version order.
        events.sort_by_key(|event| order.get(event.stream_id.as_str()).copied());
        Ok(events)
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = sqlx::query(rows::READ_STREAM)
            .bind(stream.as_str())
            .bind(to_i64(from.0))
            .bind(to_i64(limit as u64))
            .fetch_all(&self.pool)
            .await
            .map_err(classify("reading a stream"))?;
        rows.iter().map(rows::recorded_event).collect()
    }

    async fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read_all(&self.pool, after, limit).await
    }

    async fn head(&self) -> Result<GlobalPosition, StoreError> {
        let position: i64 = sqlx::query_scalar("SELECT position FROM eventstore.head")
            .fetch_one(&self.pool)
            .await
            .map_err(classify("reading the head of the log"))?;
        Ok(GlobalPosition(position as u64))
    }

    fn subscribe(
        &self,
        after: GlobalPosition,
    ) -> BoxStream<'static, Result<RecordedEvent, StoreError>> {
        subscription::CatchUp::new(self.pool.clone(), after, self.poll_interval)
            .into_stream()
            .boxed()
    }
}

/// How many payload bytes one read of the global log brings at most (past
/// its first event): every fold pages through the log, several at once, and
/// a stretch of huge events must not multiply into their memory.
pub const PAGE_BYTES: i64 = 8 * 1024 * 1024;

async fn read_all(
    pool: &PgPool,
    after: GlobalPosition,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(rows::READ_ALL)
        .bind(to_i64(after.0))
        .bind(to_i64(limit as u64))
        .bind(PAGE_BYTES)
        .fetch_all(pool)
        .await
        .map_err(classify("reading the global log"))?;
    rows.iter().map(rows::recorded_event).collect()
}

/// Positions and versions are stored as `bigint`; values past `i64::MAX`
/// cannot exist in the table, so they saturate to a bound that matches nothing.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
