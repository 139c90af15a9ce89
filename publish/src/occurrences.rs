//! Publishing OpenMeet events: the scheduler (`followers::scheduler`)
//! records what is due (occurrences to schedule, writes to make); the
//! publisher here carries the writes out in the owner's repository and records `OccurrencePublished`
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

use domain::external_ref::{ExternalRefLinked, LocalRef, external_ref_stream};
use domain::occurrence::details_of;
use domain::publishing::{OccurrencePublishFailed, OccurrencePublishRequested, PublishAction};
use domain::sync::{ConflictResolved, OccurrencePublished};
use domain::{Actor, DomainEvent, EventId, EventMetadata, NewEvent, Origin, RecordedEvent};
use followers::{Follow, FollowError, Follower};
use store::{EventStore, ExpectedVersion, PgEventStore, StreamAppend};
use thiserror::Error;

use crate::egress::GuardedClient;
use crate::repo::{PublishError, RepoClient, Retries, Written};
use crate::sessions::{SessionError, SessionKeeper};

/// The event collection.
pub const EVENT: &str = "community.lexicon.calendar.event";

/// The publisher's checkpoint in `process.checkpoints`.
pub const CHECKPOINT: &str = "occurrence-publisher";
/// Why publishing stopped (to be started again).
#[derive(Debug, Error)]
pub enum OccurrencePublishError {
    /// The log could not be read or appended to, a request does not
    /// decode, or another instance runs.
    #[error(transparent)]
    Follow(#[from] FollowError),
    /// Bluesky or Redis is unavailable; the write waits.
    #[error("occurrence publishing: {0}")]
    Unavailable(String),
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

/// Carries out `OccurrencePublishRequested`.
pub struct OccurrencePublisher {
    follow: Follow<PublishOccurrences>,
}

/// The publisher's steps.
pub struct PublishOccurrences {
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
        let work = PublishOccurrences {
            store: store.clone(),
            keeper,
            http,
            retries: Retries::default(),
        };
        Ok(Self {
            follow: Follow::open(store, work).await?,
        })
    }

    /// Carries out the requests up to the head of the log; returns how
    /// many.
    pub async fn run_until_idle(&mut self) -> Result<u64, OccurrencePublishError> {
        Ok(self.follow.until_idle().await?.handled)
    }

    /// Follows the log forever (or until an error).
    pub async fn follow(self) -> Result<(), OccurrencePublishError> {
        self.follow.follow().await
    }
}

impl Follower for PublishOccurrences {
    const NAME: &'static str = CHECKPOINT;
    const EFFECTS: bool = true;
    type Error = OccurrencePublishError;

    fn wants(&self, event_type: &str) -> bool {
        event_type == "OccurrencePublishRequested"
    }

    async fn step(
        &mut self,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Result<Vec<StreamAppend>, OccurrencePublishError> {
        let DomainEvent::OccurrencePublishRequested(request) = event else {
            return Ok(vec![]);
        };
        let outcome = self.carry_out(request).await?;
        Ok(record(recorded, request, outcome))
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
}

/// What to record of one request's outcome.
fn record(
    cause: &RecordedEvent,
    request: &OccurrencePublishRequested,
    outcome: Outcome,
) -> Vec<StreamAppend> {
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
    parts
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
