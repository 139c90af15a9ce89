//! Appending a batch to one stream, as one SQL statement: it moves the
//! stream's version only if the expectation holds (locking the stream row),
//! takes positions from the head (locking it until commit), inserts the
//! events and notifies subscribers. One statement is one implicit
//! transaction, so a batch is stored whole or not at all, in a single round
//! trip.

use std::collections::HashSet;

use domain::{GlobalPosition, NewEvent, RecordedEvent, StreamId, StreamVersion};
use sqlx::PgPool;
use uuid::Uuid;

use super::errors::{classify, is_event_id_taken};
use super::{APPENDED_CHANNEL, rows, to_i64};
use crate::port::{AppendError, Appended, ExpectedVersion, StoreError};

/// The part after the stream CTE, shared by every expectation. `$1` is the
/// batch size, `$2` the stream; `stream.before` its version before the batch.
macro_rules! append_statement {
    ($stream_cte:literal) => {
        concat!(
            "WITH stream AS (",
            $stream_cte,
            "), head AS (
                UPDATE eventstore.head SET position = position + $1
                WHERE EXISTS (SELECT FROM stream)
                RETURNING position - $1 AS before
            ), inserted AS (
                INSERT INTO eventstore.events
                    (global_position, stream_key, stream_id, stream_version, event_id, event_type, schema_version, payload,
                     causation_id, correlation_id, origin, actor)
                SELECT head.before + e.ord, stream.stream_key, $2, stream.before + e.ord, e.event_id, e.event_type, e.schema_version,
                       e.payload, e.causation_id, e.correlation_id, e.origin, e.actor
                FROM stream CROSS JOIN head
                     CROSS JOIN UNNEST($3::uuid[], $4::text[], $5::int4[], $6::bytea[], $7::uuid[], $8::uuid[],
                                       $9::text[], $10::text[])
                     WITH ORDINALITY AS e(event_id, event_type, schema_version, payload, causation_id,
                                          correlation_id, origin, actor, ord)
                RETURNING 1
            )
            SELECT stream.before AS stream_before, head.before AS head_before,
                   pg_notify($11, (head.before + $1)::text)
            FROM stream CROSS JOIN head"
        )
    };
}

/// Any version: create the stream or move it forwards.
const APPEND_ANY: &str = append_statement!(
    "INSERT INTO eventstore.streams AS s (stream_id, version) VALUES ($2, $1)
     ON CONFLICT (stream_id) DO UPDATE SET version = s.version + $1
     RETURNING s.stream_key, s.version - $1 AS before"
);

/// No stream yet: create it, or do nothing when it exists.
const APPEND_NEW: &str = append_statement!(
    "INSERT INTO eventstore.streams (stream_id, version) VALUES ($2, $1)
     ON CONFLICT (stream_id) DO NOTHING
     RETURNING stream_key, 0::bigint AS before"
);

/// Exactly version `$12`: move it forwards only from there.
const APPEND_EXACT: &str = append_statement!(
    "UPDATE eventstore.streams SET version = version + $1
     WHERE stream_id = $2 AND version = $12
     RETURNING stream_key, version - $1 AS before"
);

/// How often an append whose expectation failed is retried when the stream
/// turns out to be at the expected version after all (it moved in between).
pub(crate) const ATTEMPTS: usize = 3;

pub(crate) async fn append(
    pool: &PgPool,
    stream: &StreamId,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<Appended, AppendError> {
    check_batch(stream, events)?;
    let columns = Columns::of(events.iter());
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_append(pool, stream, expected, &columns).await {
            Ok(Some(appended)) => return Ok(appended),
            // Refused or colliding: either a retry of an earlier append, whose
            // events are all stored, or a real conflict.
            Ok(None) | Err(Collision::EventIdTaken) => {}
            Err(Collision::Failed(err)) => return Err(err.into()),
        }
        if let Stored::All(appended) = find_stored(pool, stream, events).await? {
            return Ok(appended);
        }
        let actual = stream_version(pool, stream).await?;
        let still_refused = match expected {
            ExpectedVersion::Any => false,
            ExpectedVersion::NoStream => actual.0 != 0,
            ExpectedVersion::Exact(version) => version != actual,
        };
        if still_refused || attempt == ATTEMPTS {
            return Err(AppendError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual,
            });
        }
    }
}

pub(crate) fn check_batch(stream: &StreamId, events: &[NewEvent]) -> Result<(), AppendError> {
    if events.is_empty() {
        return Err(AppendError::EmptyBatch {
            stream: stream.clone(),
        });
    }
    let mut seen = HashSet::with_capacity(events.len());
    for event in events {
        if !seen.insert(event.metadata.event_id) {
            return Err(AppendError::DuplicateInBatch {
                stream: stream.clone(),
                event_id: event.metadata.event_id,
            });
        }
    }
    Ok(())
}

enum Collision {
    EventIdTaken,
    Failed(StoreError),
}

/// One attempt: `Some` when stored, `None` when the expectation did not hold.
async fn try_append(
    pool: &PgPool,
    stream: &StreamId,
    expected: ExpectedVersion,
    columns: &Columns,
) -> Result<Option<Appended>, Collision> {
    let statement = match expected {
        ExpectedVersion::Any => APPEND_ANY,
        ExpectedVersion::NoStream | ExpectedVersion::Exact(StreamVersion(0)) => APPEND_NEW,
        ExpectedVersion::Exact(_) => APPEND_EXACT,
    };
    let n = columns.event_ids.len() as i64;
    let query = sqlx::query_as::<_, (i64, i64)>(statement)
        .bind(n)
        .bind(stream.as_str());
    let mut query = bind_columns!(query, columns).bind(APPENDED_CHANNEL);
    if let ExpectedVersion::Exact(version) = expected
        && version.0 > 0
    {
        query = query.bind(to_i64(version.0));
    }
    match query.fetch_optional(pool).await {
        Ok(Some((stream_before, head_before))) => Ok(Some(Appended {
            last_version: StreamVersion((stream_before + n) as u64),
            first_position: GlobalPosition(head_before as u64 + 1),
            last_position: GlobalPosition((head_before + n) as u64),
            already_stored: false,
        })),
        Ok(None) => Ok(None),
        Err(err) if is_event_id_taken(&err) => Err(Collision::EventIdTaken),
        Err(err) => Err(Collision::Failed(classify("appending events")(err))),
    }
}

async fn stream_version(pool: &PgPool, stream: &StreamId) -> Result<StreamVersion, StoreError> {
    let version: Option<i64> =
        sqlx::query_scalar("SELECT version FROM eventstore.streams WHERE stream_id = $1")
            .bind(stream.as_str())
            .fetch_optional(pool)
            .await
            .map_err(classify("reading a stream's version"))?;
    Ok(StreamVersion(version.unwrap_or(0) as u64))
}

enum Stored {
    All(Appended),
    None,
}

/// Looks up the batch's event ids: all stored with the same content is an
/// idempotent repeat; anything between none and all is refused.
async fn find_stored(
    pool: &PgPool,
    stream: &StreamId,
    events: &[NewEvent],
) -> Result<Stored, AppendError> {
    let ids: Vec<Uuid> = events
        .iter()
        .map(|event| event.metadata.event_id.0)
        .collect();
    let rows = sqlx::query(rows::BY_EVENT_IDS)
        .bind(&ids)
        .fetch_all(pool)
        .await
        .map_err(classify("looking up stored event ids"))?;
    let stored: Vec<RecordedEvent> = rows
        .iter()
        .map(rows::recorded_event)
        .collect::<Result<_, _>>()?;

    for found in &stored {
        let new = events
            .iter()
            .find(|event| event.metadata.event_id == found.metadata.event_id)
            .ok_or_else(|| StoreError::Inconsistent {
                position: found.global_position,
                problem: format!(
                    "the lookup of event ids returned {}, which was not asked for",
                    found.metadata.event_id
                ),
            })?;
        if found.stream_id != *stream || found.payload != new.payload {
            return Err(AppendError::EventIdConflict {
                event_id: found.metadata.event_id,
                stream: stream.clone(),
                stored_stream: found.stream_id.clone(),
            });
        }
    }
    match (stored.first(), stored.last()) {
        (Some(first), Some(last)) if stored.len() == events.len() => Ok(Stored::All(Appended {
            last_version: stored
                .iter()
                .map(|event| event.stream_version)
                .max()
                .unwrap_or(last.stream_version),
            first_position: first.global_position,
            last_position: last.global_position,
            already_stored: true,
        })),
        (None, _) => Ok(Stored::None),
        _ => Err(AppendError::PartlyStored {
            stream: stream.clone(),
            stored: stored.len(),
            total: events.len(),
        }),
    }
}

/// The batch split into one array per column, for `UNNEST`.
/// Binds a [`Columns`]' vectors to `$query`, in the order every insert of
/// events lists them.
macro_rules! bind_columns {
    ($query:expr, $columns:expr) => {
        $query
            .bind(&$columns.event_ids)
            .bind(&$columns.event_types)
            .bind(&$columns.schema_versions)
            .bind(&$columns.payloads)
            .bind(&$columns.causation_ids)
            .bind(&$columns.correlation_ids)
            .bind(&$columns.origins)
            .bind(&$columns.actors)
    };
}
pub(crate) use bind_columns;

pub(crate) struct Columns {
    pub(crate) event_ids: Vec<Uuid>,
    pub(crate) event_types: Vec<String>,
    pub(crate) schema_versions: Vec<i32>,
    pub(crate) payloads: Vec<Vec<u8>>,
    pub(crate) causation_ids: Vec<Option<Uuid>>,
    pub(crate) correlation_ids: Vec<Option<Uuid>>,
    pub(crate) origins: Vec<&'static str>,
    pub(crate) actors: Vec<String>,
}

impl Columns {
    pub(crate) fn of<'a>(events: impl ExactSizeIterator<Item = &'a NewEvent>) -> Self {
        let n = events.len();
        let mut columns = Columns {
            event_ids: Vec::with_capacity(n),
            event_types: Vec::with_capacity(n),
            schema_versions: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            causation_ids: Vec::with_capacity(n),
            correlation_ids: Vec::with_capacity(n),
            origins: Vec::with_capacity(n),
            actors: Vec::with_capacity(n),
        };
        for NewEvent { metadata, payload } in events {
            columns.event_ids.push(metadata.event_id.0);
            columns.event_types.push(payload.event_type.clone());
            columns
                .schema_versions
                .push(i32::from(payload.schema_version));
            columns.payloads.push(payload.bytes.clone());
            columns
                .causation_ids
                .push(metadata.causation_id.map(|id| id.0));
            columns
                .correlation_ids
                .push(metadata.correlation_id.map(|id| id.0));
            columns.origins.push(metadata.origin.as_str());
            columns.actors.push(metadata.actor.0.clone());
        }
        columns
    }
}
