//! Publishing OpenMeet events: the scheduler folds the log into
//! [`Publishing`] and, at the time its clock gives, records what is due
//! (occurrences to schedule, writes to make); the publisher carries the
//! writes out in the owner's repository and records `OccurrencePublished`
//! with the link from the record to the occurrence (so the firehose echo
//! of our write is recognised, not imported again), `OccurrenceUnpublished`
//! or `OccurrencePublishFailed`.
//!
//! A write that meets a record changed by another client (the swap is
//! refused) is resolved by the rule for OpenMeet's events: OpenMeet is
//! their source of truth, so our version is written over the one seen,
//! once; a record that changes again is recorded as a failure, never
//! retried forever. The other client's version still arrives through the
//! firehose, where the process manager records the conflict.

use std::sync::Arc;

use domain::external_ref::{ExternalRefLinked, LocalRef, external_ref_stream};
use domain::occurrence::details_of;
use domain::publishing::{
    OccurrencePublishFailed, OccurrencePublishRequested, PublishAction, Publishing,
};
use domain::sync::{ConflictResolved, OccurrencePublished};
use domain::{
    Actor, DomainEvent, EventId, EventMetadata, GlobalPosition, NewEvent, Origin, RecordedEvent,
    Timestamp,
};
use store::{EventStore, ExpectedVersion, PgEventStore, StreamAppend};
use thiserror::Error;

use crate::checkpoint::{Cursor, Step, Undecodable, decoded_unless_skipped};
use crate::egress::GuardedClient;
use crate::repo::{PublishError, RepoClient, Retries, Written};
use crate::sessions::{SessionError, SessionKeeper};

/// The event collection.
pub const EVENT: &str = "community.lexicon.calendar.event";

/// The publisher's checkpoint in `process.checkpoints`.
pub const CHECKPOINT: &str = "occurrence-publisher";
/// The scheduler's name, for an operator's skip of an event it cannot
/// decode (`openmeet-sync skip-event --projection publishing-scheduler`).
pub const SCHEDULER: &str = "publishing-scheduler";

const BATCH: usize = 256;

/// Why publishing stopped (to be started again).
#[derive(Debug, Error)]
pub enum OccurrencePublishError {
    /// The log could not be read or appended to.
    #[error("occurrence publishing: {0}")]
    Store(String),
    /// The log could not be read.
    #[error("occurrence publishing: {0}")]
    Read(#[from] store::StoreError),
    /// The checkpoint could not be read or moved.
    #[error("occurrence publishing: the checkpoint: {0}")]
    Checkpoint(#[from] sqlx::Error),
    /// Another instance of this runner moved the checkpoint.
    #[error(transparent)]
    Concurrent(#[from] crate::checkpoint::CheckpointMoved),
    /// Bluesky or Redis is unavailable; the write waits.
    #[error("occurrence publishing: {0}")]
    Unavailable(String),
    /// A stored event does not decode.
    #[error(transparent)]
    Undecodable(#[from] Undecodable),
}

fn store_error(err: impl std::fmt::Display) -> OccurrencePublishError {
    OccurrencePublishError::Store(err.to_string())
}

fn metadata(event_id: EventId, cause: &RecordedEvent, actor: &str) -> EventMetadata {
    EventMetadata {
        event_id,
        causation_id: Some(cause.metadata.event_id),
        correlation_id: cause.metadata.correlation_id,
        origin: Origin::OpenMeet,
        actor: Actor::system(actor),
    }
}

/// Decides what is due, at the time its clock gives.
pub struct Scheduler {
    store: PgEventStore,
    state: Publishing,
    after: GlobalPosition,
    clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
}

impl Scheduler {
    /// A scheduler linking series pages under `site`, reading the time from
    /// `clock` (tests give it one they move).
    pub fn new(
        store: PgEventStore,
        site: &str,
        clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    ) -> Self {
        Self {
            store,
            state: Publishing::new(site),
            after: GlobalPosition(0),
            clock,
        }
    }

    /// Catches up with the log and records what is due now; returns how
    /// many decisions it recorded.
    pub async fn tick(&mut self) -> Result<usize, OccurrencePublishError> {
        loop {
            let page = self
                .store
                .read_all(self.after, BATCH)
                .await
                .map_err(store_error)?;
            if page.is_empty() {
                break;
            }
            // Moved one event at a time: a stop leaves it at the event in
            // hand, which the next tick reads again.
            for recorded in &page {
                let decoded: Option<DomainEvent> =
                    decoded_unless_skipped::<OccurrencePublishError>(
                        &self.store,
                        SCHEDULER,
                        recorded,
                    )
                    .await?;
                if let Some(event) = decoded {
                    self.state.follow(&event);
                }
                self.after = recorded.global_position;
            }
        }
        let due = self.state.due((self.clock)());
        let count = due.len();
        if count == 0 {
            return Ok(0);
        }
        let parts = due
            .iter()
            .map(|decision| StreamAppend {
                stream: decision.stream.clone(),
                expected: ExpectedVersion::Any,
                events: vec![decision.new_event()],
            })
            .collect();
        self.store.append_many(parts).await.map_err(store_error)?;
        tracing::info!(decisions = count, "publishing decisions recorded");
        Ok(count)
    }
}

/// Carries out `OccurrencePublishRequested`.
pub struct OccurrencePublisher {
    cursor: Cursor,
    work: PublishOccurrences,
}

struct PublishOccurrences {
    store: PgEventStore,
    keeper: SessionKeeper,
    http: GuardedClient,
    retries: Retries,
}

impl OccurrencePublisher {
    /// A publisher resuming from its checkpoint.
    pub async fn start(
        store: PgEventStore,
        keeper: SessionKeeper,
        http: GuardedClient,
    ) -> Result<Self, OccurrencePublishError> {
        Ok(Self {
            cursor: Cursor::open(store.clone(), CHECKPOINT).await?,
            work: PublishOccurrences {
                store,
                keeper,
                http,
                retries: Retries::default(),
            },
        })
    }

    /// Carries out the requests up to the head of the log; returns how many.
    pub async fn run_until_idle(&mut self) -> Result<usize, OccurrencePublishError> {
        self.cursor.until_idle(&mut self.work).await
    }
}

impl Step for PublishOccurrences {
    type Error = OccurrencePublishError;

    async fn step(&mut self, event: &RecordedEvent) -> Result<usize, OccurrencePublishError> {
        if event.payload.event_type != "OccurrencePublishRequested" {
            return Ok(0);
        }
        let Some(DomainEvent::OccurrencePublishRequested(request)) =
            decoded_unless_skipped::<OccurrencePublishError>(&self.store, CHECKPOINT, event)
                .await?
        else {
            return Ok(0);
        };
        let outcome = self.carry_out(&request).await?;
        self.record(event, &request, outcome).await?;
        Ok(1)
    }
}

impl PublishOccurrences {
    #[tracing::instrument(skip_all, fields(did = %request.did, rkey = %request.rkey))]
    async fn carry_out(
        &self,
        request: &OccurrencePublishRequested,
    ) -> Result<Outcome, OccurrencePublishError> {
        let outcome = self
            .keeper
            .with_session(request.account, &request.did, |session| {
                let http = self.http.clone();
                async move {
                    let repo = RepoClient::for_session(http, &session)?;
                    self.retries.run(|| self.write(&repo, request)).await
                }
            })
            .await;
        match outcome {
            Ok(outcome) => Ok(outcome),
            Err(SessionError::Unavailable { reason, .. }) => {
                Err(OccurrencePublishError::Unavailable(reason))
            }
            Err(SessionError::Publish(err)) if err.is_transient() => {
                Err(OccurrencePublishError::Unavailable(err.to_string()))
            }
            Err(err) => Ok(Outcome::Failed(err.to_string())),
        }
    }

    async fn write(
        &self,
        repo: &RepoClient,
        request: &OccurrencePublishRequested,
    ) -> Result<Outcome, PublishError> {
        match &request.action {
            PublishAction::Put { record, swap, .. } => {
                let record: serde_json::Value = serde_json::from_str(record)
                    .map_err(|err| PublishError::InvalidRecord(err.to_string()))?;
                match repo
                    .put(EVENT, &request.rkey, &record, swap.as_deref())
                    .await
                {
                    Err(PublishError::SwapConflict) => {
                        // Changed on Bluesky, or deleted there: OpenMeet's
                        // version is written over it, or written anew.
                        let (seen, overwritten) = match repo.get(EVENT, &request.rkey).await {
                            Ok((seen, theirs)) => {
                                let before = match swap {
                                    Some(cid) => self.written_as(request, cid).await,
                                    None => None,
                                };
                                let fields =
                                    overwritten_fields(request, before.as_ref(), &record, &theirs);
                                (Some(seen.cid), fields)
                            }
                            Err(PublishError::NotFound) => (None, vec![]),
                            Err(err) => return Err(err),
                        };
                        tracing::warn!(
                            ?seen,
                            fields = overwritten.len(),
                            "the record changed on Bluesky; OpenMeet's version is written over it"
                        );
                        match repo
                            .put(EVENT, &request.rkey, &record, seen.as_deref())
                            .await
                        {
                            Err(PublishError::SwapConflict) => Ok(Outcome::Failed(
                                "the record keeps changing on Bluesky; it was not written".into(),
                            )),
                            written => {
                                written.map(|written| Outcome::Written(written, overwritten))
                            }
                        }
                    }
                    written => written.map(|written| Outcome::Written(written, vec![])),
                }
            }
            PublishAction::Delete { swap } => {
                match repo.delete(EVENT, &request.rkey, swap.as_deref()).await {
                    Ok(()) | Err(PublishError::NotFound) => Ok(Outcome::Deleted),
                    Err(PublishError::SwapConflict) => repo
                        .delete(EVENT, &request.rkey, None)
                        .await
                        .map(|_| Outcome::Deleted),
                    Err(err) => Err(err),
                }
            }
        }
    }

    /// The record we wrote as version `cid` of `request`'s record, as the
    /// occurrence's stream tells (the request that the publication of that
    /// version answered); none when the stream cannot be read (then every
    /// field the other client's version says otherwise counts as theirs).
    async fn written_as(&self, request: &OccurrencePublishRequested, cid: &str) -> Option<String> {
        let history = match self
            .store
            .read_streams(&[request.occurrence_id.stream()])
            .await
        {
            Ok(history) => history,
            Err(err) => {
                tracing::warn!(error = %err, "our last version of the record could not be read");
                return None;
            }
        };
        let mut asked = None;
        for recorded in &history {
            match DomainEvent::decode(&recorded.payload) {
                Ok(DomainEvent::OccurrencePublishRequested(OccurrencePublishRequested {
                    action: PublishAction::Put { record, .. },
                    ..
                })) => asked = Some(record),
                Ok(DomainEvent::OccurrencePublished(published)) if published.cid == cid => {
                    return asked;
                }
                _ => {}
            }
        }
        None
    }

    async fn record(
        &self,
        cause: &RecordedEvent,
        request: &OccurrencePublishRequested,
        outcome: Outcome,
    ) -> Result<(), OccurrencePublishError> {
        let id = |label: &str| EventId::caused_by(cause.metadata.event_id, label);
        let mut parts = vec![];
        let mut part = |stream, event_id, event: DomainEvent| {
            parts.push(StreamAppend {
                stream,
                expected: ExpectedVersion::Any,
                events: vec![NewEvent {
                    metadata: metadata(event_id, cause, CHECKPOINT),
                    payload: event.encode(),
                }],
            })
        };
        match outcome {
            Outcome::Written(written, overwritten) => {
                for decision in overwritten {
                    let label = format!("overwrote/{}", decision.resolved.field());
                    part(request.occurrence_id.stream(), id(&label), decision.into());
                }
                let checksum = match &request.action {
                    PublishAction::Put { checksum, .. } => checksum.clone(),
                    PublishAction::Delete { .. } => String::new(),
                };
                part(
                    request.occurrence_id.stream(),
                    id("published"),
                    OccurrencePublished {
                        occurrence_id: request.occurrence_id,
                        uri: written.uri.clone(),
                        cid: written.cid.clone(),
                        checksum,
                    }
                    .into(),
                );
                part(
                    external_ref_stream(&written.uri),
                    id("link"),
                    ExternalRefLinked {
                        uri: written.uri,
                        cid: Some(written.cid),
                        target: LocalRef::Occurrence(request.occurrence_id),
                    }
                    .into(),
                );
            }
            Outcome::Deleted => part(
                request.occurrence_id.stream(),
                id("unpublished"),
                domain::publishing::OccurrenceUnpublished {
                    occurrence_id: request.occurrence_id,
                    rkey: request.rkey.clone(),
                }
                .into(),
            ),
            Outcome::Failed(reason) => part(
                request.occurrence_id.stream(),
                id("failed"),
                OccurrencePublishFailed {
                    occurrence_id: request.occurrence_id,
                    reason,
                }
                .into(),
            ),
        }
        self.store
            .append_many(parts)
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}

/// What a write of `ours` over another client's version of the record
/// (`theirs`, made from our last version, `before`) decides, field by
/// field: OpenMeet's value, kept (the rule is `domain::sync::overwritten`).
/// None when ours or theirs does not map.
fn overwritten_fields(
    request: &OccurrencePublishRequested,
    before: Option<&String>,
    ours: &serde_json::Value,
    theirs: &serde_json::Value,
) -> Vec<ConflictResolved> {
    let uri = format!("at://{}/{EVENT}/{}", request.did, request.rkey);
    let (Ok(ours), Ok(theirs)) = (
        details_of(&uri, &ours.to_string()),
        details_of(&uri, &theirs.to_string()),
    ) else {
        return vec![];
    };
    let before = before.and_then(|before| details_of(&uri, before).ok());
    domain::sync::overwritten(before.as_ref(), &ours, &theirs)
        .into_iter()
        .map(|resolution| {
            let in_effect = resolution.openmeet.clone();
            resolution.decided_for(request.occurrence_id, in_effect)
        })
        .collect()
}

/// What became of one request.
enum Outcome {
    /// Written, over the fields of another client's version it names.
    Written(Written, Vec<ConflictResolved>),
    Deleted,
    Failed(String),
}
