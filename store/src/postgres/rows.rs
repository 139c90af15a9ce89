//! The SQL that reads events, and the mapping from rows to recorded events.

use domain::{
    Actor, CorrelationId, EncodedPayload, EventId, EventMetadata, GlobalPosition, Origin,
    RecordedEvent, StreamId, StreamVersion, Timestamp,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::errors::classify;
use crate::port::StoreError;

macro_rules! select_events {
    ($($tail:literal),+) => {
        concat!(
            "SELECT global_position, stream_id, stream_version, event_id, event_type, schema_version, ",
            "payload, recorded_at, causation_id, correlation_id, origin, actor FROM eventstore.events ",
            $($tail),+
        )
    };
}

/// A page of the global log: up to `$2` events after `$1`, each with the
/// payload bytes `before` it. Cut where `before` reaches `$3` (the first
/// event always comes). `octet_length` reads a TOASTed payload's size
/// without fetching it, and a payload is fetched only for the events kept.
macro_rules! sized_page {
    () => {
        concat!(
            "(SELECT *, sum(octet_length(payload)) OVER (ORDER BY global_position) - octet_length(payload) AS before ",
            "FROM (SELECT * FROM eventstore.events WHERE global_position > $1 ORDER BY global_position LIMIT $2) page)"
        )
    };
}

pub(crate) const READ_ALL: &str = concat!(
    "SELECT global_position, stream_id, stream_version, event_id, event_type, schema_version, ",
    "payload, recorded_at, causation_id, correlation_id, origin, actor FROM ",
    sized_page!(),
    " sized WHERE before < $3 ORDER BY global_position"
);

// Events are indexed by the stream's compact key, not its name: a stream is
// found through `eventstore.streams` first.
pub(crate) const READ_STREAM: &str = select_events!(
    "WHERE stream_key = (SELECT stream_key FROM eventstore.streams WHERE stream_id = $1) ",
    "AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
);

pub(crate) const READ_STREAMS: &str = select_events!(
    "WHERE stream_key IN (SELECT stream_key FROM eventstore.streams WHERE stream_id = ANY($1)) ",
    "ORDER BY stream_key, stream_version"
);

/// The log with each event's chain hash (`NULL` when none is stored). The
/// bound on the hashes too lets the merge join start there: without it,
/// every page scanned the hashes from position 1 (quadratic over a walk).
/// A page of the global log with each event's chain hash, cut as
/// [`READ_ALL`] cuts its pages.
pub(crate) const READ_ALL_HASHED: &str = concat!(
    "SELECT e.global_position, e.stream_id, e.stream_version, e.event_id, e.event_type, e.schema_version, ",
    "e.payload, e.recorded_at, e.causation_id, e.correlation_id, e.origin, e.actor, h.hash FROM ",
    sized_page!(),
    " e LEFT JOIN eventstore.event_hashes h ON h.global_position = e.global_position AND h.global_position > $1 ",
    "WHERE e.before < $3 ORDER BY e.global_position"
);

pub(crate) const BY_EVENT_IDS: &str =
    select_events!("WHERE event_id = ANY($1) ORDER BY global_position");

/// A row of `eventstore.events` as a recorded event.
pub(crate) fn recorded_event(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let decode = classify("decoding a stored event");
    let position: i64 = row.try_get("global_position").map_err(&decode)?;
    let position = GlobalPosition(position as u64);
    let inconsistent = |problem: String| StoreError::Inconsistent { position, problem };

    let origin: String = row.try_get("origin").map_err(&decode)?;
    let origin =
        Origin::parse(&origin).ok_or_else(|| inconsistent(format!("unknown origin {origin:?}")))?;
    let schema_version: i32 = row.try_get("schema_version").map_err(&decode)?;
    let schema_version = u16::try_from(schema_version)
        .map_err(|_| inconsistent(format!("schema version {schema_version} is out of range")))?;
    let stream_version: i64 = row.try_get("stream_version").map_err(&decode)?;
    let recorded_at: chrono::DateTime<chrono::Utc> = row.try_get("recorded_at").map_err(&decode)?;

    Ok(RecordedEvent {
        stream_id: StreamId(row.try_get("stream_id").map_err(&decode)?),
        stream_version: StreamVersion(stream_version as u64),
        global_position: position,
        recorded_at: Timestamp::from_datetime(recorded_at),
        metadata: EventMetadata {
            event_id: EventId(row.try_get("event_id").map_err(&decode)?),
            causation_id: row
                .try_get::<Option<Uuid>, _>("causation_id")
                .map_err(&decode)?
                .map(EventId),
            correlation_id: row
                .try_get::<Option<Uuid>, _>("correlation_id")
                .map_err(&decode)?
                .map(CorrelationId),
            origin,
            actor: Actor(row.try_get("actor").map_err(&decode)?),
        },
        payload: EncodedPayload {
            event_type: row.try_get("event_type").map_err(&decode)?,
            schema_version,
            bytes: row.try_get("payload").map_err(&decode)?,
        },
    })
}
