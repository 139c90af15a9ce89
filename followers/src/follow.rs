//! The one way a follower goes through the log: pages from its checkpoint,
//! each event it wants decoded (or passed over by an operator's skip, or
//! the follower stopped there), handed to the follower, and what it asks
//! to record appended together with the checkpoint's move, by
//! compare-and-set, in one transaction ([`PgEventStore::append_advancing`]).
//! A second instance finds the checkpoint moved and stops rather than
//! decide twice; a follower killed at any point repeats at most the events
//! after its checkpoint, whose records have ids derived from their cause.

use std::future::Future;

use domain::skips::{ProjectionSkips, UnreadableSkip, skips_stream};
use domain::{DomainEvent, GlobalPosition, RecordedEvent};
use futures::StreamExt;
use store::{Advance, AppendError, EventStore, Followers, PgEventStore, StoreError, StreamAppend};
use thiserror::Error;
use tracing::Instrument;

use store::{Snapshot, SnapshotError};

/// Events read at a time.
pub const PAGE: usize = 512;

/// How often a step is taken again when its records met a stream that
/// another writer moved on meanwhile.
const RACES: usize = 5;

/// Why a follower stopped.
#[derive(Debug, Error)]
pub enum FollowError {
    /// An event it needs does not decode: what it would do with it cannot
    /// be known, so it stops there.
    #[error(
        "{name} stopped at position {position} ({event_type}): {reason}; when no build can read it, \
         `openmeet-sync skip-event --projection {name} --position {position}` passes over it"
    )]
    Undecodable {
        /// The follower.
        name: &'static str,
        /// The event's position.
        position: GlobalPosition,
        /// Its type.
        event_type: String,
        /// What the decoder said.
        reason: String,
    },
    /// What it recorded, or the move of its checkpoint, was refused; a
    /// moved checkpoint means another instance runs.
    #[error("{name}: recording what positions up to {to} caused: {source}")]
    Append {
        /// The follower.
        name: &'static str,
        /// The last event handled.
        to: GlobalPosition,
        /// What the store said.
        #[source]
        source: AppendError,
    },
    /// Its empty state could not be encoded to compare with a snapshot's.
    #[error("{name}: {source}")]
    Snapshot {
        /// The follower.
        name: &'static str,
        /// What failed.
        #[source]
        source: SnapshotError,
    },
    /// An earlier failure to store what it decided left its state ahead of
    /// its checkpoint: it must be started again.
    #[error(
        "{name}: an earlier failure left its state ahead of its checkpoint; it is started again"
    )]
    Interrupted {
        /// The follower.
        name: &'static str,
    },
    /// An operator's skip record does not decode: what the follower is to
    /// pass over cannot be known.
    #[error("{name}: {source}")]
    UnreadableSkip {
        /// The follower.
        name: &'static str,
        /// Which record.
        #[source]
        source: UnreadableSkip,
    },
    /// Reading the log, its checkpoint or the operators' skips failed.
    #[error("{name}: {source}")]
    Store {
        /// The follower.
        name: &'static str,
        /// What the store said.
        #[source]
        source: StoreError,
    },
}

impl FollowError {
    /// True when another instance of the follower moved its checkpoint.
    pub fn is_concurrent_runner(&self) -> bool {
        matches!(
            self,
            FollowError::Append {
                source: AppendError::CheckpointMoved { .. },
                ..
            }
        )
    }
}

/// What turns events of the log into records: a decider of `domain` (see
/// [`crate::Decide`]) or an effect on another system (a publisher).
pub trait Follower: Send {
    /// Its checkpoint's name, which an operator's skip names too.
    const NAME: &'static str;

    /// True when a step carries out an effect outside the log: then what
    /// it records is stored with the event that caused it, before the next
    /// step; otherwise a page's records are stored at once.
    const EFFECTS: bool;

    /// Why it stops (to be started again).
    type Error: From<FollowError> + Send;

    /// Whether events of `event_type` concern it; the others pass by
    /// undecoded.
    fn wants(&self, event_type: &str) -> bool;

    /// Handles one event; returns what to record.
    fn step(
        &mut self,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> impl Future<Output = Result<Vec<StreamAppend>, Self::Error>> + Send;

    /// A snapshot of its state at `position`, when one is due (`caught_up`:
    /// it has reached the head of the log); a follower that keeps no state
    /// worth one never has one due.
    fn snapshot(
        &mut self,
        _position: GlobalPosition,
        _caught_up: bool,
    ) -> Option<Result<Snapshot, SnapshotError>> {
        None
    }
}

/// A follower and its place in the log.
pub struct Follow<F> {
    store: PgEventStore,
    follower: F,
    position: GlobalPosition,
    done: Done,
    /// A pure follower's state folded events whose records were not
    /// stored.
    interrupted: bool,
}

/// What a follower did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Done {
    /// Events it handled (those it wants).
    pub handled: u64,
    /// Events it recorded.
    pub recorded: u64,
}

impl<F: Follower> Follow<F> {
    /// `follower`, from its checkpoint.
    pub async fn open(store: PgEventStore, follower: F) -> Result<Self, FollowError> {
        let position = store
            .checkpoint(F::NAME)
            .await
            .map_err(|source| FollowError::Store {
                name: F::NAME,
                source,
            })?;
        Ok(Self::at(store, follower, position))
    }

    /// `follower`, whose state holds the log up to `position`, its
    /// checkpoint.
    pub fn at(store: PgEventStore, follower: F, position: GlobalPosition) -> Self {
        Self {
            store,
            follower,
            position,
            done: Done::default(),
            interrupted: false,
        }
    }

    /// Where it stands: every event up to here is handled and its records
    /// stored.
    pub fn position(&self) -> GlobalPosition {
        self.position
    }

    /// What it did since it was opened.
    pub fn done(&self) -> Done {
        self.done
    }

    /// The follower.
    pub fn follower(&self) -> &F {
        &self.follower
    }

    /// The follower, to record what its clock says is due (see
    /// [`Follow::record`]).
    pub fn follower_mut(&mut self) -> &mut F {
        &mut self.follower
    }

    /// The store it follows.
    pub fn store(&self) -> &PgEventStore {
        &self.store
    }

    /// Records `parts` where the follower stands now.
    pub async fn record(&mut self, parts: Vec<StreamAppend>) -> Result<(), FollowError> {
        let to = self.position;
        self.store_moving(parts, to).await
    }

    /// Handles the log up to its head, including what it records on the
    /// way; returns what it did.
    pub async fn until_idle(&mut self) -> Result<Done, F::Error> {
        let before = self.done;
        loop {
            let page = self
                .store
                .read_all(self.position, PAGE)
                .await
                .map_err(|source| FollowError::Store {
                    name: F::NAME,
                    source,
                })?;
            if page.is_empty() {
                self.snapshot_if_due(true).await;
                return Ok(Done {
                    handled: self.done.handled - before.handled,
                    recorded: self.done.recorded - before.recorded,
                });
            }
            self.handle(&page).await?;
        }
    }

    /// Follows the log forever (or until an error).
    pub async fn follow(mut self) -> Result<(), F::Error> {
        let store = self.store.clone();
        let mut pages = store.subscribe(self.position).ready_chunks(PAGE);
        while let Some(page) = pages.next().await {
            let page = page
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| FollowError::Store {
                    name: F::NAME,
                    source,
                })?;
            let caught_up = page.len() < PAGE;
            self.handle(&page).await?;
            if caught_up {
                self.snapshot_if_due(true).await;
            }
        }
        Ok(())
    }

    /// Handles `page`, the next events after its position, in log order.
    /// Every event it wants is decoded first: one that does not decode
    /// stops it before it folds or carries out anything of the page.
    pub async fn handle(&mut self, page: &[RecordedEvent]) -> Result<(), F::Error> {
        let Some(last) = page.last() else {
            return Ok(());
        };
        if self.interrupted {
            return Err(FollowError::Interrupted { name: F::NAME }.into());
        }
        let mut wanted = Vec::new();
        for recorded in page {
            if recorded.global_position <= self.position
                || !self.follower.wants(&recorded.payload.event_type)
            {
                continue;
            }
            if let Some(event) = decoded(&self.store, F::NAME, recorded).await? {
                wanted.push((recorded, event));
            }
        }
        let mut pending = Vec::new();
        for (recorded, event) in wanted {
            self.done.handled += 1;
            let span = tracing::debug_span!("follow", follower = F::NAME,
                position = %recorded.global_position, event_type = %recorded.payload.event_type);
            if F::EFFECTS {
                self.step_and_store(recorded, &event)
                    .instrument(span)
                    .await?;
            } else {
                let decided = self
                    .follower
                    .step(recorded, &event)
                    .instrument(span)
                    .await?;
                pending.extend(decided);
            }
        }
        if !F::EFFECTS {
            self.interrupted = true;
        }
        if last.global_position > self.position || !pending.is_empty() {
            self.store_moving(pending, last.global_position.max(self.position))
                .await?;
        }
        self.interrupted = false;
        self.snapshot_if_due(false).await;
        Ok(())
    }

    /// Stores a snapshot of the follower's state where it stands, when one
    /// is due. A snapshot only saves time at a restart: one that fails is
    /// said, and the follower goes on.
    async fn snapshot_if_due(&mut self, caught_up: bool) {
        let taken = match self.follower.snapshot(self.position, caught_up) {
            None => return,
            Some(taken) => taken,
        };
        let saved = match taken {
            Ok(snapshot) => snapshot.save(&self.store).await.map(|()| snapshot),
            Err(err) => Err(err),
        };
        match saved {
            Ok(snapshot) => tracing::info!(follower = F::NAME, position = %snapshot.position,
                bytes = snapshot.state.len(), "snapshot stored"),
            Err(err) => tracing::warn!(error = %err, "no snapshot stored; the follower goes on"),
        }
    }

    /// One step of an effectful follower, stored with its event; taken
    /// again when a stream it records to moved on meanwhile.
    async fn step_and_store(
        &mut self,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Result<(), F::Error> {
        for race in 1..=RACES {
            let parts = self.follower.step(recorded, event).await?;
            match self.store_moving(parts, recorded.global_position).await {
                Err(FollowError::Append {
                    source: AppendError::WrongExpectedVersion { .. },
                    ..
                }) if race < RACES => {}
                outcome => return outcome.map_err(F::Error::from),
            }
        }
        Ok(())
    }

    async fn store_moving(
        &mut self,
        parts: Vec<StreamAppend>,
        to: GlobalPosition,
    ) -> Result<(), FollowError> {
        let count: usize = parts.iter().map(|part| part.events.len()).sum();
        let advance = Advance {
            followers: Followers::Writers,
            name: F::NAME.to_owned(),
            from: self.position,
            to,
        };
        self.store
            .append_advancing(parts, &advance)
            .await
            .map_err(|source| FollowError::Append {
                name: F::NAME,
                to,
                source,
            })?;
        if count > 0 {
            tracing::info!(follower = F::NAME, recorded = count, %to, "recorded");
        }
        self.position = to;
        self.done.recorded += count as u64;
        Ok(())
    }
}

/// `recorded` decoded; `None` when it does not decode and an operator
/// recorded a skip of it for the follower `name`.
pub(crate) async fn decoded(
    store: &PgEventStore,
    name: &'static str,
    recorded: &RecordedEvent,
) -> Result<Option<DomainEvent>, FollowError> {
    let err = match DomainEvent::decode(&recorded.payload) {
        Ok(event) => return Ok(Some(event)),
        Err(err) => err,
    };
    if skips(store, name)
        .await?
        .is_skipped(name, recorded.global_position.0)
    {
        tracing::warn!(follower = name, position = %recorded.global_position, error = %err,
            "passed over an event that does not decode, by an operator's decision");
        return Ok(None);
    }
    Err(FollowError::Undecodable {
        name,
        position: recorded.global_position,
        event_type: recorded.payload.event_type.clone(),
        reason: err.to_string(),
    })
}

/// The operators' skips (`openmeet-sync skip-event`), read by the
/// domain's rule, which refuses a skip record that does not decode.
pub async fn skips(
    store: &PgEventStore,
    name: &'static str,
) -> Result<ProjectionSkips, FollowError> {
    let recorded = store
        .read_streams(&[skips_stream()])
        .await
        .map_err(|source| FollowError::Store { name, source })?;
    ProjectionSkips::from_recorded(&recorded)
        .map_err(|source| FollowError::UnreadableSkip { name, source })
}
