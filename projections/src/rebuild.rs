//! Rebuilding a projection from position 0 into a side schema while the
//! live tables keep serving, then swapping it in atomically, or comparing
//! it with the live tables (`verify`).

use domain::GlobalPosition;
use sqlx::{Acquire, PgConnection};
use store::{EventStore, PgEventStore};

use crate::projection::{LIVE_SCHEMA, Projection, ProjectionError};

/// Events read and applied per transaction while rebuilding.
const PAGE: usize = 10_000;

/// Rows that differ between the live table and its rebuilt copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDifference {
    /// The table.
    pub table: String,
    /// Rows only in the live table.
    pub only_live: i64,
    /// Rows only in the rebuilt copy.
    pub only_rebuilt: i64,
    /// A few differing rows, as JSON, for the report.
    pub examples: Vec<String>,
}

/// What a rebuild did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RebuildReport {
    /// The projection.
    pub projection: Projection,
    /// The position the rebuilt copy reached.
    pub position: GlobalPosition,
    /// Whether the copy replaced the live tables.
    pub swapped: bool,
    /// With verify: the differences found (empty for a deterministic
    /// projection).
    pub differences: Vec<TableDifference>,
}

fn side_schema(projection: Projection) -> String {
    format!("rebuild_{}", projection.name())
}

/// Rebuilds `projection` from position 0. With `verify`, compares the copy
/// with the live tables at the live checkpoint and leaves them alone;
/// otherwise swaps the copy in. `progress(done, total)` reports events.
pub async fn rebuild(
    store: &PgEventStore,
    projection: Projection,
    verify: bool,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<RebuildReport, ProjectionError> {
    let db = |operation| {
        move |source| ProjectionError::Database {
            projection,
            operation,
            source,
        }
    };
    let mut conn = store.pool().acquire().await.map_err(db("connecting"))?;
    let side = side_schema(projection);
    prepare_side(&mut conn, projection, &side)
        .await
        .map_err(db("preparing the side schema"))?;

    let target = if verify {
        projection.checkpoint(store.pool()).await?
    } else {
        store.head().await?
    };
    let mut position = copy_until(
        store,
        &mut conn,
        projection,
        &side,
        GlobalPosition(0),
        target,
        progress,
    )
    .await?;

    let mut tx = conn.begin().await.map_err(db("beginning the swap"))?;
    let lock = if verify { "FOR SHARE" } else { "FOR UPDATE" };
    sqlx::query("INSERT INTO projections.checkpoints (projection, position) VALUES ($1, 0) ON CONFLICT DO NOTHING")
        .bind(projection.name())
        .execute(&mut *tx)
        .await
        .map_err(db("creating the checkpoint"))?;
    // Holding the checkpoint row stops the live runner from moving on, so the
    // copy can catch up to exactly where the live tables are (verify) or to
    // the head (swap) before the comparison or the swap.
    let live: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT position FROM projections.checkpoints WHERE projection = $1 {lock}"
    )))
    .bind(projection.name())
    .fetch_one(&mut *tx)
    .await
    .map_err(db("locking the checkpoint"))?;
    let final_target = if verify {
        GlobalPosition(live as u64)
    } else {
        store.head().await?
    };
    position = copy_until(
        store,
        &mut tx,
        projection,
        &side,
        position,
        final_target,
        progress,
    )
    .await?;

    let report = if verify {
        let differences = compare(&mut tx, projection, &side)
            .await
            .map_err(db("comparing tables"))?;
        tx.rollback()
            .await
            .map_err(db("releasing the checkpoint"))?;
        RebuildReport {
            projection,
            position,
            swapped: false,
            differences,
        }
    } else {
        for table in projection.tables() {
            for statement in [
                format!("DROP TABLE {LIVE_SCHEMA}.{table}"),
                format!("ALTER TABLE {side}.{table} SET SCHEMA {LIVE_SCHEMA}"),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(db("swapping tables"))?;
            }
        }
        sqlx::query("UPDATE projections.checkpoints SET position = $2 WHERE projection = $1")
            .bind(projection.name())
            .bind(position.0 as i64)
            .execute(&mut *tx)
            .await
            .map_err(db("moving the checkpoint"))?;
        tx.commit().await.map_err(db("committing the swap"))?;
        RebuildReport {
            projection,
            position,
            swapped: true,
            differences: vec![],
        }
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {side} CASCADE"
    )))
    .execute(&mut *conn)
    .await
    .map_err(db("dropping the side schema"))?;
    Ok(report)
}

/// A fresh side schema with empty copies of the projection's tables
/// (columns, defaults, constraints and indexes).
async fn prepare_side(
    conn: &mut PgConnection,
    projection: Projection,
    side: &str,
) -> Result<(), sqlx::Error> {
    let mut statements = vec![
        format!("DROP SCHEMA IF EXISTS {side} CASCADE"),
        format!("CREATE SCHEMA {side}"),
    ];
    for table in projection.tables() {
        statements.push(format!(
            "CREATE TABLE {side}.{table} (LIKE {LIVE_SCHEMA}.{table} INCLUDING ALL)"
        ));
    }
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Applies the log after `from` up to `until` to the side copy, a page per
/// transaction.
async fn copy_until(
    store: &PgEventStore,
    conn: &mut PgConnection,
    projection: Projection,
    side: &str,
    from: GlobalPosition,
    until: GlobalPosition,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<GlobalPosition, ProjectionError> {
    let mut position = from;
    while position < until {
        let limit = PAGE.min((until.0 - position.0) as usize);
        let events = store.read_all(position, limit).await?;
        let Some(last) = events.last() else { break };
        let last = last.global_position;
        projection.apply(conn, side, &events, None).await?;
        position = last;
        progress(position.0, until.0);
    }
    Ok(position)
}

/// Row-for-row differences (as multisets) between each live table and its copy.
async fn compare(
    conn: &mut PgConnection,
    projection: Projection,
    side: &str,
) -> Result<Vec<TableDifference>, sqlx::Error> {
    let mut differences = Vec::new();
    for table in projection.tables() {
        let live = format!("{LIVE_SCHEMA}.{table}");
        let copy = format!("{side}.{table}");
        let count = |a: &str, b: &str| {
            format!("SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) d")
        };
        let only_live: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count(&live, &copy)))
            .fetch_one(&mut *conn)
            .await?;
        let only_rebuilt: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count(&copy, &live)))
            .fetch_one(&mut *conn)
            .await?;
        if only_live == 0 && only_rebuilt == 0 {
            continue;
        }
        let examples: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT 'live: ' || row_to_json(d)::text FROM (SELECT * FROM {live} EXCEPT ALL SELECT * FROM {copy} LIMIT 3) d \
             UNION ALL \
             SELECT 'rebuilt: ' || row_to_json(d)::text FROM (SELECT * FROM {copy} EXCEPT ALL SELECT * FROM {live} LIMIT 3) d"
        )))
        .fetch_all(&mut *conn)
        .await?;
        differences.push(TableDifference {
            table: (*table).to_owned(),
            only_live,
            only_rebuilt,
            examples,
        });
    }
    Ok(differences)
}
