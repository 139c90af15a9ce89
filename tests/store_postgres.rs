//! The event store conformance suite, run against the PostgreSQL adapter on
//! a scratch database per test.

use std::time::Duration;

use store::PgEventStore;
use store::testkit::ScratchDatabase;

async fn fresh_store() -> (PgEventStore, ScratchDatabase) {
    let database = ScratchDatabase::create().await;
    let store = database
        .store(10)
        .await
        .with_poll_interval(Duration::from_millis(50));
    (store, database)
}

store::event_store_conformance!(fresh_store);
