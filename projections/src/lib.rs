//! The read side: read models projected from the global log into
//! PostgreSQL (schema `read`), the runner that keeps them current, and the
//! rebuild that replaces them from position 0.
//!
//! Each read model is a pure fold of events into rows
//! ([`read_model::ReadModel::apply`]); the runner applies events in batches
//! and commits the rows with the projection's checkpoint in one
//! transaction. The process manager runs beside them, on the write side
//! (the `followers` crate), and [`audit`] tells and verifies the history of the log.

#![warn(missing_docs)]

pub mod audit;
pub mod failures;
mod fold;
mod memory;
pub mod metrics;
pub mod models;
pub mod projection;
pub mod read_model;
pub mod rebuild;
pub mod runner;
pub mod skips;

pub use projection::{Projection, ProjectionError};
