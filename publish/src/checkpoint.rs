//! Where a runner of this crate stands in the log, in
//! `process.checkpoints` (the table the process manager uses too).

use domain::GlobalPosition;
use store::PgEventStore;

/// How far the runner `name` got (0 when it never ran).
pub(crate) async fn load(store: &PgEventStore, name: &str) -> Result<GlobalPosition, sqlx::Error> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT position FROM process.checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(store.pool())
            .await?;
    Ok(GlobalPosition(position.unwrap_or(0) as u64))
}

/// Moves the runner `name` to `to` (never back).
pub(crate) async fn advance(
    store: &PgEventStore,
    name: &str,
    to: GlobalPosition,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO process.checkpoints (name, position) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET position = GREATEST(process.checkpoints.position, $2)",
    )
    .bind(name)
    .bind(to.0 as i64)
    .execute(store.pool())
    .await?;
    Ok(())
}
