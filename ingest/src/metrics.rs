//! Prometheus metrics of the consumer and the processor.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Every ingest metric, registered once per registry.
#[derive(Clone)]
pub struct IngestMetrics {
    /// Messages read from the source.
    pub received: IntCounter,
    /// Messages stored on the bus (duplicates dropped by JetStream not counted).
    pub published: IntCounter,
    /// Messages JetStream dropped as duplicates of stored ones.
    pub duplicates: IntCounter,
    /// Messages filtered out (other collections or kinds).
    pub filtered: IntCounter,
    /// Inputs a source could not pass on as messages, put on the bus to be
    /// recorded as rejected.
    pub refused: IntCounter,
    /// Messages sent to the dead-letter subjects, by kind.
    pub dead_letters: IntCounterVec,
    /// Seconds between the source's clock on the newest message and now.
    pub lag_seconds: IntGauge,
    /// Messages waiting between the socket and the bus.
    pub buffered: IntGauge,
    /// Reconnections to the source.
    pub reconnects: IntCounter,
    /// Messages processed, by outcome.
    pub processed: IntCounterVec,
    /// Domain events appended by the processor, by type.
    pub appended: IntCounterVec,
    /// RSVPs parked because their event had not arrived.
    pub parked: IntCounter,
    /// Transient failures retried by the processor.
    pub retries: IntCounter,
}

fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let metric = IntCounter::new(name, help)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    label: &str,
) -> prometheus::Result<IntCounterVec> {
    let metric = IntCounterVec::new(Opts::new(name, help), &[label])?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    let metric = IntGauge::new(name, help)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl IngestMetrics {
    /// Registers the metrics in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        Ok(Self {
            received: counter(
                registry,
                "ingest_messages_received_total",
                "Messages read from the source",
            )?,
            published: counter(
                registry,
                "ingest_messages_published_total",
                "Messages stored on the bus",
            )?,
            duplicates: counter(
                registry,
                "ingest_messages_duplicate_total",
                "Messages the bus dropped as duplicates",
            )?,
            filtered: counter(
                registry,
                "ingest_messages_filtered_total",
                "Messages filtered out before the bus",
            )?,
            refused: counter(
                registry,
                "ingest_inputs_refused_total",
                "Inputs a source could not pass on as messages (not UTF-8, too large, unreadable), put on the bus to be recorded as rejected",
            )?,
            dead_letters: counter_vec(
                registry,
                "ingest_dead_letters_total",
                "Messages sent to dead-letter subjects",
                "kind",
            )?,
            lag_seconds: gauge(
                registry,
                "ingest_source_lag_seconds",
                "Seconds behind the source's clock",
            )?,
            buffered: gauge(
                registry,
                "ingest_buffered_messages",
                "Messages between socket and bus",
            )?,
            reconnects: counter(
                registry,
                "ingest_source_reconnects_total",
                "Reconnections to the source",
            )?,
            processed: counter_vec(
                registry,
                "ingest_processed_total",
                "Messages processed, by outcome",
                "outcome",
            )?,
            appended: counter_vec(
                registry,
                "ingest_events_appended_total",
                "Domain events appended, by type",
                "type",
            )?,
            parked: counter(
                registry,
                "ingest_rsvps_parked_total",
                "RSVPs parked until their event arrives",
            )?,
            retries: counter(
                registry,
                "ingest_transient_retries_total",
                "Transient failures retried",
            )?,
        })
    }
}
