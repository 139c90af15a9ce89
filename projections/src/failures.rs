//! Where a projection stopped: kept in `projections.failures` while it
//! cannot go past one event, so every process's `/health` shows it
//! degraded, with the position and the reason.

use chrono::{DateTime, Utc};
use domain::GlobalPosition;
use sqlx::{PgConnection, PgPool};

use crate::projection::{Projection, ProjectionError};

/// A projection stopped on one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The projection.
    pub projection: Projection,
    /// The event it cannot apply.
    pub position: GlobalPosition,
    /// That event's type.
    pub event_type: String,
    /// Its stream.
    pub stream: String,
    /// What went wrong.
    pub reason: String,
    /// When it was last tried.
    pub failed_at: DateTime<Utc>,
}

/// Records (or refreshes) that `error` stopped its projection on an event;
/// errors that name no event record nothing.
pub async fn record(pool: &PgPool, error: &ProjectionError) -> Result<(), ProjectionError> {
    let (ProjectionError::Apply {
        projection,
        position,
        event_type,
        stream,
        reason,
    }
    | ProjectionError::Undecodable {
        projection,
        position,
        event_type,
        stream,
        reason,
    }) = error
    else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO projections.failures (projection, position, event_type, stream, reason, failed_at) \
         VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (projection) DO UPDATE SET position = $2, \
         event_type = $3, stream = $4, reason = $5, failed_at = now()",
    )
    .bind(projection.name())
    .bind(position.0 as i64)
    .bind(event_type)
    .bind(stream)
    .bind(reason)
    .execute(pool)
    .await
    .map_err(projection.database("recording where it stopped"))?;
    Ok(())
}

/// Forgets the failure of `projection`: it moved on.
pub async fn clear(conn: &mut PgConnection, projection: Projection) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM projections.failures WHERE projection = $1")
        .bind(projection.name())
        .execute(conn)
        .await
        .map_err(projection.database("clearing where it stopped"))?;
    Ok(())
}

/// Every projection stopped on an event now.
pub async fn current(pool: &PgPool) -> Result<Vec<Failure>, sqlx::Error> {
    let rows: Vec<(String, i64, String, String, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT projection, position, event_type, stream, reason, failed_at \
         FROM projections.failures ORDER BY projection",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, position, event_type, stream, reason, failed_at)| {
            Some(Failure {
                projection: Projection::parse(&name)?,
                position: GlobalPosition(position as u64),
                event_type,
                stream,
                reason,
                failed_at,
            })
        })
        .collect())
}
