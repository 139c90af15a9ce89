//! The followers whose rules are pure: a handler of `domain` folds each
//! event into its state and decides what it calls for. The runtime keeps
//! the rest: paging, the checkpoint, snapshots of the state, and a start
//! that folds only what came after the last snapshot.

use std::time::{Duration, Instant};

use domain::{Append, DomainEvent, GlobalPosition, NewEvent, RecordedEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use store::{EventStore, ExpectedVersion, PgEventStore, StreamAppend};

use crate::follow::{Follow, FollowError, Follower, PAGE, decoded};
use store::snapshot::encode;
use store::{Snapshot, SnapshotError};

/// A pure fold + decide over the log, whose state can be snapshotted.
pub trait Handler: Serialize + DeserializeOwned + Send {
    /// Its checkpoint's and its snapshot's name.
    const NAME: &'static str;
    /// The shape of its state in a snapshot: raised whenever the state's
    /// types change (its golden snapshot test fails until then), so an
    /// older snapshot is discarded rather than misread.
    const SHAPE: u32;

    /// Folds one event; returns the decisions it calls for.
    fn handle(&mut self, recorded: &RecordedEvent, event: &DomainEvent) -> Vec<Append>;
}

/// How often a snapshot is taken: after this many events, or this long,
/// whichever comes first; and once the follower has caught up with the
/// head, after `caught_up`, or when a tenth of `events` were handled, or
/// for the first time since its start (so a restart of a follower that
/// keeps up folds little); only when events were handled since the last
/// one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Events handled since the last one.
    pub events: u64,
    /// Time since the last one.
    pub every: Duration,
    /// Time since the last one, once caught up with the head.
    pub caught_up: Duration,
}

impl Default for SnapshotPolicy {
    /// Every 100,000 events or minute; caught up, every 10,000 events or
    /// 10 s.
    fn default() -> Self {
        Self {
            events: 100_000,
            every: Duration::from_secs(60),
            caught_up: Duration::from_secs(10),
        }
    }
}

/// A handler run as a follower.
pub struct Decide<H> {
    state: H,
    setup: Vec<u8>,
    policy: SnapshotPolicy,
    since_snapshot: u64,
    snapshot_taken: Instant,
    /// No snapshot was taken since the start: the first time it catches
    /// up, it takes one (a start that folded much need not fold it again).
    none_taken: bool,
}

impl<H: Handler> Decide<H> {
    /// The state.
    pub fn state(&self) -> &H {
        &self.state
    }

    /// A snapshot of the state at `position`, when one is due.
    fn due_snapshot(
        &mut self,
        position: GlobalPosition,
        caught_up: bool,
    ) -> Option<Result<Snapshot, SnapshotError>> {
        let since = self.snapshot_taken.elapsed();
        let wait = if caught_up {
            self.policy.caught_up.min(self.policy.every)
        } else {
            self.policy.every
        };
        // Caught up, a tenth of the events of a snapshot is worth one: a
        // restart then folds little.
        let worth = if caught_up {
            self.none_taken || self.since_snapshot >= self.policy.events / 10
        } else {
            false
        };
        let due = self.since_snapshot >= self.policy.events
            || (self.since_snapshot > 0 && (since >= wait || worth));
        if !due {
            return None;
        }
        self.since_snapshot = 0;
        self.snapshot_taken = Instant::now();
        self.none_taken = false;
        Some(Snapshot::of(
            H::NAME,
            H::SHAPE,
            self.setup.clone(),
            position,
            &self.state,
        ))
    }
}

/// How a follower's state was rebuilt at its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Started {
    /// The snapshot's position it started from (0: the log's start).
    pub from: GlobalPosition,
    /// Its checkpoint, up to which it folded without deciding.
    pub checkpoint: GlobalPosition,
}

/// One part per decision: each is stored whole or not at all, so a page
/// cut differently after a restart still repeats decisions exactly.
pub fn parts(decisions: Vec<Append>) -> Vec<StreamAppend> {
    decisions
        .into_iter()
        .map(|decision| StreamAppend {
            stream: decision.stream,
            expected: ExpectedVersion::Any,
            events: vec![NewEvent {
                metadata: decision.metadata,
                payload: decision.event.encode(),
            }],
        })
        .collect()
}

impl<H: Handler> Follower for Decide<H> {
    const NAME: &'static str = H::NAME;
    const EFFECTS: bool = false;
    type Error = FollowError;

    fn wants(&self, _: &str) -> bool {
        true
    }

    async fn step(
        &mut self,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Result<Vec<StreamAppend>, FollowError> {
        self.since_snapshot += 1;
        Ok(parts(self.state.handle(recorded, event)))
    }

    fn snapshot(
        &mut self,
        position: GlobalPosition,
        caught_up: bool,
    ) -> Option<Result<Snapshot, SnapshotError>> {
        self.due_snapshot(position, caught_up)
    }
}

impl<H: Handler> Follow<Decide<H>> {
    /// `fresh` (the empty state, with its settings) brought up to the
    /// handler's checkpoint: from its last snapshot when it has this
    /// build's shape and settings, else from the log's start. The events
    /// up to the checkpoint had their decisions stored before, so none is
    /// taken again. `progress(done, total)` reports the positions folded.
    pub async fn start(
        store: PgEventStore,
        fresh: H,
        policy: SnapshotPolicy,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<(Self, Started), FollowError> {
        let store_error = |source| FollowError::Store {
            name: H::NAME,
            source,
        };
        let checkpoint = store.checkpoint(H::NAME).await.map_err(store_error)?;
        let setup = encode(H::NAME, &fresh).map_err(|err| snapshot_failed(H::NAME, err))?;
        let (mut state, from) = resumed(&store, fresh, &setup, checkpoint).await;
        let mut folded = from;
        while folded < checkpoint {
            let limit = PAGE.min((checkpoint.0 - folded.0) as usize);
            let page = store.read_all(folded, limit).await.map_err(store_error)?;
            let Some(last) = page.last() else { break };
            folded = last.global_position;
            for recorded in &page {
                if let Some(event) = decoded(&store, H::NAME, recorded).await? {
                    state.handle(recorded, &event);
                }
            }
            progress(folded.0, checkpoint.0);
        }
        tracing::info!(follower = H::NAME, %from, %checkpoint, "state rebuilt");
        let decide = Decide {
            state,
            setup,
            policy,
            // What the start folded counts: once caught up, a snapshot
            // spares the next start the same fold.
            since_snapshot: checkpoint.0 - from.0,
            snapshot_taken: Instant::now(),
            none_taken: true,
        };
        Ok((
            Follow::at(store, decide, checkpoint),
            Started { from, checkpoint },
        ))
    }
}

/// The state of the last usable snapshot and its position, or `fresh` at
/// the log's start. A snapshot that cannot be used is said why and left
/// to be replaced: it only ever saves time.
async fn resumed<H: Handler>(
    store: &PgEventStore,
    fresh: H,
    setup: &[u8],
    checkpoint: GlobalPosition,
) -> (H, GlobalPosition) {
    let snapshot = match Snapshot::load(store, H::NAME).await {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => return (fresh, GlobalPosition(0)),
        Err(err) => {
            tracing::warn!(error = %err, "the state is rebuilt from the log's start");
            return (fresh, GlobalPosition(0));
        }
    };
    if snapshot.position > checkpoint {
        tracing::warn!(follower = H::NAME, snapshot = %snapshot.position, %checkpoint,
            "the snapshot is past the checkpoint; the state is rebuilt from the log's start");
        return (fresh, GlobalPosition(0));
    }
    match snapshot.decode::<H>(H::SHAPE, setup) {
        Ok(Some(state)) => (state, snapshot.position),
        Ok(None) => {
            tracing::info!(
                follower = H::NAME,
                shape = snapshot.shape,
                this_build = H::SHAPE,
                "the snapshot is of another shape or settings; the state is rebuilt from the log's start"
            );
            (fresh, GlobalPosition(0))
        }
        Err(err) => {
            tracing::warn!(error = %err, "the state is rebuilt from the log's start");
            (fresh, GlobalPosition(0))
        }
    }
}

fn snapshot_failed(name: &'static str, err: SnapshotError) -> FollowError {
    FollowError::Snapshot { name, source: err }
}
