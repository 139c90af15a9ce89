//! The event store port: what every adapter offers, and how it fails.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use domain::{EventId, GlobalPosition, NewEvent, RecordedEvent, StreamId, StreamVersion};
use futures::stream::BoxStream;
use thiserror::Error;

/// What the writer believes about the stream it appends to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the stream holds.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be exactly at this version.
    Exact(StreamVersion),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(version) => write!(f, "{version}"),
        }
    }
}

/// Where an appended batch landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The stream version of the batch's last event.
    pub last_version: StreamVersion,
    /// The global position of the batch's first event.
    pub first_position: GlobalPosition,
    /// The global position of the batch's last event.
    pub last_position: GlobalPosition,
    /// True when every event was already stored (an idempotent re-append):
    /// nothing was written and the positions are those of the stored events.
    pub already_stored: bool,
}

/// One stream's part of an [`EventStore::append_many`].
#[derive(Clone, Debug)]
pub struct StreamAppend {
    /// The stream appended to.
    pub stream: StreamId,
    /// What the writer believes about it just before these events.
    pub expected: ExpectedVersion,
    /// The events, in order; at least one.
    pub events: Vec<NewEvent>,
}

/// A failure of the store itself, independent of what was appended.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database cannot be reached or dropped the connection; retrying
    /// later may succeed. Nothing of an interrupted append is visible.
    #[error("event store unavailable while {operation}: {source}")]
    Unavailable {
        /// What the store was doing.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The database answered with an error.
    #[error("event store failed while {operation}: {source}")]
    Backend {
        /// What the store was doing.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// A stored row breaks an invariant of the log (corruption, or a write
    /// that bypassed the store).
    #[error("event store is inconsistent at global position {position}: {problem}")]
    Inconsistent {
        /// Where it was found.
        position: GlobalPosition,
        /// What is wrong.
        problem: String,
    },
}

/// Why an append was refused. Nothing of a refused batch is stored.
#[derive(Debug, Error)]
pub enum AppendError {
    /// The stream is not at the version the writer expected.
    #[error("stream {stream}: expected version {expected}, but the stream is at version {actual}")]
    WrongExpectedVersion {
        /// The stream appended to.
        stream: StreamId,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was tried.
        actual: StreamVersion,
    },
    /// An event id is already stored with different content.
    #[error(
        "event {event_id} is already stored (in stream {stored_stream}) with a different payload than the one appended to {stream}"
    )]
    EventIdConflict {
        /// The id appended twice.
        event_id: EventId,
        /// The stream appended to now.
        stream: StreamId,
        /// The stream it is stored in.
        stored_stream: StreamId,
    },
    /// Some, but not all, of the batch's events are already stored: the
    /// batch is not a retry of one earlier append.
    #[error(
        "stream {stream}: {stored} of the batch's {total} events are already stored; a batch is re-appended whole or not at all"
    )]
    PartlyStored {
        /// The stream appended to.
        stream: StreamId,
        /// How many are stored.
        stored: usize,
        /// The batch size.
        total: usize,
    },
    /// The batch names one event id twice.
    #[error("stream {stream}: event {event_id} appears twice in one batch")]
    DuplicateInBatch {
        /// The stream appended to.
        stream: StreamId,
        /// The repeated id.
        event_id: EventId,
    },
    /// An append needs at least one event.
    #[error("stream {stream}: an append needs at least one event")]
    EmptyBatch {
        /// The stream appended to.
        stream: StreamId,
    },
    /// A follower's checkpoint, moved in the same transaction, was not
    /// where the follower left it: another instance of it runs.
    #[error(
        "the checkpoint {name} was at {found} where this follower left it at {expected}: another instance runs; this one stops"
    )]
    CheckpointMoved {
        /// The follower.
        name: String,
        /// Where it left its checkpoint.
        expected: GlobalPosition,
        /// Where the checkpoint is.
        found: GlobalPosition,
    },
    /// The store itself failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An append-only event log. Streams are never deleted or rewritten.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Appends `events` to `stream` atomically: all of them, contiguous in
    /// the stream and in the global log, or none. Re-appending a batch whose
    /// events are all stored with the same payloads succeeds without writing.
    fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, AppendError>> + Send;

    /// Appends to several streams in one transaction: every part or none.
    /// Parts are applied in order, so a stream may appear in several parts,
    /// each expecting the version the previous ones leave it at, and the
    /// global log holds the events in the order of the parts. A part whose
    /// events are all stored already with the same payloads is skipped
    /// without checking its expectation, as [`append`](Self::append) does;
    /// the answer holds one [`Appended`] per part.
    fn append_many(
        &self,
        parts: Vec<StreamAppend>,
    ) -> impl Future<Output = Result<Vec<Appended>, AppendError>> + Send;

    /// Every event of each of `streams`, grouped by stream in the order
    /// given, each stream's events in version order.
    fn read_streams(
        &self,
        streams: &[StreamId],
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Up to `limit` events of `stream` from version `from` (inclusive), in order.
    fn read_stream(
        &self,
        stream: &StreamId,
        from: StreamVersion,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Up to `limit` events of the global log after position `after`, in
    /// order. An adapter may return fewer to bound a page's size (never
    /// none while events remain): read on from the last one until a page
    /// is empty.
    fn read_all(
        &self,
        after: GlobalPosition,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// The position of the newest event (0 when the log is empty).
    fn head(&self) -> impl Future<Output = Result<GlobalPosition, StoreError>> + Send;

    /// Every event after `after`, then every event appended later, in
    /// global order, each exactly once. Ends only on an error.
    fn subscribe(
        &self,
        after: GlobalPosition,
    ) -> BoxStream<'static, Result<RecordedEvent, StoreError>>;
}
