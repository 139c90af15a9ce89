//! The write-side runtime (see DESIGN.md, `followers/`). Today it holds the
//! one supervision rule every background task of `serve` and `project`
//! runs under; the handlers that turn log events into new events move here
//! with issue 23.

#![warn(missing_docs)]

pub mod supervise;

pub use supervise::{Backoff, Supervisor, TaskState};
