//! Rebuilding projections from position 0 into side schemas while the live
//! tables keep serving, then swapping each copy in atomically, or comparing
//! it with the live tables (`verify`). The log is read and decoded once for
//! all projections being rebuilt and folded in memory; each row is written
//! once with `COPY` into a bare copy whose keys and indexes are built
//! afterwards. Past a row budget the rest goes page by page with upserts.

use domain::skips::ProjectionSkips;
use domain::{DomainEvent, GlobalPosition, RecordedEvent};
use futures::future::try_join_all;
use sqlx::pool::PoolConnection;
use sqlx::{Acquire, PgConnection, Postgres};
use store::{EventStore, PgEventStore};

use crate::projection::{LIVE_SCHEMA, Projection, ProjectionError, set_schema};

/// How a rebuild reads and how much it holds in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events read, decoded and applied at a time.
    pub page: usize,
    /// The most rows folded in memory (all projections together, about
    /// 1 KB each) before the rebuild writes them and goes on page by page.
    pub row_budget: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            page: 10_000,
            row_budget: 2_000_000,
        }
    }
}

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

/// What a rebuild did for one projection.
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

fn database(
    projection: Projection,
    operation: &'static str,
) -> impl Fn(sqlx::Error) -> ProjectionError {
    projection.database(operation)
}

/// Rebuilds `projections` from position 0. With `verify`, compares each copy
/// with its live tables at the live checkpoint and changes nothing;
/// otherwise swaps each copy in. `progress(done, total)` reports events.
pub async fn rebuild(
    store: &PgEventStore,
    projections: &[Projection],
    verify: bool,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<RebuildReport>, ProjectionError> {
    rebuild_within(store, projections, verify, Limits::default(), progress).await
}

/// [`rebuild`] within explicit [`Limits`].
pub async fn rebuild_within(
    store: &PgEventStore,
    projections: &[Projection],
    verify: bool,
    limits: Limits,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<RebuildReport>, ProjectionError> {
    let mut copies = Vec::with_capacity(projections.len());
    for &projection in projections {
        let mut conn = store
            .pool()
            .acquire()
            .await
            .map_err(database(projection, "connecting"))?;
        prepare_side(&mut conn, projection)
            .await
            .map_err(database(projection, "preparing the side schema"))?;
        copies.push((projection, conn));
    }

    // The bulk of the work, without holding any lock: up to the head for a
    // swap, up to the least advanced live checkpoint for a comparison.
    let mut target = store.head().await?;
    if verify {
        for &projection in projections {
            target = target.min(projection.checkpoint(store.pool()).await?);
        }
    }
    let skips = crate::skips::load(store).await?;
    let folded = fold_in_memory(
        store,
        &mut copies,
        &skips,
        GlobalPosition(0),
        target,
        limits,
        progress,
    )
    .await?;
    // Keys before any upsert: the rest of the log (past the memory budget)
    // and the final catch-up write row by row.
    for (projection, conn) in &mut copies {
        complete_side(conn, *projection)
            .await
            .map_err(database(*projection, "indexing the copy"))?;
    }
    let built = copy_until(
        store,
        &mut copies,
        &skips,
        folded,
        target,
        limits.page,
        progress,
    )
    .await?;

    let mut reports = Vec::with_capacity(copies.len());
    for (projection, mut conn) in copies {
        reports.push(
            finish(
                store,
                projection,
                &mut conn,
                &skips,
                built,
                verify,
                limits.page,
            )
            .await?,
        );
        let side = side_schema(projection);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {side} CASCADE"
        )))
        .execute(&mut *conn)
        .await
        .map_err(database(projection, "dropping the side schema"))?;
    }
    Ok(reports)
}

/// Locks the projection's checkpoint (stopping its live runner), catches the
/// copy up to exactly the live position (verify) or the head (swap), then
/// compares or swaps, in one transaction.
async fn finish(
    store: &PgEventStore,
    projection: Projection,
    conn: &mut PoolConnection<Postgres>,
    skips: &ProjectionSkips,
    built: GlobalPosition,
    verify: bool,
    page: usize,
) -> Result<RebuildReport, ProjectionError> {
    let db = |operation| database(projection, operation);
    let mut tx = conn.begin().await.map_err(db("beginning the swap"))?;
    sqlx::query("INSERT INTO projections.checkpoints (projection, position) VALUES ($1, 0) ON CONFLICT DO NOTHING")
        .bind(projection.name())
        .execute(&mut *tx)
        .await
        .map_err(db("creating the checkpoint"))?;
    let lock = if verify { "FOR SHARE" } else { "FOR UPDATE" };
    let live: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT position FROM projections.checkpoints WHERE projection = $1 {lock}"
    )))
    .bind(projection.name())
    .fetch_one(&mut *tx)
    .await
    .map_err(db("locking the checkpoint"))?;
    let target = if verify {
        GlobalPosition(live as u64)
    } else {
        store.head().await?
    };
    let mut position = built;
    while position < target {
        let events = store
            .read_all(position, page.min((target.0 - position.0) as usize))
            .await?;
        let Some(last) = events.last() else { break };
        position = last.global_position;
        projection
            .apply_skipping(&mut tx, &side_schema(projection), &events, None, skips)
            .await?;
    }

    let side = side_schema(projection);
    if verify {
        let differences = compare(&mut tx, projection, &side)
            .await
            .map_err(db("comparing tables"))?;
        tx.rollback()
            .await
            .map_err(db("releasing the checkpoint"))?;
        return Ok(RebuildReport {
            projection,
            position,
            swapped: false,
            differences,
        });
    }
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
    Ok(RebuildReport {
        projection,
        position,
        swapped: true,
        differences: vec![],
    })
}

/// A fresh side schema with bare copies of the projection's tables:
/// columns, defaults and checks, no index. The bulk load inserts each row
/// once; keys and indexes come after it ([`complete_side`]), because
/// building an index once is far cheaper than maintaining it row by row.
async fn prepare_side(conn: &mut PgConnection, projection: Projection) -> Result<(), sqlx::Error> {
    let side = side_schema(projection);
    let mut statements = vec![
        format!("DROP SCHEMA IF EXISTS {side} CASCADE"),
        format!("CREATE SCHEMA {side}"),
    ];
    for table in projection.tables() {
        statements
            .push(format!("CREATE TABLE {side}.{table} (LIKE {LIVE_SCHEMA}.{table} INCLUDING ALL EXCLUDING INDEXES)"));
    }
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The primary key and unique constraints of a live table: name and definition.
async fn constraints(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = ($1 || '.' || $2)::regclass AND contype IN ('p', 'u') ORDER BY conname",
    )
    .bind(LIVE_SCHEMA)
    .bind(table)
    .fetch_all(conn)
    .await
}

/// Gives the side copy the live table's primary key, unique constraints
/// and every other index.
async fn complete_side(conn: &mut PgConnection, projection: Projection) -> Result<(), sqlx::Error> {
    let side = side_schema(projection);
    for table in projection.tables() {
        let mut statements: Vec<String> = constraints(conn, table)
            .await?
            .into_iter()
            .map(|(name, definition)| {
                format!("ALTER TABLE {side}.{table} ADD CONSTRAINT {name} {definition}")
            })
            .collect();
        let indexes: Vec<String> = sqlx::query_scalar(
            "SELECT indexdef FROM pg_indexes i WHERE schemaname = $1 AND tablename = $2 \
             AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conname = i.indexname \
                             AND c.connamespace = $1::regnamespace) ORDER BY indexname",
        )
        .bind(LIVE_SCHEMA)
        .bind(*table)
        .fetch_all(&mut *conn)
        .await?;
        for definition in indexes {
            statements.push(definition.replace(
                &format!(" ON {LIVE_SCHEMA}.{table} "),
                &format!(" ON {side}.{table} "),
            ));
        }
        // Index builds sort; more memory than the default 64 MB keeps the
        // sort of a large copy off the disk. Local to this transaction.
        let mut tx = conn.begin().await?;
        sqlx::query("SET LOCAL maintenance_work_mem = '512MB'")
            .execute(&mut *tx)
            .await?;
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Folds the log after `from` up to `until` into memory, once for all
/// copies, then writes each copy's rows once. Stops early, at a page
/// boundary, when the rows held reach the limit; the caller goes on
/// page by page from there.
async fn fold_in_memory(
    store: &PgEventStore,
    copies: &mut [(Projection, PoolConnection<Postgres>)],
    skips: &ProjectionSkips,
    from: GlobalPosition,
    until: GlobalPosition,
    limits: Limits,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<GlobalPosition, ProjectionError> {
    let mut tables: Vec<Box<dyn crate::memory::Table>> = copies
        .iter()
        .map(|(projection, _)| projection.in_memory())
        .collect();
    // Reading and decoding the next page overlaps folding this one.
    let (pages, mut received) = tokio::sync::mpsc::channel(2);
    let reader = tokio::spawn(read_pages(
        store.clone(),
        Decoding::of(copies, skips),
        from,
        until,
        limits.page,
        pages,
    ));
    let mut position = from;
    while tables.iter().map(|table| table.len()).sum::<usize>() < limits.row_budget {
        let Some(page) = received.recv().await else {
            break;
        };
        let (last, decoded) = page?;
        // The tables are independent: each folds on a thread of its own (the
        // scope blocks this task's worker for the page; the reader runs on).
        std::thread::scope(|scope| {
            for ((projection, _), table) in copies.iter().zip(&mut tables) {
                let decoded = &decoded;
                let projection = *projection;
                scope.spawn(move || {
                    decoded
                        .iter()
                        .filter(|(recorded, _)| {
                            !crate::skips::passes_over(skips, projection, recorded)
                        })
                        .for_each(|pair| table.apply(pair))
                });
            }
        });
        position = last;
        progress(position.0, until.0);
    }
    // Past the budget the reader is stopped; what it read ahead is read again
    // page by page.
    reader.abort();
    try_join_all(
        copies
            .iter_mut()
            .zip(&mut tables)
            .map(|((projection, conn), table)| {
                let projection = *projection;
                async move {
                    let db = |operation| database(projection, operation);
                    // The schema choice lasts one transaction.
                    let mut tx = conn.begin().await.map_err(db("beginning the bulk write"))?;
                    set_schema(&mut tx, &side_schema(projection))
                        .await
                        .map_err(db("selecting the copy"))?;
                    table.flush(&mut tx).await.map_err(db("writing the copy"))?;
                    tx.commit().await.map_err(db("committing the bulk write"))
                }
            }),
    )
    .await?;
    Ok(position)
}

type Page = Result<(GlobalPosition, Vec<(RecordedEvent, DomainEvent)>), ProjectionError>;

/// Reads and decodes the log after `from` up to `until`, page by page, into
/// `pages`; stops at the first error (which it sends) or when no one listens.
async fn read_pages(
    store: PgEventStore,
    decoder: Decoding,
    from: GlobalPosition,
    until: GlobalPosition,
    page: usize,
    pages: tokio::sync::mpsc::Sender<Page>,
) {
    let mut position = from;
    while position < until {
        let page = match store
            .read_all(position, page.min((until.0 - position.0) as usize))
            .await
        {
            Ok(events) => match events.last() {
                None => return,
                Some(last) => {
                    position = last.global_position;
                    decoder.decode(&events).map(|decoded| (position, decoded))
                }
            },
            Err(err) => Err(err.into()),
        };
        let failed = page.is_err();
        if pages.send(page).await.is_err() || failed {
            return;
        }
    }
}

/// Applies the log after `from` up to `until` to every copy: each page is
/// read and decoded once, then written to all copies concurrently, one
/// transaction per copy.
async fn copy_until(
    store: &PgEventStore,
    copies: &mut [(Projection, PoolConnection<Postgres>)],
    skips: &ProjectionSkips,
    from: GlobalPosition,
    until: GlobalPosition,
    page: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<GlobalPosition, ProjectionError> {
    let decoding = Decoding::of(copies, skips);
    let mut position = from;
    while position < until {
        let events = store
            .read_all(position, page.min((until.0 - position.0) as usize))
            .await?;
        let Some(last) = events.last() else { break };
        let last = last.global_position;
        let decoded = decoding.decode(&events)?;
        try_join_all(copies.iter_mut().map(|(projection, conn)| {
            let projection = *projection;
            let side = side_schema(projection);
            let kept: std::borrow::Cow<[_]> = if skips.count(projection.name()) == 0 {
                std::borrow::Cow::Borrowed(&decoded[..])
            } else {
                decoded
                    .iter()
                    .filter(|(recorded, _)| !crate::skips::passes_over(skips, projection, recorded))
                    .cloned()
                    .collect()
            };
            async move { projection.apply_decoded(conn, &side, &kept, None).await }
        }))
        .await?;
        position = last;
        progress(position.0, until.0);
    }
    Ok(position)
}

/// How a rebuild decodes the log once for all its projections: an event
/// every one of them skips is not decoded (it may be the undecodable one
/// the skip was recorded for).
struct Decoding {
    projections: Vec<Projection>,
    skips: ProjectionSkips,
}

impl Decoding {
    fn of(copies: &[(Projection, PoolConnection<Postgres>)], skips: &ProjectionSkips) -> Self {
        Decoding {
            projections: copies.iter().map(|(projection, _)| *projection).collect(),
            skips: skips.clone(),
        }
    }

    fn decode(
        &self,
        events: &[RecordedEvent],
    ) -> Result<Vec<(RecordedEvent, DomainEvent)>, ProjectionError> {
        let Some(&first) = self.projections.first() else {
            return Ok(vec![]);
        };
        first.decode(events.iter().filter(|event| {
            !self.projections.iter().all(|projection| {
                self.skips
                    .is_skipped(projection.name(), event.global_position.0)
            })
        }))
    }
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
