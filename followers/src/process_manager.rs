//! The process manager (`domain::sync::ProcessManager`) as a follower: its
//! state folded from the log (from its last snapshot), each decision
//! appended with an id derived from its cause, and its checkpoint
//! `process-manager` moved with them. `audit verify` replays its decisions
//! and compares its snapshot with a fold from 0.

use domain::sync::{ACTOR, ProcessManager, SNAPSHOT_SHAPE};
use domain::{Append, DomainEvent, RecordedEvent};
use store::PgEventStore;

use crate::decide::{Decide, Handler, SnapshotPolicy, Started};
use crate::follow::{Follow, FollowError};

/// Its checkpoint's and its snapshot's name.
pub const NAME: &str = ACTOR;

impl Handler for ProcessManager {
    const NAME: &'static str = NAME;
    const SHAPE: u32 = SNAPSHOT_SHAPE;

    fn handle(&mut self, recorded: &RecordedEvent, event: &DomainEvent) -> Vec<Append> {
        let (next, decided) = std::mem::take(self).handle(recorded, event);
        *self = next;
        decided
    }
}

/// The process manager, brought up to its checkpoint.
pub async fn start(
    store: PgEventStore,
    policy: SnapshotPolicy,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(Follow<Decide<ProcessManager>>, Started), FollowError> {
    Follow::start(store, ProcessManager::default(), policy, progress).await
}
