//! The write-side runtime (see DESIGN.md, `followers/`): every follower
//! of the log that records new events or carries out effects runs through
//! [`Follow`] (paging, the compare-and-set checkpoint stored with what it
//! records, a stop on what it cannot decode); the pure ones through
//! [`Decide`] (snapshots of their state); and each as a task of the one
//! [`Supervisor`] (restart with backoff, state for `/health`).

#![warn(missing_docs)]

pub mod decide;
pub mod follow;
pub mod process_manager;
pub mod scheduler;
pub mod supervise;

pub use decide::{Decide, Handler, SnapshotPolicy, Started};
pub use follow::{Done, Follow, FollowError, Follower};
pub use supervise::{Backoff, Supervisor, TaskState};
