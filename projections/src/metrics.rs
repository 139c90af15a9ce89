//! What the read side passed over, as Prometheus counters. Process-wide,
//! since folds are pure functions with no registry at hand; a server adds
//! them to its registry with [`register`].

use std::sync::LazyLock;

use prometheus::{IntCounterVec, Opts, Registry};

use crate::projection::Projection;

static SKIPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "projection_events_skipped_total",
            "Events (or their content) a read model passed over, by reason",
        ),
        &["projection", "reason"],
    )
    // A literal name and label set: always a valid metric.
    .expect("valid counter")
});

/// Counts one event `projection` passed over for `reason` (`operator`:
/// a recorded skip; `unstorable`: content no text column can hold).
pub fn skipped(projection: Projection, reason: &'static str) {
    SKIPPED
        .with_label_values(&[projection.name(), reason])
        .inc();
}

/// Adds the read side's counters to `registry`.
pub fn register(registry: &Registry) -> prometheus::Result<()> {
    registry.register(Box::new(SKIPPED.clone()))
}
