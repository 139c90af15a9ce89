//! The positions each read model passes over, as operators recorded them
//! (`openmeet-sync skip-event`): read from the log before folding, so a
//! runner and a rebuild skip exactly the same events.

use domain::RecordedEvent;
use domain::skips::{ProjectionSkips, skips_stream};
use store::EventStore;

use crate::projection::{Projection, ProjectionError};

/// The recorded skips, read by the domain's own rule.
pub async fn load(store: &impl EventStore) -> Result<ProjectionSkips, ProjectionError> {
    let recorded = store.read_streams(&[skips_stream()]).await?;
    Ok(ProjectionSkips::from_recorded(&recorded)?)
}

/// Whether `projection` passes over `event`; a pass is logged, since it
/// leaves the read model without what the event says.
pub(crate) fn passes_over(
    skips: &ProjectionSkips,
    projection: Projection,
    event: &RecordedEvent,
) -> bool {
    let skipped = skips.is_skipped(projection.name(), event.global_position.0);
    if skipped {
        tracing::warn!(
            %projection,
            position = %event.global_position,
            event_type = %event.payload.event_type,
            "event skipped by an operator's decision"
        );
        crate::metrics::skipped(projection, "operator");
    }
    skipped
}
