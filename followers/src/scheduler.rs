//! The publishing scheduler (`domain::publishing::Publishing`) as a
//! follower: its state folded from the log (from its last snapshot), and
//! at each tick, at the time its clock gives, what is due recorded after a
//! `PublishingDecided` that names that time and how far the log was
//! folded, so `audit verify` takes the same decisions again.

use domain::publishing::{Publishing, SCHEDULER_FOLLOWER, SNAPSHOT_SHAPE};
use domain::{Append, DomainEvent, RecordedEvent, Timestamp};
use store::PgEventStore;

use crate::decide::{Decide, Handler, SnapshotPolicy, Started, parts};
use crate::follow::{Follow, FollowError};

/// Its checkpoint's and its snapshot's name.
pub const NAME: &str = SCHEDULER_FOLLOWER;

impl Handler for Publishing {
    const NAME: &'static str = NAME;
    const SHAPE: u32 = SNAPSHOT_SHAPE;

    fn handle(&mut self, _: &RecordedEvent, event: &DomainEvent) -> Vec<Append> {
        self.follow(event);
        vec![]
    }
}

/// The scheduler linking series pages under `site`, brought up to its
/// checkpoint.
pub async fn start(
    store: PgEventStore,
    site: &str,
    policy: SnapshotPolicy,
) -> Result<(Follow<Decide<Publishing>>, Started), FollowError> {
    Follow::start(store, Publishing::new(site), policy, &|_, _| {}).await
}

impl Follow<Decide<Publishing>> {
    /// Catches up with the log and records what is due at `at`; returns how
    /// many decisions it recorded.
    pub async fn tick(&mut self, at: Timestamp) -> Result<usize, FollowError> {
        self.until_idle().await?;
        let decided = self.follower().state().decide_at(at, self.position().0);
        // The first is the `PublishingDecided` the others follow.
        let decisions = decided.len().saturating_sub(1);
        if decisions > 0 {
            self.record(parts(decided)).await?;
            tracing::info!(decisions, %at, "publishing decisions recorded");
        }
        Ok(decisions)
    }
}
