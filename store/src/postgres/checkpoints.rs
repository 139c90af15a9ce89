//! Where each follower of the log stands (`process.checkpoints`). A
//! follower moves its checkpoint by compare-and-set from where it left it,
//! in the transaction of what it appends: its events and its place are
//! stored together or not at all, and a second instance of the follower
//! finds the checkpoint moved and is refused rather than write twice.

use domain::GlobalPosition;
use sqlx::{PgExecutor, Postgres, Transaction};

use super::errors::classify;
use crate::port::{AppendError, StoreError};

/// A follower's move of its checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advance {
    /// The follower.
    pub name: String,
    /// Where it left its checkpoint (0 when it never ran).
    pub from: GlobalPosition,
    /// Where it moves it to.
    pub to: GlobalPosition,
}

const MOVE: &str = "INSERT INTO process.checkpoints (name, position) VALUES ($1, $3) \
     ON CONFLICT (name) DO UPDATE SET position = $3 \
     WHERE process.checkpoints.position = $2";

impl Advance {
    /// Moves the checkpoint inside `tx`; refused when it is not where the
    /// follower left it.
    pub(crate) async fn within(
        &self,
        tx: &mut Transaction<'_, Postgres>,
    ) -> Result<(), AppendError> {
        let moved = sqlx::query(MOVE)
            .bind(&self.name)
            .bind(self.from.0 as i64)
            .bind(self.to.0 as i64)
            .execute(&mut **tx)
            .await
            .map_err(classify("moving a checkpoint"))?;
        if moved.rows_affected() == 1 {
            return Ok(());
        }
        let found = position(&mut **tx, &self.name).await?;
        Err(AppendError::CheckpointMoved {
            name: self.name.clone(),
            expected: self.from,
            found,
        })
    }
}

/// Where the follower `name` stands (0 when it never ran).
pub(crate) async fn position(
    db: impl PgExecutor<'_>,
    name: &str,
) -> Result<GlobalPosition, StoreError> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM process.checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(db)
            .await
            .map_err(classify("reading a checkpoint"))?;
    Ok(GlobalPosition(position.unwrap_or(0) as u64))
}
