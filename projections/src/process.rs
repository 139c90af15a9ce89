//! Runs the process manager over the log: its state is folded from the log
//! alone, each decision it takes is appended as an event, and its
//! checkpoint (`process.checkpoints`) says how far decisions were carried
//! out.
//!
//! An event that does not decode stops it there, unless an operator
//! recorded a skip of that position for `process-manager`
//! (`openmeet-sync skip-event`): then it passes over it, as `audit verify`'s
//! replay does, so the decisions stay the same.
//!
//! A decision's event id derives from its cause, so a decision appended
//! again after a crash (appended, checkpoint not yet moved) is recognised by
//! the store as a repeat and written once.

use domain::Append;
use domain::skips::ProjectionSkips;
use domain::sync::ProcessManager;
use domain::{DomainEvent, GlobalPosition, NewEvent, RecordedEvent};
use futures::StreamExt;
use store::{AppendError, EventStore, ExpectedVersion, PgEventStore, StoreError, StreamAppend};
use thiserror::Error;

/// The checkpoint's name in `process.checkpoints`.
pub const CHECKPOINT: &str = "process-manager";

/// Events handled, and their decisions appended, at a time.
const BATCH: usize = 512;

/// Why the process manager stopped.
#[derive(Debug, Error)]
pub enum ProcessError {
    /// A stored event does not decode: its decisions cannot be taken.
    #[error("process manager stopped at position {position} ({event_type} in {stream}): {reason}")]
    Undecodable {
        /// The event's position.
        position: GlobalPosition,
        /// Its type.
        event_type: String,
        /// Its stream.
        stream: String,
        /// What the decoder said.
        reason: String,
    },
    /// The decisions of a batch could not be appended.
    #[error(
        "process manager: appending the decisions caused by positions {from} to {to}: {source}"
    )]
    Append {
        /// The first event of the batch.
        from: GlobalPosition,
        /// The last.
        to: GlobalPosition,
        /// What the store said.
        #[source]
        source: AppendError,
    },
    /// The checkpoint moved under this runner: another one is active.
    #[error("process manager: its checkpoint was moved by another runner; only one may run")]
    ConcurrentRunner,
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operators' skips could not be read.
    #[error("process manager: reading the operators' skips: {0}")]
    Skips(String),
    /// The checkpoint could not be read or written.
    #[error("process manager: {operation} failed: {source}")]
    Database {
        /// What was being done.
        operation: &'static str,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
}

fn database(operation: &'static str) -> impl Fn(sqlx::Error) -> ProcessError {
    move |source| ProcessError::Database { operation, source }
}

/// Decodes one stored event, or names it.
pub fn decode(recorded: &RecordedEvent) -> Result<DomainEvent, ProcessError> {
    DomainEvent::decode(&recorded.payload).map_err(|err| ProcessError::Undecodable {
        position: recorded.global_position,
        event_type: recorded.payload.event_type.clone(),
        stream: recorded.stream_id.to_string(),
        reason: err.to_string(),
    })
}

/// How far the decisions were carried out (0 when the runner never ran).
pub async fn checkpoint(store: &PgEventStore) -> Result<GlobalPosition, ProcessError> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM process.checkpoints WHERE name = $1")
            .bind(CHECKPOINT)
            .fetch_optional(store.pool())
            .await
            .map_err(database("reading the checkpoint"))?;
    Ok(GlobalPosition(position.unwrap_or(0) as u64))
}

/// The process manager and where it stands in the log.
pub struct Runner {
    store: PgEventStore,
    manager: ProcessManager,
    checkpoint: GlobalPosition,
    decisions: u64,
    skips: ProjectionSkips,
}

/// `recorded` decoded, or `None` when it does not decode and the operators
/// recorded a skip of its position for the process manager.
fn decode_unless_skipped(
    skips: &ProjectionSkips,
    recorded: &RecordedEvent,
) -> Result<Option<DomainEvent>, ProcessError> {
    match decode(recorded) {
        Ok(event) => Ok(Some(event)),
        Err(err) if skips.is_skipped(CHECKPOINT, recorded.global_position.0) => {
            tracing::warn!(position = %recorded.global_position, error = %err,
                "the process manager passes over an event it cannot decode, by an operator's decision");
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

impl Runner {
    /// Rebuilds the state from the log up to the checkpoint; the decisions
    /// of those events were appended before, so none is taken again.
    /// `progress(done, total)` reports events folded.
    pub async fn start(
        store: PgEventStore,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<Runner, ProcessError> {
        let checkpoint = checkpoint(&store).await?;
        let skips = crate::skips::load(&store)
            .await
            .map_err(|err| ProcessError::Skips(err.to_string()))?;
        let mut manager = ProcessManager::default();
        let mut after = GlobalPosition(0);
        while after < checkpoint {
            let limit = BATCH.min((checkpoint.0 - after.0) as usize);
            let page = store.read_all(after, limit).await?;
            let Some(last) = page.last() else { break };
            after = last.global_position;
            for recorded in &page {
                if let Some(event) = decode_unless_skipped(&skips, recorded)? {
                    manager = manager.handle(recorded, &event).0;
                }
            }
            progress(after.0, checkpoint.0);
        }
        tracing::info!(%checkpoint, "process manager state rebuilt from the log");
        Ok(Runner {
            store,
            manager,
            checkpoint,
            decisions: 0,
            skips,
        })
    }

    /// The position up to which decisions were carried out.
    pub fn checkpoint(&self) -> GlobalPosition {
        self.checkpoint
    }

    /// Decisions appended since the runner started.
    pub fn decisions(&self) -> u64 {
        self.decisions
    }

    /// Handles `events` (the next ones after the checkpoint, in log order),
    /// appends the decisions they call for, then moves the checkpoint.
    pub async fn handle(&mut self, events: &[RecordedEvent]) -> Result<(), ProcessError> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return Ok(());
        };
        let mut commands: Vec<Append> = Vec::new();
        for recorded in events {
            let Some(event) = decode_unless_skipped(&self.skips, recorded)? else {
                continue;
            };
            let _span = tracing::debug_span!("decide", position = %recorded.global_position,
                event_type = %recorded.payload.event_type)
            .entered();
            let (manager, decided) = std::mem::take(&mut self.manager).handle(recorded, &event);
            self.manager = manager;
            commands.extend(decided);
        }
        if !commands.is_empty() {
            let count = commands.len() as u64;
            // One part per decision: each is stored whole or not at all, so
            // a batch cut differently after a restart is still a repeat.
            let parts = commands.into_iter().map(|command| StreamAppend {
                stream: command.stream,
                expected: ExpectedVersion::Any,
                events: vec![NewEvent {
                    metadata: command.metadata,
                    payload: command.event.encode(),
                }],
            });
            self.store
                .append_many(parts.collect())
                .await
                .map_err(|source| ProcessError::Append {
                    from: first.global_position,
                    to: last.global_position,
                    source,
                })?;
            self.decisions += count;
            tracing::info!(decisions = count, from = %first.global_position,
                to = %last.global_position, "decisions appended");
        }
        self.move_checkpoint(last.global_position).await
    }

    async fn move_checkpoint(&mut self, to: GlobalPosition) -> Result<(), ProcessError> {
        let moved = sqlx::query(
            "INSERT INTO process.checkpoints (name, position) VALUES ($1, $3) \
             ON CONFLICT (name) DO UPDATE SET position = $3 \
             WHERE process.checkpoints.position = $2",
        )
        .bind(CHECKPOINT)
        .bind(self.checkpoint.0 as i64)
        .bind(to.0 as i64)
        .execute(self.store.pool())
        .await
        .map_err(database("moving the checkpoint"))?;
        if moved.rows_affected() != 1 {
            return Err(ProcessError::ConcurrentRunner);
        }
        self.checkpoint = to;
        Ok(())
    }

    /// Handles the log up to its head, including the decisions appended on
    /// the way, and returns.
    pub async fn run_until_idle(&mut self) -> Result<(), ProcessError> {
        loop {
            let page = self.store.read_all(self.checkpoint, BATCH).await?;
            if page.is_empty() {
                return Ok(());
            }
            self.handle(&page).await?;
        }
    }

    /// Follows the log forever (or until an error).
    pub async fn follow(mut self) -> Result<(), ProcessError> {
        let mut batches = self.store.subscribe(self.checkpoint).ready_chunks(BATCH);
        while let Some(batch) = batches.next().await {
            let events = batch.into_iter().collect::<Result<Vec<_>, _>>()?;
            self.handle(&events).await?;
        }
        Ok(())
    }
}
