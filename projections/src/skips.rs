//! The positions each read model passes over, as operators recorded them
//! (`openmeet-sync skip-event`): read from the log before folding, so a
//! runner and a rebuild skip exactly the same events.

use domain::decider::Decider;
use domain::skips::{ProjectionSkips, skips_stream};
use domain::{DomainEvent, RecordedEvent};
use store::EventStore;

use crate::projection::{Projection, ProjectionError};

/// The recorded skips, folded by the domain's own rule.
pub async fn load(store: &impl EventStore) -> Result<ProjectionSkips, ProjectionError> {
    let recorded = store.read_streams(&[skips_stream()]).await?;
    let mut events = Vec::with_capacity(recorded.len());
    for event in &recorded {
        match DomainEvent::decode(&event.payload) {
            Ok(decoded) => events.push(decoded),
            Err(err) => {
                return Err(ProjectionError::UnreadableSkip {
                    position: event.global_position,
                    reason: err.to_string(),
                });
            }
        }
    }
    Ok(ProjectionSkips::replay(&events))
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
