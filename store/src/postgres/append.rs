//! Appending a batch to one stream: lock the stream, check the expected
//! version, take positions from the head, insert, notify, commit.

use std::collections::HashSet;

use domain::{GlobalPosition, NewEvent, RecordedEvent, StreamId, StreamVersion};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::errors::{classify, is_event_id_taken};
use super::{APPENDED_CHANNEL, rows, to_i64};
use crate::port::{AppendError, Appended, ExpectedVersion, StoreError};

/// One statement takes the positions (locking the head row until commit),
/// inserts the batch, moves the stream version and notifies subscribers.
const INSERT_BATCH: &str = "
WITH head AS (
    UPDATE eventstore.head SET position = position + $1 RETURNING position - $1 AS before
), inserted AS (
    INSERT INTO eventstore.events
        (global_position, stream_id, stream_version, event_id, event_type, schema_version, payload,
         causation_id, correlation_id, origin, actor)
    SELECT head.before + e.ord, $2, $3 + e.ord, e.event_id, e.event_type, e.schema_version, e.payload,
           e.causation_id, e.correlation_id, e.origin, e.actor
    FROM head CROSS JOIN UNNEST($4::uuid[], $5::text[], $6::int4[], $7::bytea[], $8::uuid[], $9::uuid[],
                                $10::text[], $11::text[])
         WITH ORDINALITY AS e(event_id, event_type, schema_version, payload, causation_id, correlation_id,
                              origin, actor, ord)
    RETURNING 1
), stream AS (
    UPDATE eventstore.streams SET version = $3 + $1 WHERE stream_id = $2 RETURNING 1
)
SELECT head.before, pg_notify($12, (head.before + $1)::text) FROM head";

pub(crate) async fn append(
    pool: &PgPool,
    stream: &StreamId,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<Appended, AppendError> {
    check_batch(stream, events)?;
    // A concurrent append of the same event ids to another stream can make
    // the insert fail on the event id; the retry then finds them stored and
    // decides whether that is an idempotent repeat or a conflict.
    match try_append(pool, stream, expected, events).await {
        Err(Attempt::EventIdTaken) => match find_stored(pool, stream, events).await? {
            Stored::All(appended) => Ok(appended),
            Stored::None => try_append(pool, stream, expected, events)
                .await
                .map_err(Attempt::into_error),
        },
        other => other.map_err(Attempt::into_error),
    }
}

fn check_batch(stream: &StreamId, events: &[NewEvent]) -> Result<(), AppendError> {
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

enum Attempt {
    EventIdTaken,
    Failed(AppendError),
}

impl Attempt {
    fn into_error(self) -> AppendError {
        match self {
            Attempt::EventIdTaken => AppendError::Store(StoreError::Inconsistent {
                position: GlobalPosition(0),
                problem: "an event id was taken by a concurrent append that is no longer visible"
                    .into(),
            }),
            Attempt::Failed(err) => err,
        }
    }
}

impl<E: Into<AppendError>> From<E> for Attempt {
    fn from(err: E) -> Self {
        Attempt::Failed(err.into())
    }
}

async fn try_append(
    pool: &PgPool,
    stream: &StreamId,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<Appended, Attempt> {
    let mut tx = pool
        .begin()
        .await
        .map_err(classify("beginning an append"))?;
    let current = lock_stream(&mut tx, stream).await?;
    if !accepts(expected, current) {
        // Release the stream before looking: a retry of an earlier append
        // finds its events stored and succeeds without writing.
        tx.rollback()
            .await
            .map_err(classify("rolling back a refused append"))?;
        return match find_stored(pool, stream, events).await? {
            Stored::All(appended) => Ok(appended),
            Stored::None => Err(AppendError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual: current,
            }
            .into()),
        };
    }

    let n = events.len() as i64;
    let columns = Columns::of(events);
    let inserted = sqlx::query_scalar::<_, i64>(INSERT_BATCH)
        .bind(n)
        .bind(stream.as_str())
        .bind(to_i64(current.0))
        .bind(columns.event_ids)
        .bind(columns.event_types)
        .bind(columns.schema_versions)
        .bind(columns.payloads)
        .bind(columns.causation_ids)
        .bind(columns.correlation_ids)
        .bind(columns.origins)
        .bind(columns.actors)
        .bind(APPENDED_CHANNEL)
        .fetch_one(&mut *tx)
        .await;
    let before = match inserted {
        Ok(before) => before,
        Err(err) if is_event_id_taken(&err) => return Err(Attempt::EventIdTaken),
        Err(err) => return Err(classify("inserting events")(err).into()),
    };
    tx.commit()
        .await
        .map_err(classify("committing an append"))?;

    Ok(Appended {
        last_version: StreamVersion(current.0 + events.len() as u64),
        first_position: GlobalPosition(before as u64 + 1),
        last_position: GlobalPosition((before + n) as u64),
        already_stored: false,
    })
}

/// Locks the stream's row for this transaction and returns its version,
/// creating the row (at version 0) for a new stream.
async fn lock_stream(
    tx: &mut Transaction<'_, Postgres>,
    stream: &StreamId,
) -> Result<StreamVersion, StoreError> {
    const LOCK: &str = "SELECT version FROM eventstore.streams WHERE stream_id = $1 FOR UPDATE";
    let locate = classify("locking a stream");
    if let Some(version) = sqlx::query_scalar::<_, i64>(LOCK)
        .bind(stream.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(&locate)?
    {
        return Ok(StreamVersion(version as u64));
    }
    // Two writers may create the stream at once: the loser's insert waits for
    // the winner and then does nothing, and both lock the one row.
    sqlx::query(
        "INSERT INTO eventstore.streams (stream_id, version) VALUES ($1, 0) ON CONFLICT DO NOTHING",
    )
    .bind(stream.as_str())
    .execute(&mut **tx)
    .await
    .map_err(&locate)?;
    let version = sqlx::query_scalar::<_, i64>(LOCK)
        .bind(stream.as_str())
        .fetch_one(&mut **tx)
        .await
        .map_err(&locate)?;
    Ok(StreamVersion(version as u64))
}

fn accepts(expected: ExpectedVersion, current: StreamVersion) -> bool {
    match expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => current.0 == 0,
        ExpectedVersion::Exact(version) => version == current,
    }
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
struct Columns {
    event_ids: Vec<Uuid>,
    event_types: Vec<String>,
    schema_versions: Vec<i32>,
    payloads: Vec<Vec<u8>>,
    causation_ids: Vec<Option<Uuid>>,
    correlation_ids: Vec<Option<Uuid>>,
    origins: Vec<&'static str>,
    actors: Vec<String>,
}

impl Columns {
    fn of(events: &[NewEvent]) -> Self {
        let mut columns = Columns {
            event_ids: Vec::with_capacity(events.len()),
            event_types: Vec::with_capacity(events.len()),
            schema_versions: Vec::with_capacity(events.len()),
            payloads: Vec::with_capacity(events.len()),
            causation_ids: Vec::with_capacity(events.len()),
            correlation_ids: Vec::with_capacity(events.len()),
            origins: Vec::with_capacity(events.len()),
            actors: Vec::with_capacity(events.len()),
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
