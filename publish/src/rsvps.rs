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
use schemas::records::{Record, StrongRef};
use store::{EventStore, ExpectedVersion, PgEventStore, StreamAppend};
use thiserror::Error;

use crate::checkpoint::{Cursor, Step, decoded_unless_skipped};
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
    /// The log could not be read or appended to.
    #[error("rsvp publisher: {0}")]
    Store(#[from] store::StoreError),
    /// Recording an outcome failed.
    #[error("rsvp publisher: recording the outcome of {request}: {reason}")]
    Append {
        /// The request's event id.
        request: EventId,
        /// What the store said.
        reason: String,
    },
    /// The checkpoint could not be read or moved.
    #[error("rsvp publisher: the checkpoint: {0}")]
    Checkpoint(#[from] sqlx::Error),
    /// Another instance of this runner moved the checkpoint.
    #[error(transparent)]
    Concurrent(#[from] crate::checkpoint::CheckpointMoved),
    /// A request does not decode.
    #[error(transparent)]
    Undecodable(#[from] crate::checkpoint::Undecodable),
    /// Bluesky or Redis is unavailable; the request waits.
    #[error("rsvp publisher: {0}")]
    Unavailable(String),
}

/// Follows the log and publishes RSVPs.
pub struct RsvpPublisher {
    cursor: Cursor,
    work: PublishRsvps,
}

struct PublishRsvps {
    store: PgEventStore,
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
        Ok(Self {
            cursor: Cursor::open(store.clone(), CHECKPOINT).await?,
            work: PublishRsvps {
                store,
                keeper,
                http,
                retries: Retries::default(),
            },
        })
    }

    /// Publishes what was requested up to the head of the log; returns how
    /// many outcomes it recorded.
    pub async fn run_until_idle(&mut self) -> Result<usize, RsvpPublisherError> {
        self.cursor.until_idle(&mut self.work).await
    }

    /// Follows the log forever (or until an error).
    pub async fn follow(self) -> Result<(), RsvpPublisherError> {
        self.cursor.follow(self.work).await
    }
}

impl Step for PublishRsvps {
    type Error = RsvpPublisherError;

    async fn step(&mut self, event: &RecordedEvent) -> Result<usize, RsvpPublisherError> {
        if event.payload.event_type != "RsvpPublishRequested" {
            return Ok(0);
        }
        let Some(DomainEvent::RsvpPublishRequested(request)) =
            decoded_unless_skipped::<RsvpPublisherError>(&self.store, CHECKPOINT, event).await?
        else {
            return Ok(0);
        };
        let outcome = self.publish(&request).await?;
        self.record(event, &request, outcome).await?;
        Ok(1)
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

    async fn record(
        &self,
        cause: &RecordedEvent,
        request: &RsvpPublishRequested,
        outcome: DomainEvent,
    ) -> Result<(), RsvpPublisherError> {
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
        self.store
            .append_many(vec![StreamAppend {
                stream: attendance_stream(request.occurrence_id),
                expected: ExpectedVersion::Any,
                events: vec![event],
            }])
            .await
            .map(|_| ())
            .map_err(|err| RsvpPublisherError::Append {
                request: cause.metadata.event_id,
                reason: err.to_string(),
            })
    }
}
