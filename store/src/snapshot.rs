//! Snapshots of a write-side follower's state (`process.snapshots`): the state after
//! the log up to a position, encoded with postcard, and the shape of the
//! state it was encoded from. Postcard is not self-describing, so a
//! snapshot of another shape than the running build's is never decoded:
//! it is discarded and the state is folded from the log again.

use domain::GlobalPosition;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::PgEventStore;
use thiserror::Error;

/// A follower's state, as a snapshot holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The follower.
    pub name: String,
    /// The shape of the state it was encoded from.
    pub shape: u32,
    /// The state it was folded from (its settings), encoded.
    pub setup: Vec<u8>,
    /// The last event its state holds.
    pub position: GlobalPosition,
    /// The state, encoded.
    pub state: Vec<u8>,
}

/// A snapshot could not be read or written.
#[derive(Debug, Error)]
#[error("the snapshot of {name}: {operation}: {reason}")]
pub struct SnapshotError {
    /// The follower.
    pub name: String,
    /// What was being done.
    pub operation: &'static str,
    /// What failed.
    pub reason: String,
}

impl Snapshot {
    /// `state` at `position`, folded from `setup`, encoded.
    pub fn of<S: Serialize>(
        name: &str,
        shape: u32,
        setup: Vec<u8>,
        position: GlobalPosition,
        state: &S,
    ) -> Result<Self, SnapshotError> {
        Ok(Self {
            name: name.to_owned(),
            shape,
            setup,
            position,
            state: encode(name, state)?,
        })
    }

    /// The state, when the snapshot has the shape `shape` and was folded
    /// from `setup`; `None` otherwise.
    pub fn decode<S: DeserializeOwned>(
        &self,
        shape: u32,
        setup: &[u8],
    ) -> Result<Option<S>, SnapshotError> {
        if self.shape != shape || self.setup != setup {
            return Ok(None);
        }
        postcard::from_bytes(&self.state)
            .map(Some)
            .map_err(|err| SnapshotError {
                name: self.name.clone(),
                operation: "decoding",
                reason: err.to_string(),
            })
    }

    /// Stores it in place of the follower's last one.
    pub async fn save(&self, store: &PgEventStore) -> Result<(), SnapshotError> {
        sqlx::query(
            "INSERT INTO process.snapshots (name, shape, setup, position, state) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE \
             SET shape = $2, setup = $3, position = $4, state = $5, taken_at = now()",
        )
        .bind(&self.name)
        .bind(self.shape as i32)
        .bind(&self.setup)
        .bind(self.position.0 as i64)
        .bind(&self.state)
        .execute(store.pool())
        .await
        .map(|_| ())
        .map_err(|err| self.failed("storing", err))
    }

    /// The last snapshot of `name`, if any.
    pub async fn load(store: &PgEventStore, name: &str) -> Result<Option<Self>, SnapshotError> {
        let row: Option<(i32, Vec<u8>, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT shape, setup, position, state FROM process.snapshots WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(store.pool())
        .await
        .map_err(|err| SnapshotError {
            name: name.to_owned(),
            operation: "reading",
            reason: err.to_string(),
        })?;
        Ok(row.map(|(shape, setup, position, state)| Self {
            name: name.to_owned(),
            shape: shape as u32,
            setup,
            position: GlobalPosition(position as u64),
            state,
        }))
    }

    fn failed(&self, operation: &'static str, err: sqlx::Error) -> SnapshotError {
        SnapshotError {
            name: self.name.clone(),
            operation,
            reason: err.to_string(),
        }
    }
}

/// `state`, as a snapshot of the follower `name` holds it.
pub fn encode<S: Serialize>(name: &str, state: &S) -> Result<Vec<u8>, SnapshotError> {
    postcard::to_allocvec(state).map_err(|err| SnapshotError {
        name: name.to_owned(),
        operation: "encoding",
        reason: err.to_string(),
    })
}
