//! Appending to several streams in one transaction (see
//! [`EventStore::append_many`](crate::EventStore::append_many)).
//!
//! Every stream row is locked and moved to its new version in name order by
//! one upsert, then the head is taken, as a single append locks its stream
//! and then the head: two writers never wait on each other in a cycle.
//! Expectations are checked against the versions the upsert moved from,
//! part by part, before any event is written; a refusal rolls the upsert
//! back with the rest.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use domain::{GlobalPosition, NewEvent, StreamVersion, Timestamp};
use sqlx::{PgPool, Postgres, Transaction};

use super::append::{ATTEMPTS, Columns, bind_columns, check_batch, repeat_of, stored_by_id};
use super::chain::{Digested, link};
use super::checkpoints::Advance;
use super::errors::{classify, is_event_id_taken};
use super::{APPENDED_CHANNEL, to_i64};
use crate::port::{AppendError, Appended, ExpectedVersion, StoreError, StreamAppend};

/// Creates the missing streams and moves every one on by its count of new
/// events, locking them in the order given (sorted by the caller): the
/// versions returned are the new ones.
const MOVE_STREAMS: &str = "
    INSERT INTO eventstore.streams AS s (stream_id, version)
    SELECT * FROM UNNEST($1::text[], $2::int8[])
    ON CONFLICT (stream_id) DO UPDATE SET version = s.version + excluded.version
    RETURNING s.stream_id, s.stream_key, s.version";

/// Takes the positions, and reads the chain's tip and the transaction's
/// time, which the events' hashes are computed from.
const TAKE_POSITIONS: &str = "
    WITH moved AS (
        UPDATE eventstore.head SET position = position + $1
        RETURNING position - $1 AS before, pg_notify($2, position::text) AS notified
    )
    SELECT before FROM moved";

/// The chain's tip, read in a statement of its own once the head is
/// locked: a statement that waited for the head's lock still reads other
/// tables as of its start, which (under READ COMMITTED) is before the
/// writer it waited for committed its tip.
const READ_TIP: &str = "SELECT position, hash, now() FROM eventstore.chain_tip";

/// Inserts the events with the time their hashes were computed from, their
/// hashes, and moves the chain's tip: the chain's trigger then finds the
/// tip past the batch and has nothing to do.
const INSERT_EVENTS: &str = "
    WITH inserted AS (
        INSERT INTO eventstore.events
            (global_position, stream_key, stream_id, stream_version, event_id, event_type, schema_version,
             payload, causation_id, correlation_id, origin, actor, recorded_at)
        SELECT *, $13::timestamptz FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::uuid[],
                             $6::text[], $7::int4[], $8::bytea[], $9::uuid[], $10::uuid[], $11::text[], $12::text[])
        RETURNING 1
    ), hashed AS (
        INSERT INTO eventstore.event_hashes SELECT * FROM UNNEST($1::int8[], $14::bytea[])
        RETURNING 1
    )
    UPDATE eventstore.chain_tip SET position = $15, hash = $16";

pub(crate) async fn append_many(
    pool: &PgPool,
    parts: &[StreamAppend],
    advance: Option<&Advance>,
) -> Result<Vec<Appended>, AppendError> {
    check_parts(parts)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_append_many(pool, parts, advance).await {
            Err(Attempt::Refused(err)) => return Err(err),
            Err(Attempt::IdTaken(err)) if attempt == ATTEMPTS => {
                return Err(classify("appending to several streams")(err).into());
            }
            // A concurrent writer stored one of these ids after the lookup:
            // the next attempt finds it and decides whether it is a repeat.
            Err(Attempt::IdTaken(_)) => {}
            Ok(appended) => return Ok(appended),
        }
    }
}

fn check_parts(parts: &[StreamAppend]) -> Result<(), AppendError> {
    let mut seen = HashSet::new();
    for part in parts {
        check_batch(&part.stream, &part.events)?;
        for event in &part.events {
            if !seen.insert(event.metadata.event_id) {
                return Err(AppendError::DuplicateInBatch {
                    stream: part.stream.clone(),
                    event_id: event.metadata.event_id,
                });
            }
        }
    }
    Ok(())
}

enum Attempt {
    Refused(AppendError),
    IdTaken(sqlx::Error),
}

impl<E: Into<AppendError>> From<E> for Attempt {
    fn from(err: E) -> Self {
        Attempt::Refused(err.into())
    }
}

async fn try_append_many(
    pool: &PgPool,
    parts: &[StreamAppend],
    advance: Option<&Advance>,
) -> Result<Vec<Appended>, Attempt> {
    let mut tx = pool
        .begin()
        .await
        .map_err(classify("beginning an append"))?;
    let stored = stored_by_id(&mut *tx, parts.iter().flat_map(|part| &part.events)).await?;
    let mut answers = Vec::with_capacity(parts.len());
    for part in parts {
        answers.push(repeat_of(&part.stream, &part.events, &stored)?);
    }
    let writing: Vec<usize> = (0..parts.len()).filter(|&n| answers[n].is_none()).collect();
    if writing.is_empty() {
        if let Some(advance) = advance {
            advance.within(&mut tx).await?;
            tx.commit()
                .await
                .map_err(classify("committing a checkpoint's move"))?;
        }
        return Ok(answers.into_iter().flatten().collect());
    }
    let writing_parts: Vec<&StreamAppend> = writing.iter().map(|&n| &parts[n]).collect();

    let mut streams = move_streams(&mut tx, &writing_parts).await?;
    let total: usize = writing_parts.iter().map(|part| part.events.len()).sum();
    let head_before: i64 = sqlx::query_scalar(TAKE_POSITIONS)
        .bind(total as i64)
        .bind(APPENDED_CHANNEL)
        .fetch_one(&mut *tx)
        .await
        .map_err(classify("taking global positions"))?;
    let (tip_position, tip_hash, recorded_at): (i64, Vec<u8>, DateTime<Utc>) =
        sqlx::query_as(READ_TIP)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify("reading the hash chain's tip"))?;
    let tip: [u8; 32] = match tip_hash.try_into() {
        Ok(tip) if tip_position == head_before => tip,
        _ => {
            return Err(StoreError::Inconsistent {
                position: GlobalPosition(head_before as u64),
                problem: format!(
                    "the hash chain ends at position {tip_position}, not at the head of the log"
                ),
            }
            .into());
        }
    };

    let mut placed = Placement::new(total, tip, Timestamp::from_datetime(recorded_at));
    for &n in &writing {
        let part = &parts[n];
        let (key, version) =
            streams
                .get_mut(part.stream.as_str())
                .ok_or_else(|| StoreError::Inconsistent {
                    position: GlobalPosition(head_before as u64),
                    problem: format!("stream {} was not moved for its append", part.stream),
                })?;
        let holds = match part.expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => *version == 0,
            ExpectedVersion::Exact(expected) => expected.0 == *version,
        };
        if !holds {
            return Err(Attempt::Refused(AppendError::WrongExpectedVersion {
                stream: part.stream.clone(),
                expected: part.expected,
                actual: StreamVersion(*version),
            }));
        }
        let first = placed.positions.len() as i64 + head_before + 1;
        for event in &part.events {
            *version += 1;
            placed.push(head_before, *key, part.stream.as_str(), *version, event);
        }
        answers[n] = Some(Appended {
            last_version: StreamVersion(*version),
            first_position: GlobalPosition(first as u64),
            last_position: GlobalPosition((placed.positions.len() as i64 + head_before) as u64),
            already_stored: false,
        });
    }

    insert(&mut tx, &writing_parts, &placed).await?;
    if let Some(advance) = advance {
        advance.within(&mut tx).await?;
    }
    tx.commit()
        .await
        .map_err(classify("committing an append"))?;
    Ok(answers.into_iter().flatten().collect())
}

/// Locks the streams written to and moves them past their new events,
/// creating the missing ones: name → (stream key, version before).
async fn move_streams<'a>(
    tx: &mut Transaction<'_, Postgres>,
    writing: &[&'a StreamAppend],
) -> Result<HashMap<&'a str, (i64, u64)>, StoreError> {
    let mut added: BTreeMap<&str, i64> = BTreeMap::new();
    for part in writing {
        *added.entry(part.stream.as_str()).or_default() += part.events.len() as i64;
    }
    let (names, counts): (Vec<&str>, Vec<i64>) = added.iter().map(|(n, c)| (*n, *c)).unzip();
    let moved: Vec<(String, i64, i64)> = sqlx::query_as(MOVE_STREAMS)
        .bind(&names)
        .bind(&counts)
        .fetch_all(&mut **tx)
        .await
        .map_err(classify("moving streams"))?;
    let versions: HashMap<String, (i64, i64)> = moved
        .into_iter()
        .map(|(name, key, version)| (name, (key, version)))
        .collect();
    Ok(added
        .into_iter()
        .filter_map(|(name, count)| {
            let (key, version) = versions.get(name)?;
            Some((name, (*key, (*version - count) as u64)))
        })
        .collect())
}

/// Where each written event goes, in the order of the parts, and its link
/// of the hash chain.
struct Placement<'a> {
    positions: Vec<i64>,
    stream_keys: Vec<i64>,
    stream_ids: Vec<&'a str>,
    versions: Vec<i64>,
    hashes: Vec<[u8; 32]>,
    tip: [u8; 32],
    recorded_at: Timestamp,
}

impl<'a> Placement<'a> {
    fn new(n: usize, tip: [u8; 32], recorded_at: Timestamp) -> Self {
        Self {
            positions: Vec::with_capacity(n),
            stream_keys: Vec::with_capacity(n),
            stream_ids: Vec::with_capacity(n),
            versions: Vec::with_capacity(n),
            hashes: Vec::with_capacity(n),
            tip,
            recorded_at,
        }
    }

    fn push(
        &mut self,
        head_before: i64,
        key: i64,
        stream: &'a str,
        version: u64,
        event: &NewEvent,
    ) {
        let position = head_before + self.positions.len() as i64 + 1;
        let digest = Digested {
            position: GlobalPosition(position as u64),
            stream_id: stream,
            stream_version: StreamVersion(version),
            recorded_at: self.recorded_at,
            metadata: &event.metadata,
            payload: &event.payload,
        }
        .digest();
        self.tip = link(&self.tip, &digest);
        self.hashes.push(self.tip);
        self.positions.push(position);
        self.stream_keys.push(key);
        self.stream_ids.push(stream);
        self.versions.push(to_i64(version));
    }
}

async fn insert(
    tx: &mut Transaction<'_, Postgres>,
    writing: &[&StreamAppend],
    placed: &Placement<'_>,
) -> Result<(), Attempt> {
    let events: Vec<&NewEvent> = writing.iter().flat_map(|part| &part.events).collect();
    let columns = Columns::of(events.into_iter());
    let query = sqlx::query(INSERT_EVENTS)
        .bind(&placed.positions)
        .bind(&placed.stream_keys)
        .bind(&placed.stream_ids)
        .bind(&placed.versions);
    let hashes: Vec<&[u8]> = placed.hashes.iter().map(|hash| &hash[..]).collect();
    let last = placed.positions.last().copied().unwrap_or_default();
    let inserted = bind_columns!(query, columns)
        .bind(placed.recorded_at.to_datetime())
        .bind(hashes)
        .bind(last)
        .bind(&placed.tip[..])
        .execute(&mut **tx)
        .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(err) if is_event_id_taken(&err) => Err(Attempt::IdTaken(err)),
        Err(err) => Err(classify("inserting events")(err).into()),
    }
}
