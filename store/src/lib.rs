//! The event store: an append-only log of domain events, one stream per
//! aggregate and one global order, behind a port that adapters implement.

#![warn(missing_docs)]

pub mod decide;
pub mod port;
pub mod postgres;
pub mod snapshot;
#[cfg(feature = "conformance")]
pub mod testkit;

pub use port::{AppendError, Appended, EventStore, ExpectedVersion, StoreError, StreamAppend};
pub use postgres::{Advance, Followers, PgEventStore};
pub use snapshot::{Snapshot, SnapshotError};
