//! The hash chain over the log (migration 0003): an event's digest exactly
//! as the database computes it, and a walk that checks the stored hashes.

use domain::{
    EncodedPayload, EventMetadata, GlobalPosition, RecordedEvent, StreamVersion, Timestamp,
};
use sha2::{Digest, Sha256};
use sqlx::Row;
use thiserror::Error;

use super::errors::classify;
use super::rows::{READ_ALL_HASHED, recorded_event};
use super::to_i64;
use crate::port::StoreError;

/// The hash the chain starts from, before position 1.
pub const GENESIS: [u8; 32] = [0; 32];

fn framed(digest: &mut Sha256, bytes: &[u8]) {
    // Lengths are PostgreSQL int4: a field past 2 GiB cannot be stored.
    digest.update((bytes.len() as i32).to_be_bytes());
    digest.update(bytes);
}

fn optional_id(digest: &mut Sha256, id: Option<uuid::Uuid>) {
    match id {
        None => digest.update([0]),
        Some(id) => {
            digest.update([1]);
            digest.update(id.as_bytes());
        }
    }
}

/// What an event's digest covers, borrowed: a stored event, or one an
/// append is about to write.
pub struct Digested<'a> {
    /// Its position.
    pub position: GlobalPosition,
    /// Its stream.
    pub stream_id: &'a str,
    /// Its version in the stream.
    pub stream_version: StreamVersion,
    /// When it is recorded (the appending transaction's time).
    pub recorded_at: Timestamp,
    /// Its ids, origin and actor.
    pub metadata: &'a EventMetadata,
    /// Its payload.
    pub payload: &'a EncodedPayload,
}

impl Digested<'_> {
    /// The digest, exactly as `eventstore.extend_chain_over` computes it.
    pub fn digest(&self) -> [u8; 32] {
        let metadata = self.metadata;
        let mut digest = Sha256::new();
        digest.update((self.position.0 as i64).to_be_bytes());
        digest.update((self.stream_version.0 as i64).to_be_bytes());
        digest.update(i32::from(self.payload.schema_version).to_be_bytes());
        digest.update(self.recorded_at.as_unix_micros().to_be_bytes());
        digest.update(metadata.event_id.0.as_bytes());
        optional_id(&mut digest, metadata.causation_id.map(|id| id.0));
        optional_id(&mut digest, metadata.correlation_id.map(|id| id.0));
        framed(&mut digest, self.stream_id.as_bytes());
        framed(&mut digest, self.payload.event_type.as_bytes());
        framed(&mut digest, metadata.origin.as_str().as_bytes());
        framed(&mut digest, metadata.actor.0.as_bytes());
        framed(&mut digest, &self.payload.bytes);
        digest.finalize().into()
    }
}

/// The digest of one stored event.
pub fn event_digest(event: &RecordedEvent) -> [u8; 32] {
    Digested {
        position: event.global_position,
        stream_id: event.stream_id.as_str(),
        stream_version: event.stream_version,
        recorded_at: event.recorded_at,
        metadata: &event.metadata,
        payload: &event.payload,
    }
    .digest()
}

/// The hash of an event whose digest is `digest`, after `previous`.
pub fn link(previous: &[u8; 32], digest: &[u8; 32]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(previous);
    hash.update(digest);
    hash.finalize().into()
}

/// Where the chain does not hold.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ChainBreak {
    /// No hash was stored for the event.
    #[error("position {position}: no hash is stored for this event")]
    Missing {
        /// The event's position.
        position: GlobalPosition,
    },
    /// The stored hash does not follow from the event and its predecessor.
    #[error(
        "position {position}: the stored hash does not match the event (its payload, metadata or place in the log changed after it was written)"
    )]
    Mismatch {
        /// The event's position.
        position: GlobalPosition,
    },
    /// Positions are missing before this one.
    #[error("position {position} follows position {previous}: events are missing from the log")]
    Gap {
        /// The event's position.
        position: GlobalPosition,
        /// The position checked before it.
        previous: GlobalPosition,
    },
}

/// Checks events and their stored hashes in log order, from position 1.
#[derive(Clone, Debug)]
pub struct ChainWalk {
    previous: [u8; 32],
    position: GlobalPosition,
}

impl Default for ChainWalk {
    fn default() -> Self {
        Self {
            previous: GENESIS,
            position: GlobalPosition(0),
        }
    }
}

impl ChainWalk {
    /// The hash of the last event checked: publish it elsewhere (a ticket,
    /// an auditor's notes) and a later rewrite of the whole chain shows.
    pub fn tip(&self) -> [u8; 32] {
        self.previous
    }

    /// Checks the next event. After a break the walk goes on from the stored
    /// hash, so one altered event is reported once, not at every later one.
    pub fn check(
        &mut self,
        event: &RecordedEvent,
        stored: Option<&[u8]>,
    ) -> Result<(), ChainBreak> {
        let position = event.global_position;
        let expected = link(&self.previous, &event_digest(event));
        let previous = std::mem::replace(&mut self.position, position);
        let stored: Option<[u8; 32]> = stored.and_then(|hash| hash.try_into().ok());
        self.previous = stored.unwrap_or(expected);
        if position != previous.next() {
            return Err(ChainBreak::Gap { position, previous });
        }
        match stored {
            None => Err(ChainBreak::Missing { position }),
            Some(hash) if hash != expected => Err(ChainBreak::Mismatch { position }),
            Some(_) => Ok(()),
        }
    }
}

/// Up to `limit` events after `after`, each with the hash stored for it.
pub(crate) async fn read_all_hashed(
    pool: &sqlx::PgPool,
    after: GlobalPosition,
    limit: usize,
) -> Result<Vec<(RecordedEvent, Option<Vec<u8>>)>, StoreError> {
    let rows = sqlx::query(READ_ALL_HASHED)
        .bind(to_i64(after.0))
        .bind(to_i64(limit as u64))
        .bind(super::PAGE_BYTES)
        .fetch_all(pool)
        .await
        .map_err(classify("reading the log with its hashes"))?;
    rows.iter()
        .map(|row| {
            let hash: Option<Vec<u8>> = row
                .try_get("hash")
                .map_err(classify("decoding a stored hash"))?;
            Ok((recorded_event(row)?, hash))
        })
        .collect()
}
