//! Test support for every crate that touches the store: throwaway databases
//! and the conformance suite every event store adapter must pass.

pub mod conformance;
mod scratch;

pub use scratch::ScratchDatabase;
