//! Keeps projections current: each follows the global log on its own and,
//! when it cannot go on, stops alone at the event, says where, and tries
//! again.

use std::time::Duration;

use domain::GlobalPosition;
use futures::StreamExt;
use sqlx::PgPool;
use store::{EventStore, PgEventStore};
use tokio::task::JoinSet;

use crate::failures;
use crate::projection::{LIVE_SCHEMA, Projection, ProjectionError};

/// The most events applied in one transaction.
const BATCH: usize = 2_000;

/// The first wait after a projection stopped on an event.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between tries of a stopped projection.
const LAST_RETRY: Duration = Duration::from_secs(60);

/// Follows the log from the projection's checkpoint and applies every event,
/// forever. An event it cannot apply stops it there (recorded in
/// `projections.failures`, so `/health` says so); it tries again with
/// growing waits, reading the operators' skips anew each time, so a skip
/// recorded for that event lets it go on. Only a second runner of the same
/// projection ends it.
pub async fn run(store: PgEventStore, projection: Projection) -> Result<(), ProjectionError> {
    let mut wait = FIRST_RETRY;
    loop {
        let err = match follow(&store, projection).await {
            Ok(()) => return Ok(()),
            Err(err @ ProjectionError::ConcurrentRunner(_)) => return Err(err),
            Err(err) => err,
        };
        if let Err(unrecorded) = failures::record(store.pool(), &err).await {
            tracing::warn!(%projection, error = %unrecorded, "where the projection stopped could not be recorded");
        }
        tracing::error!(
            %projection,
            error = %err,
            retry_in = ?wait,
            "projection stopped; the rest goes on. If the event can never apply: openmeet-sync skip-event --projection {projection} --position N --reason TEXT"
        );
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(LAST_RETRY);
    }
}

/// One try: from the checkpoint on, until an error.
async fn follow(store: &PgEventStore, projection: Projection) -> Result<(), ProjectionError> {
    let pool = store.pool().clone();
    let skips = crate::skips::load(store).await?;
    let mut checkpoint = projection.checkpoint(&pool).await?;
    tracing::info!(%projection, %checkpoint, skipped = skips.count(projection.name()), "projection starting");
    let mut stopped_before = true;
    let mut batches = store.subscribe(checkpoint).ready_chunks(BATCH);
    while let Some(batch) = batches.next().await {
        let events = batch.into_iter().collect::<Result<Vec<_>, _>>()?;
        // A connection per batch, so idle projections hold none.
        let mut conn = pool
            .acquire()
            .await
            .map_err(|source| ProjectionError::Database {
                projection,
                operation: "connecting",
                source,
            })?;
        projection
            .apply_skipping(&mut conn, LIVE_SCHEMA, &events, Some(checkpoint), &skips)
            .await?;
        if let Some(last) = events.last() {
            checkpoint = last.global_position;
            tracing::debug!(%projection, %checkpoint, events = events.len(), "batch applied");
        }
        // Whatever stopped a runner before is behind this one now.
        if std::mem::take(&mut stopped_before) {
            failures::clear(&mut conn, projection).await?;
        }
    }
    Ok(())
}

/// Runs every projection in its own task; one stopped on an event retries
/// alone while the others go on.
pub fn run_all(store: &PgEventStore) -> JoinSet<(Projection, Result<(), ProjectionError>)> {
    let mut tasks = JoinSet::new();
    for projection in Projection::ALL {
        let store = store.clone();
        tasks.spawn(async move {
            let outcome = run(store, projection).await;
            if let Err(err) = &outcome {
                tracing::error!(%projection, error = %err, "projection stopped");
            }
            (projection, outcome)
        });
    }
    tasks
}

/// Where a projection stands against the head of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lag {
    /// The projection.
    pub projection: Projection,
    /// Its checkpoint.
    pub checkpoint: GlobalPosition,
    /// Events between its checkpoint and the head (positions are gap-free).
    pub behind: u64,
}

/// The lag of every projection.
pub async fn lag(pool: &PgPool, head: GlobalPosition) -> Result<Vec<Lag>, ProjectionError> {
    let mut lags = Vec::new();
    for projection in Projection::ALL {
        let checkpoint = projection.checkpoint(pool).await?;
        lags.push(Lag {
            projection,
            checkpoint,
            behind: head.0.saturating_sub(checkpoint.0),
        });
    }
    Ok(lags)
}
