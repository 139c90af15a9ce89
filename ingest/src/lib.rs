//! Ingest: firehose sources (Jetstream JSON, subscribeRepos CBOR/CAR, and
//! recorded captures), the NATS JetStream bus between them and the
//! processor, and the processor that turns bus messages into domain events.

pub mod apply;
pub mod backfill;
pub mod backoff;
pub mod bus;
pub mod capture;
pub mod consumer;
pub mod firehose;
pub mod lines;
pub mod metrics;
pub mod processor;
pub mod routing;
mod session;
pub mod source;
pub mod tally;
