//! Where each follower of the log stands: the write side's followers in
//! `process.checkpoints`, the read models in `projections.checkpoints`.
//! One port for both: a follower moves its checkpoint by compare-and-set
//! from where it left it, in the transaction of what it writes (its
//! events, or a read model's rows), so both are stored together or not at
//! all, and a second instance finds the checkpoint moved and is refused
//! rather than write twice.

use domain::GlobalPosition;
use sqlx::{PgConnection, PgExecutor};

use thiserror::Error;

use super::errors::classify;
use crate::port::{AppendError, StoreError};

/// Why a checkpoint did not move.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// It was not where the follower left it: another instance runs.
    #[error(
        "the checkpoint {name} was at {found} where this follower left it at {expected}: another instance runs; this one stops"
    )]
    Moved {
        /// The follower.
        name: String,
        /// Where it left its checkpoint.
        expected: GlobalPosition,
        /// Where the checkpoint is.
        found: GlobalPosition,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CheckpointError> for AppendError {
    fn from(err: CheckpointError) -> Self {
        match err {
            CheckpointError::Moved {
                name,
                expected,
                found,
            } => AppendError::CheckpointMoved {
                name,
                expected,
                found,
            },
            CheckpointError::Store(err) => AppendError::Store(err),
        }
    }
}

/// Which followers a checkpoint belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Followers {
    /// The write side (`process.checkpoints`): the process manager, the
    /// scheduler, the publishers, the enricher.
    Writers,
    /// The read models (`projections.checkpoints`).
    ReadModels,
}

impl Followers {
    fn read(self) -> &'static str {
        match self {
            Followers::Writers => "SELECT position FROM process.checkpoints WHERE name = $1",
            Followers::ReadModels => {
                "SELECT position FROM projections.checkpoints WHERE projection = $1"
            }
        }
    }

    fn moved(self) -> &'static str {
        match self {
            Followers::Writers => {
                "INSERT INTO process.checkpoints (name, position) VALUES ($1, $3) \
                 ON CONFLICT (name) DO UPDATE SET position = $3 \
                 WHERE process.checkpoints.position = $2"
            }
            Followers::ReadModels => {
                "INSERT INTO projections.checkpoints (projection, position) VALUES ($1, $3) \
                 ON CONFLICT (projection) DO UPDATE SET position = $3 \
                 WHERE projections.checkpoints.position = $2"
            }
        }
    }
}

/// A follower's move of its checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advance {
    /// Whose checkpoint it is.
    pub followers: Followers,
    /// The follower.
    pub name: String,
    /// Where it left its checkpoint (0 when it never ran).
    pub from: GlobalPosition,
    /// Where it moves it to.
    pub to: GlobalPosition,
}

impl Advance {
    /// Moves the checkpoint inside the caller's transaction on `conn`;
    /// refused when it is not where the follower left it.
    pub async fn within(&self, conn: &mut PgConnection) -> Result<(), CheckpointError> {
        let moved = sqlx::query(self.followers.moved())
            .bind(&self.name)
            .bind(self.from.0 as i64)
            .bind(self.to.0 as i64)
            .execute(&mut *conn)
            .await
            .map_err(classify("moving a checkpoint"))?;
        if moved.rows_affected() == 1 {
            return Ok(());
        }
        let found = position(&mut *conn, self.followers, &self.name).await?;
        Err(CheckpointError::Moved {
            name: self.name.clone(),
            expected: self.from,
            found,
        })
    }
}

/// Where the follower `name` stands (0 when it never ran).
pub async fn position(
    db: impl PgExecutor<'_>,
    followers: Followers,
    name: &str,
) -> Result<GlobalPosition, StoreError> {
    let position: Option<i64> = sqlx::query_scalar(followers.read())
        .bind(name)
        .fetch_optional(db)
        .await
        .map_err(classify("reading a checkpoint"))?;
    Ok(GlobalPosition(position.unwrap_or(0) as u64))
}
