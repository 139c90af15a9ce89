//! `audit verify`: the whole log replayed from position 0 through the
//! process manager and the publishing scheduler, their decisions compared
//! with the recorded ones (the scheduler's at the times and folds its
//! `PublishingDecided` record), their snapshots compared with the replay's
//! state at the same position, and the hash chain checked, in one pass.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use domain::publishing::{
    Publishing, PublishingDecided, SCHEDULER_FOLLOWER as SCHEDULER, is_timed_decision,
    scheduler_stream,
};
use domain::series_detection::DETECTOR_VERSION;
use domain::sync::{ProcessManager, is_decision};
use domain::{
    DomainEvent, EncodedPayload, EventId, EventMetadata, GlobalPosition, RecordedEvent, StreamId,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use store::postgres::chain::{ChainBreak, ChainWalk};
use store::{EventStore, PgEventStore, Snapshot, StoreError};

/// Events read and checked at a time.
const PAGE: usize = 2_000;

/// Something the log does not back up.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// The hash chain does not hold at an event.
    Chain(ChainBreak),
    /// An event does not decode; the replay goes on without it.
    Undecodable {
        /// Its position.
        position: GlobalPosition,
        /// Its type.
        event_type: String,
        /// What the decoder said.
        reason: String,
    },
    /// A recorded decision that the replay did not take.
    Unexpected {
        /// Its position.
        position: GlobalPosition,
        /// Its type.
        event_type: String,
        /// Its stream.
        stream: String,
    },
    /// A recorded decision whose content differs from the replay's.
    Altered {
        /// Its position.
        position: GlobalPosition,
        /// Its type.
        event_type: String,
        /// The recorded decision (envelope and payload).
        recorded: Value,
        /// The decision the replay took.
        replayed: Value,
    },
    /// A follower's snapshot differs from the replay's state at its
    /// position: a restart from it would decide otherwise than the log.
    Snapshot {
        /// The follower.
        name: String,
        /// The snapshot's position.
        position: GlobalPosition,
    },
    /// A decision the replay took for an event at or before the
    /// checkpoint, which the log does not hold.
    Missing {
        /// The position of the event that called for it.
        cause: GlobalPosition,
        /// The decision.
        replayed: Value,
    },
}

impl Finding {
    /// The position the finding is about.
    pub fn position(&self) -> GlobalPosition {
        match self {
            Finding::Chain(
                ChainBreak::Missing { position }
                | ChainBreak::Mismatch { position }
                | ChainBreak::Gap { position, .. },
            ) => *position,
            Finding::Undecodable { position, .. }
            | Finding::Unexpected { position, .. }
            | Finding::Altered { position, .. }
            | Finding::Snapshot { position, .. } => *position,
            Finding::Missing { cause, .. } => *cause,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Chain(chain) => write!(f, "hash chain broken at {chain}"),
            Finding::Undecodable {
                position,
                event_type,
                reason,
            } => write!(
                f,
                "position {position}: {event_type} does not decode ({reason}); the replay went on without it"
            ),
            Finding::Unexpected {
                position,
                event_type,
                stream,
            } => write!(
                f,
                "position {position}: recorded decision {event_type} in {stream} was not taken by the replay"
            ),
            Finding::Altered {
                position,
                event_type,
                recorded,
                replayed,
            } => write!(
                f,
                "position {position}: recorded decision {event_type} differs from the replay's\n  recorded: {recorded}\n  replayed: {replayed}"
            ),
            Finding::Snapshot { name, position } => write!(
                f,
                "position {position}: the snapshot of {name} differs from the replay's state there; delete it (`DELETE FROM process.snapshots WHERE name = '{name}'`) and {name} folds the log again"
            ),
            Finding::Missing { cause, replayed } => write!(
                f,
                "position {cause}: the replay decided {replayed}, which the log does not hold"
            ),
        }
    }
}

/// What `audit verify` found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verification {
    /// Events read (the head when verification ended).
    pub events: u64,
    /// Recorded decisions that matched the replay exactly.
    pub decisions_matched: u64,
    /// How far the process manager has carried out decisions.
    pub checkpoint: GlobalPosition,
    /// Decisions the replay took for events past the checkpoint: not yet
    /// carried out, so not expected in the log.
    pub not_yet_carried_out: u64,
    /// Publishing decisions recorded before decisions carried the time
    /// they were taken at: not compared.
    pub publishing_untimed: u64,
    /// The followers' snapshots compared with the replay's state, by name,
    /// with their position; one of another shape than this build's is not
    /// compared (nor used).
    pub snapshots_compared: Vec<(String, GlobalPosition)>,
    /// Series proposals, recorded and replayed, not compared because the log
    /// holds proposals made by earlier rules of detection (the version
    /// named), which this build does not decide alike.
    pub proposals_by_earlier_rules: Option<(u16, u64)>,
    /// The chain's hash at the last event, in hex.
    pub chain_tip: String,
    /// Every difference, in log order.
    pub findings: Vec<Finding>,
}

/// What a decision is, in 32 bytes: its stream, envelope and payload,
/// each field framed by its length. Pending decisions are kept as this
/// alone: a log whose decisions trail far behind their causes (a backlog
/// decided after the fact) holds many at once.
fn decision_digest(
    stream: &StreamId,
    metadata: &EventMetadata,
    payload: &EncodedPayload,
) -> [u8; 32] {
    let mut digest = Sha256::new();
    let mut field = |bytes: &[u8]| {
        digest.update((bytes.len() as u64).to_be_bytes());
        digest.update(bytes);
    };
    field(stream.as_str().as_bytes());
    field(metadata.event_id.0.as_bytes());
    // An absent id is an empty field, so no id stands for its absence.
    for id in [
        metadata.causation_id.map(|id| id.0),
        metadata.correlation_id.map(|id| id.0),
    ] {
        field(id.as_ref().map(|id| &id.as_bytes()[..]).unwrap_or_default());
    }
    field(metadata.origin.as_str().as_bytes());
    field(metadata.actor.0.as_bytes());
    field(payload.event_type.as_bytes());
    field(&payload.schema_version.to_be_bytes());
    field(&payload.bytes);
    digest.finalize().into()
}

/// A decision of the replay, waiting for its recorded copy.
struct Pending {
    cause: GlobalPosition,
    digest: [u8; 32],
    proposal: bool,
    /// Taken by the scheduler (whose checkpoint says whether it is due).
    scheduled: bool,
}

/// A finding that shows the replay's decision, filled in by a second pass.
struct Unshown {
    finding: usize,
    id: EventId,
}

/// A decision, recorded or replayed, as the report shows it.
fn decision_json(
    stream: &StreamId,
    metadata: &EventMetadata,
    event_type: &str,
    payload: Value,
) -> Value {
    serde_json::json!({
        "stream": stream,
        "type": event_type,
        "event_id": metadata.event_id,
        "causation_id": metadata.causation_id,
        "correlation_id": metadata.correlation_id,
        "origin": metadata.origin,
        "actor": metadata.actor,
        "payload": payload,
    })
}

/// A snapshot to compare with the replay's state at its position.
struct Expected {
    snapshot: Snapshot,
    /// The scheduler's settings it was folded with.
    site: Option<String>,
}

/// The replay and its bookkeeping.
#[derive(Default)]
struct Replay {
    manager: ProcessManager,
    publishing: Publishing,
    /// The scheduler's ticks, by the position they folded the log up to.
    ticks: BTreeMap<u64, Vec<PublishingDecided>>,
    snapshots: Vec<Expected>,
    chain: ChainWalk,
    pending: HashMap<EventId, Pending>,
    unshown: Vec<Unshown>,
    report: Verification,
}

impl Replay {
    fn check(&mut self, recorded: &RecordedEvent, hash: Option<&[u8]>) {
        let report = &mut self.report;
        report.events = recorded.global_position.0;
        if let Err(chain) = self.chain.check(recorded, hash) {
            report.findings.push(Finding::Chain(chain));
        }
        let event = match DomainEvent::decode(&recorded.payload) {
            Ok(event) => event,
            Err(err) => {
                report.findings.push(Finding::Undecodable {
                    position: recorded.global_position,
                    event_type: recorded.payload.event_type.clone(),
                    reason: err.to_string(),
                });
                return;
            }
        };
        if let DomainEvent::SeriesProposed(proposed) = &event
            && proposed.detector < DETECTOR_VERSION
        {
            let (earliest, _) = report
                .proposals_by_earlier_rules
                .get_or_insert((proposed.detector, 0));
            *earliest = (*earliest).min(proposed.detector);
        }
        let timed = is_timed_decision(recorded);
        if timed && recorded.metadata.causation_id.is_none() {
            report.publishing_untimed += 1;
        }
        let decision = is_decision(recorded) || (timed && recorded.metadata.causation_id.is_some());
        if let (true, DomainEvent::SeriesProposed(_), Some((_, uncompared))) =
            (decision, &event, &mut report.proposals_by_earlier_rules)
        {
            self.pending.remove(&recorded.metadata.event_id);
            *uncompared += 1;
        } else if decision {
            let id = recorded.metadata.event_id;
            match self.pending.remove(&id) {
                Some(pending)
                    if pending.digest
                        == decision_digest(
                            &recorded.stream_id,
                            &recorded.metadata,
                            &recorded.payload,
                        ) =>
                {
                    report.decisions_matched += 1;
                }
                Some(_) => {
                    self.unshown.push(Unshown {
                        finding: report.findings.len(),
                        id,
                    });
                    report.findings.push(Finding::Altered {
                        position: recorded.global_position,
                        event_type: recorded.payload.event_type.clone(),
                        recorded: decision_json(
                            &recorded.stream_id,
                            &recorded.metadata,
                            &recorded.payload.event_type,
                            event.payload_json(),
                        ),
                        replayed: Value::Null,
                    });
                }
                None => report.findings.push(Finding::Unexpected {
                    position: recorded.global_position,
                    event_type: recorded.payload.event_type.clone(),
                    stream: recorded.stream_id.to_string(),
                }),
            }
        }
        let (manager, decided) = std::mem::take(&mut self.manager).handle(recorded, &event);
        self.manager = manager;
        self.expect(recorded.global_position, decided, false);
        self.publishing.follow(&event);
        let position = recorded.global_position;
        for tick in self.ticks.remove(&position.0).unwrap_or_default() {
            self.publishing.set_site(&tick.site);
            let decided = self.publishing.decide_at(tick.at, tick.after);
            // The first is the tick itself, read from the log.
            self.expect(position, decided.into_iter().skip(1).collect(), true);
        }
        self.compare_snapshots(position);
    }

    /// Waits for the recorded copies of the replay's `decided`.
    fn expect(&mut self, cause: GlobalPosition, decided: Vec<domain::Append>, scheduled: bool) {
        for command in decided {
            let digest =
                decision_digest(&command.stream, &command.metadata, &command.event.encode());
            let pending = Pending {
                cause,
                digest,
                proposal: matches!(command.event, DomainEvent::SeriesProposed(_)),
                scheduled,
            };
            self.pending.insert(command.metadata.event_id, pending);
        }
    }

    /// Compares the snapshots taken at `position` with the replay's state.
    fn compare_snapshots(&mut self, position: GlobalPosition) {
        let mut index = 0;
        while index < self.snapshots.len() {
            if self.snapshots[index].snapshot.position != position {
                index += 1;
                continue;
            }
            let Expected { snapshot, site } = self.snapshots.swap_remove(index);
            let replayed = match &site {
                Some(site) => {
                    let mut publishing = self.publishing.clone();
                    publishing.set_site(site);
                    postcard::to_allocvec(&publishing)
                }
                None => postcard::to_allocvec(&self.manager),
            };
            if replayed.ok().as_deref() != Some(snapshot.state.as_slice()) {
                self.report.findings.push(Finding::Snapshot {
                    name: snapshot.name.clone(),
                    position,
                });
            }
            self.report
                .snapshots_compared
                .push((snapshot.name, snapshot.position));
        }
    }

    /// Reports the decisions still pending: missing when their cause is at
    /// or before the checkpoint, not yet carried out after it.
    fn finish(&mut self, checkpoint: GlobalPosition, scheduler: GlobalPosition) {
        let mut pending: Vec<(EventId, Pending)> = self.pending.drain().collect();
        pending.sort_by_key(|(id, pending)| (pending.cause, *id));
        for (id, pending) in pending {
            if pending.proposal && self.report.proposals_by_earlier_rules.is_some() {
                continue;
            }
            let carried_out = if pending.scheduled {
                scheduler
            } else {
                checkpoint
            };
            if pending.cause <= carried_out {
                self.unshown.push(Unshown {
                    finding: self.report.findings.len(),
                    id,
                });
                self.report.findings.push(Finding::Missing {
                    cause: pending.cause,
                    replayed: Value::Null,
                });
            } else {
                self.report.not_yet_carried_out += 1;
            }
        }
        self.report.checkpoint = checkpoint;
        self.report.chain_tip = self
            .chain
            .tip()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
    }
}

/// The replay's decisions `wanted` (by id), from a second fold of the log
/// up to `until`: taken only when some decision differs, so a clean log is
/// read once.
async fn replayed(
    store: &PgEventStore,
    wanted: &HashSet<EventId>,
    until: GlobalPosition,
) -> Result<HashMap<EventId, Value>, StoreError> {
    let mut manager = ProcessManager::default();
    let mut found = HashMap::new();
    let mut after = GlobalPosition(0);
    while after < until && found.len() < wanted.len() {
        let page = store.read_all(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for recorded in page
            .iter()
            .filter(|recorded| recorded.global_position <= until)
        {
            let Ok(event) = DomainEvent::decode(&recorded.payload) else {
                continue;
            };
            let (next, decided) = manager.handle(recorded, &event);
            manager = next;
            for command in decided {
                if wanted.contains(&command.metadata.event_id) {
                    let payload = command.event.payload_json();
                    let json = decision_json(
                        &command.stream,
                        &command.metadata,
                        command.event.event_type(),
                        payload,
                    );
                    found.insert(command.metadata.event_id, json);
                }
            }
        }
    }
    Ok(found)
}

/// The scheduler's ticks, by the position each folded the log up to.
async fn ticks(store: &PgEventStore) -> Result<BTreeMap<u64, Vec<PublishingDecided>>, StoreError> {
    let mut ticks: BTreeMap<u64, Vec<PublishingDecided>> = BTreeMap::new();
    for recorded in store.read_streams(&[scheduler_stream()]).await? {
        if let Ok(DomainEvent::PublishingDecided(tick)) = DomainEvent::decode(&recorded.payload) {
            ticks.entry(tick.after).or_default().push(tick);
        }
    }
    Ok(ticks)
}

/// The followers' snapshots of this build's shape, to compare.
async fn snapshots(store: &PgEventStore) -> Result<Vec<Expected>, StoreError> {
    let mut expected = vec![];
    for (name, shape) in [
        (domain::sync::ACTOR, domain::sync::SNAPSHOT_SHAPE),
        (SCHEDULER, domain::publishing::SNAPSHOT_SHAPE),
    ] {
        let Some(snapshot) = Snapshot::load(store, name).await.map_err(unreadable)? else {
            continue;
        };
        if snapshot.shape != shape || snapshot.position.0 == 0 {
            continue;
        }
        let site = if name == SCHEDULER {
            let Ok(fresh) = postcard::from_bytes::<Publishing>(&snapshot.setup) else {
                continue;
            };
            Some(fresh.site().to_owned())
        } else {
            None
        };
        expected.push(Expected { snapshot, site });
    }
    Ok(expected)
}

fn unreadable(err: store::SnapshotError) -> StoreError {
    StoreError::Backend {
        operation: "reading a snapshot",
        source: Box::new(err),
    }
}

/// Replays the whole log through the process manager from position 0 and
/// checks its hash chain. `progress(done, total)` reports events read.
pub async fn verify(
    store: &PgEventStore,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Verification, StoreError> {
    // The checkpoint is read first: every decision up to it was appended
    // before it moved, so it is in the log read after.
    let checkpoint = store.checkpoint(domain::sync::ACTOR).await?;
    let scheduler = store.checkpoint(SCHEDULER).await?;
    let total = store.head().await?;
    let mut replay = Replay {
        ticks: ticks(store).await?,
        snapshots: snapshots(store).await?,
        ..Replay::default()
    };
    let mut after = GlobalPosition(0);
    loop {
        let page = store.read_all_hashed(after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = last.global_position;
        for (recorded, hash) in &page {
            replay.check(recorded, hash.as_deref());
        }
        progress(after.0, total.0.max(after.0));
    }
    replay.finish(checkpoint, scheduler);
    let Replay {
        mut report,
        unshown,
        ..
    } = replay;
    if !unshown.is_empty() {
        let wanted: HashSet<EventId> = unshown.iter().map(|unshown| unshown.id).collect();
        let until = report
            .findings
            .iter()
            .filter_map(|finding| match finding {
                Finding::Altered { position, .. } => Some(*position),
                Finding::Missing { cause, .. } => Some(*cause),
                _ => None,
            })
            .max()
            .unwrap_or_default();
        let mut found = replayed(store, &wanted, until).await?;
        for Unshown { finding, id } in unshown {
            let json = found.remove(&id).unwrap_or(Value::Null);
            if let Some(Finding::Altered { replayed, .. } | Finding::Missing { replayed, .. }) =
                report.findings.get_mut(finding)
            {
                *replayed = json;
            }
        }
    }
    report.findings.sort_by_key(Finding::position);
    Ok(report)
}
