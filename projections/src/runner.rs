//! Keeps projections current: each follows the global log on its own and
//! stops alone, with an error naming the event, when it cannot go on.

use domain::GlobalPosition;
use futures::StreamExt;
use sqlx::PgPool;
use store::{EventStore, PgEventStore};
use tokio::task::JoinSet;

use crate::projection::{LIVE_SCHEMA, Projection, ProjectionError};

/// The most events applied in one transaction.
const BATCH: usize = 2_000;

/// Follows the log from the projection's checkpoint and applies every event,
/// forever (or until an error).
pub async fn run(store: PgEventStore, projection: Projection) -> Result<(), ProjectionError> {
    let pool = store.pool().clone();
    let mut checkpoint = projection.checkpoint(&pool).await?;
    tracing::info!(%projection, %checkpoint, "projection starting");
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
            .apply(&mut conn, LIVE_SCHEMA, &events, Some(checkpoint))
            .await?;
        if let Some(last) = events.last() {
            checkpoint = last.global_position;
            tracing::debug!(%projection, %checkpoint, events = events.len(), "batch applied");
        }
    }
    Ok(())
}

/// Runs every projection in its own task; one that fails logs its error and
/// stops while the others go on.
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
