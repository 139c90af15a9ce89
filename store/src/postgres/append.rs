//! Appending a batch to one stream, as one SQL statement: it moves the
//! stream's version only if the expectation holds (locking the stream row),
//! takes positions from the head (locking it until commit), inserts the
//! events and notifies subscribers. One statement is one implicit
//! transaction, so a batch is stored whole or not at all, in a single round
//! trip.

use std::collections::{HashMap, HashSet};

use domain::{EventId, GlobalPosition, NewEvent, RecordedEvent, StreamId, StreamVersion};
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
        let stored = stored_by_id(pool, events.iter()).await?;
        if let Some(appended) = repeat_of(stream, events, &stored)? {
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

/// The stored events among the ids of `events`, by id.
pub(crate) async fn stored_by_id<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    events: impl Iterator<Item = &NewEvent>,
) -> Result<HashMap<EventId, RecordedEvent>, StoreError> {
    let ids: Vec<Uuid> = events.map(|event| event.metadata.event_id.0).collect();
    let rows = sqlx::query(rows::BY_EVENT_IDS)
        .bind(&ids)
        .fetch_all(executor)
        .await
        .map_err(classify("looking up stored event ids"))?;
    rows.iter()
        .map(|row| rows::recorded_event(row).map(|event| (event.metadata.event_id, event)))
        .collect()
}

/// `Some` when `events` are all stored in `stream` with the same content:
/// an idempotent repeat of an earlier append. `None` when none of them is
/// stored; anything between none and all is refused.
pub(crate) fn repeat_of(
    stream: &StreamId,
    events: &[NewEvent],
    stored: &HashMap<EventId, RecordedEvent>,
) -> Result<Option<Appended>, AppendError> {
    let found: Vec<(&NewEvent, &RecordedEvent)> = events
        .iter()
        .filter_map(|event| Some((event, stored.get(&event.metadata.event_id)?)))
        .collect();
    for (new, old) in &found {
        if old.stream_id != *stream || old.payload != new.payload {
            return Err(AppendError::EventIdConflict {
                event_id: old.metadata.event_id,
                stream: stream.clone(),
                stored_stream: old.stream_id.clone(),
            });
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    if found.len() < events.len() {
        return Err(AppendError::PartlyStored {
            stream: stream.clone(),
            stored: found.len(),
            total: events.len(),
        });
    }
    let positions = found.iter().map(|(_, old)| old.global_position);
    let versions = found.iter().map(|(_, old)| old.stream_version);
    Ok(Some(Appended {
        last_version: versions.max().unwrap_or(StreamVersion(0)),
        first_position: positions.clone().min().unwrap_or(GlobalPosition(0)),
        last_position: positions.max().unwrap_or(GlobalPosition(0)),
        already_stored: true,
    }))
}

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

/// The batch split into one array per column, for `UNNEST`.
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
