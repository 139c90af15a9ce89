//! Keeps projections current: each follows the global log on its own and,
//! when it cannot go on, stops alone at the event and says where. Whoever
//! runs it (the supervisor of `serve` and `project`) starts it again.

use domain::GlobalPosition;
use futures::StreamExt;
use sqlx::PgPool;
use store::{EventStore, PgEventStore};

use crate::failures;
use crate::projection::{LIVE_SCHEMA, Projection, ProjectionError};

/// The most events applied in one transaction.
const BATCH: usize = 2_000;

/// Follows the log from the projection's checkpoint and applies every
/// event, until an event it cannot apply stops it there: where and why is
/// recorded in `projections.failures`, so `/health` says so, and returned.
/// Each start reads the operators' skips anew, so a skip recorded for that
/// event lets the next start go on.
pub async fn run(store: PgEventStore, projection: Projection) -> Result<(), ProjectionError> {
    let err = match follow(&store, projection).await {
        Ok(()) => return Ok(()),
        Err(err) => err,
    };
    if !matches!(err, ProjectionError::ConcurrentRunner(_)) {
        if let Err(unrecorded) = failures::record(store.pool(), &err).await {
            tracing::warn!(%projection, error = %unrecorded, "where the projection stopped could not be recorded");
        }
        tracing::warn!(
            %projection,
            "the rest goes on. If the event can never apply: openmeet-sync skip-event --projection {projection} --position N --reason TEXT"
        );
    }
    Err(err)
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
