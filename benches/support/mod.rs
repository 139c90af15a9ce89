//! What the benchmarks share: filling a store with generated events.

use domain::{Actor, DomainEvent, EventId, EventMetadata, NewEvent, Origin, StreamId};
use store::{EventStore, ExpectedVersion, PgEventStore};
use uuid::Uuid;

/// Appends `event(0..total)` in batches of 1,000, one new stream per batch.
pub async fn append_generated(
    store: &PgEventStore,
    total: usize,
    event: impl Fn(usize) -> DomainEvent,
) {
    append_generated_from(store, 0, total, event).await;
}

/// Appends the generated events `from..to`, a thousand to a stream;
/// `from` is a multiple of a thousand.
pub async fn append_generated_from(
    store: &PgEventStore,
    from: usize,
    to: usize,
    event: impl Fn(usize) -> DomainEvent,
) {
    const BATCH: usize = 1_000;
    for batch in from / BATCH..to.div_ceil(BATCH) {
        let events = (batch * BATCH..((batch + 1) * BATCH).min(to))
            .map(|i| NewEvent {
                metadata: EventMetadata {
                    event_id: EventId(Uuid::new_v4()),
                    causation_id: None,
                    correlation_id: None,
                    origin: Origin::Bluesky,
                    actor: Actor::system("bench"),
                },
                payload: event(i).encode(),
            })
            .collect();
        store
            .append(
                &StreamId::new("bench", batch),
                ExpectedVersion::NoStream,
                events,
            )
            .await
            .expect("append");
    }
}
