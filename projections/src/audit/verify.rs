//! `audit verify`: the whole log replayed through the process manager from
//! position 0, its decisions compared with the recorded ones, and the hash
//! chain checked, in one pass.

use std::collections::HashMap;
use std::fmt;

use domain::sync::{Command, ProcessManager, is_decision};
use domain::{DomainEvent, EventId, GlobalPosition, RecordedEvent};
use serde_json::Value;
use store::PgEventStore;
use store::postgres::chain::{ChainBreak, ChainWalk};

use crate::process::{ProcessError, checkpoint};

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
            | Finding::Altered { position, .. } => *position,
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
    /// The chain's hash at the last event, in hex.
    pub chain_tip: String,
    /// Every difference, in log order.
    pub findings: Vec<Finding>,
}

/// A decision of the replay, waiting for its recorded copy.
struct Expected {
    cause: GlobalPosition,
    command: Command,
}

fn command_json(command: &Command) -> Value {
    let metadata = &command.metadata;
    serde_json::json!({
        "stream": command.stream,
        "type": command.event.event_type(),
        "event_id": metadata.event_id,
        "causation_id": metadata.causation_id,
        "correlation_id": metadata.correlation_id,
        "origin": metadata.origin,
        "actor": metadata.actor,
        "payload": command.event.payload_json(),
    })
}

fn recorded_json(recorded: &RecordedEvent, event: &DomainEvent) -> Value {
    let metadata = &recorded.metadata;
    serde_json::json!({
        "stream": recorded.stream_id,
        "type": recorded.payload.event_type,
        "event_id": metadata.event_id,
        "causation_id": metadata.causation_id,
        "correlation_id": metadata.correlation_id,
        "origin": metadata.origin,
        "actor": metadata.actor,
        "payload": event.payload_json(),
    })
}

fn same_decision(recorded: &RecordedEvent, command: &Command) -> bool {
    recorded.stream_id == command.stream
        && recorded.metadata == command.metadata
        && recorded.payload == command.event.encode()
}

/// The replay and its bookkeeping.
#[derive(Default)]
struct Replay {
    manager: ProcessManager,
    chain: ChainWalk,
    expected: HashMap<EventId, Expected>,
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
        if is_decision(recorded) {
            match self.expected.remove(&recorded.metadata.event_id) {
                Some(expected) if same_decision(recorded, &expected.command) => {
                    report.decisions_matched += 1;
                }
                Some(expected) => report.findings.push(Finding::Altered {
                    position: recorded.global_position,
                    event_type: recorded.payload.event_type.clone(),
                    recorded: recorded_json(recorded, &event),
                    replayed: command_json(&expected.command),
                }),
                None => report.findings.push(Finding::Unexpected {
                    position: recorded.global_position,
                    event_type: recorded.payload.event_type.clone(),
                    stream: recorded.stream_id.to_string(),
                }),
            }
        }
        let (manager, decided) = std::mem::take(&mut self.manager).handle(recorded, &event);
        self.manager = manager;
        for command in decided {
            let id = command.metadata.event_id;
            let cause = recorded.global_position;
            self.expected.insert(id, Expected { cause, command });
        }
    }

    fn finish(mut self, checkpoint: GlobalPosition) -> Verification {
        let mut missing: Vec<Expected> = self.expected.into_values().collect();
        missing.sort_by_key(|expected| expected.cause);
        for expected in missing {
            if expected.cause <= checkpoint {
                self.report.findings.push(Finding::Missing {
                    cause: expected.cause,
                    replayed: command_json(&expected.command),
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
        self.report.findings.sort_by_key(Finding::position);
        self.report
    }
}

/// Replays the whole log through the process manager from position 0 and
/// checks its hash chain. `progress(done, total)` reports events read.
pub async fn verify(
    store: &PgEventStore,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Verification, ProcessError> {
    // The checkpoint is read first: every decision up to it was appended
    // before it moved, so it is in the log read after.
    let checkpoint = checkpoint(store).await?;
    let total = store::EventStore::head(store).await?;
    let mut replay = Replay::default();
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
    Ok(replay.finish(checkpoint))
}
