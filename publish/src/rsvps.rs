//! The RSVP publisher: carries out the process manager's
//! `RsvpPublishRequested` decisions by writing the RSVP record into the
//! attendee's repository with their stored session, and records the
//! outcome (`RsvpPublished`, or `RsvpPublishFailed` with the reason). Its
//! checkpoint is `rsvp-publisher` in `process.checkpoints`; an outcome's
//! event id derives from its request, so work repeated after a crash is
//! recorded once, and a write repeated after a crash is recognised on the
//! PDS (the swap fails, the record already says what we meant to write).

use chrono::Utc;
use domain::attendance::attendance_stream;
use domain::sync::{RsvpPublishFailed, RsvpPublishRequested, RsvpPublished};
use domain::{Actor, DomainEvent, EventId, EventMetadata, NewEvent, Origin, RecordedEvent};
use followers::{Follow, FollowError, Follower};
use schemas::records::{Record, StrongRef};
use store::{ExpectedVersion, PgEventStore, StreamAppend};
use thiserror::Error;

use crate::egress::GuardedClient;
use crate::repo::{PublishError, RepoClient, Retries, Written};
use crate::sessions::{SessionError, SessionKeeper};

/// The checkpoint's name in `process.checkpoints`.
pub const CHECKPOINT: &str = "rsvp-publisher";

/// The RSVP collection.
pub const RSVP: &str = "community.lexicon.calendar.rsvp";

/// Why the publisher stopped (to be started again later).
#[derive(Debug, Error)]
pub enum RsvpPublisherError {
    /// The log could not be read or appended to, a request does not
    /// decode, or another instance runs.
    #[error(transparent)]
    Follow(#[from] FollowError),
    /// Bluesky or Redis is unavailable; the request waits.
    #[error("rsvp publisher: {0}")]
    Unavailable(String),
}

/// Follows the log and publishes RSVPs.
pub struct RsvpPublisher {
    follow: Follow<PublishRsvps>,
}

/// The publisher's steps.
pub struct PublishRsvps {
    keeper: SessionKeeper,
    http: GuardedClient,
    retries: Retries,
}

impl RsvpPublisher {
    /// A publisher resuming from its checkpoint.
    pub async fn start(
        store: PgEventStore,
        keeper: SessionKeeper,
        http: GuardedClient,
    ) -> Result<Self, RsvpPublisherError> {
        let work = PublishRsvps {
            keeper,
            http,
            retries: Retries::default(),
        };
        Ok(Self {
            follow: Follow::open(store, work).await?,
        })
    }

    /// Publishes what was requested up to the head of the log; returns how
    /// many outcomes it recorded.
    pub async fn run_until_idle(&mut self) -> Result<u64, RsvpPublisherError> {
        Ok(self.follow.until_idle().await?.recorded)
    }

    /// Follows the log forever (or until an error).
    pub async fn follow(self) -> Result<(), RsvpPublisherError> {
        self.follow.follow().await
    }
}

impl Follower for PublishRsvps {
    const NAME: &'static str = CHECKPOINT;
    const EFFECTS: bool = true;
    type Error = RsvpPublisherError;

    fn wants(&self, event_type: &str) -> bool {
        event_type == "RsvpPublishRequested"
    }

    async fn step(
        &mut self,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Result<Vec<StreamAppend>, RsvpPublisherError> {
        let DomainEvent::RsvpPublishRequested(request) = event else {
            return Ok(vec![]);
        };
        let outcome = self.publish(request).await?;
        Ok(vec![record(recorded, request, outcome)])
    }
}

impl PublishRsvps {
    #[tracing::instrument(skip_all, fields(did = %request.did, rkey = %request.rkey))]
    async fn publish(
        &self,
        request: &RsvpPublishRequested,
    ) -> Result<DomainEvent, RsvpPublisherError> {
        let subject = StrongRef {
            uri: request.subject_uri.clone(),
            cid: request.subject_cid.clone(),
            extra: Default::default(),
        };
        let mut record = request.status.rsvp_record(subject).to_json();
        record["createdAt"] = Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .into();
        let written = self
            .keeper
            .with_session(request.attendee_id, &request.did, |session| {
                let record = record.clone();
                let http = self.http.clone();
                async move {
                    let repo = RepoClient::for_session(http, &session)?;
                    self.retries
                        .run(|| self.write(&repo, request, &record))
                        .await
                }
            })
            .await;
        let failed = |reason: String| {
            DomainEvent::from(RsvpPublishFailed {
                occurrence_id: request.occurrence_id,
                attendee_id: request.attendee_id,
                reason,
            })
        };
        match written {
            Ok(written) => Ok(RsvpPublished {
                occurrence_id: request.occurrence_id,
                attendee_id: request.attendee_id,
                uri: written.uri,
                cid: written.cid,
            }
            .into()),
            Err(SessionError::Unavailable { reason, .. }) => {
                Err(RsvpPublisherError::Unavailable(reason))
            }
            Err(SessionError::Publish(err)) if err.is_transient() => {
                Err(RsvpPublisherError::Unavailable(err.to_string()))
            }
            Err(err) => {
                tracing::warn!(error = %err, "an RSVP could not be published");
                Ok(failed(err.to_string()))
            }
        }
    }

    /// Writes the record; a swap refused because the record already says
    /// what we write (our own write, repeated after a crash) is success.
    async fn write(
        &self,
        repo: &RepoClient,
        request: &RsvpPublishRequested,
        record: &serde_json::Value,
    ) -> Result<Written, PublishError> {
        match repo
            .put(RSVP, &request.rkey, record, request.swap.as_deref())
            .await
        {
            Err(PublishError::SwapConflict) => {
                let (written, current) = repo.get(RSVP, &request.rkey).await?;
                let same = current["status"] == record["status"]
                    && current["subject"] == record["subject"];
                if same {
                    Ok(written)
                } else {
                    Err(PublishError::SwapConflict)
                }
            }
            outcome => outcome,
        }
    }
}

/// The outcome of `request`, to record.
fn record(
    cause: &RecordedEvent,
    request: &RsvpPublishRequested,
    outcome: DomainEvent,
) -> StreamAppend {
    let event = NewEvent {
        metadata: EventMetadata {
            event_id: EventId::caused_by(cause.metadata.event_id, "rsvp-publisher/outcome"),
            causation_id: Some(cause.metadata.event_id),
            correlation_id: cause.metadata.correlation_id,
            origin: Origin::OpenMeet,
            actor: Actor::system(CHECKPOINT),
        },
        payload: outcome.encode(),
    };
    StreamAppend {
        stream: attendance_stream(request.occurrence_id),
        expected: ExpectedVersion::Any,
        events: vec![event],
    }
}
