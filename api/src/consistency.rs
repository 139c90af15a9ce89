//! Read-your-writes: a write returns the global position it reached; a read
//! that passes `?after=<position>` waits (bounded) until the projection it
//! reads has applied that position. A position beyond the log's head
//! cannot come from a write, and may not come soon: it is refused at once
//! (409, naming the head) rather than waited for.

use std::time::{Duration, Instant};

use domain::GlobalPosition;
use projections::Projection;
use store::EventStore;

use crate::{ApiError, AppState};

/// Waits until every projection in `projections` has reached `after`.
pub async fn wait_for(
    state: &AppState,
    after: Option<u64>,
    projections: &[Projection],
) -> Result<(), ApiError> {
    let Some(after) = after else { return Ok(()) };
    let head = state
        .store
        .head()
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    if after > head.0 {
        return Err(ApiError::Conflict(format!(
            "after={after} is beyond the log's head, position {head}: pass a position a write returned"
        )));
    }
    let deadline = Instant::now() + state.consistency_timeout;
    let mut pause = Duration::from_millis(5);
    for projection in projections {
        loop {
            let checkpoint = projection
                .checkpoint(state.store.pool())
                .await
                .map_err(|err| ApiError::Internal(err.to_string()))?;
            if checkpoint >= GlobalPosition(after) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ApiError::NotCaughtUp(format!(
                    "projection {projection} is at position {checkpoint}, not yet at {after}; retry shortly"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
    Ok(())
}
