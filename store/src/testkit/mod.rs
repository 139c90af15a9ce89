//! Test support for every crate that touches the store: throwaway databases
//! and the conformance suite every event store adapter must pass.

pub mod conformance;
mod scratch;

pub use scratch::ScratchDatabase;

use domain::NewEvent;
use domain::intake::{Outcome, from_jetstream};

use crate::port::{EventStore, ExpectedVersion};

/// Appends what one Jetstream message means (see [`domain::intake`]), as the
/// import does: for tests that need a realistic log.
pub async fn import_jetstream_message<S: EventStore>(store: &S, message: &str, source: &str) {
    if let Outcome::Events(events) = from_jetstream(message, source) {
        for intake in events {
            let event = NewEvent {
                metadata: intake.metadata,
                payload: intake.event.encode(),
            };
            store
                .append(&intake.stream, ExpectedVersion::Any, vec![event])
                .await
                .expect("append");
        }
    }
}
