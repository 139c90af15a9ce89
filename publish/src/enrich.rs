//! Fills in what a shadow account was created without: the firehose names
//! only a DID, so after `ShadowAccountCreated` this runner resolves the
//! DID document (the handle it claims, when the handle resolves back) and
//! reads the account's profile (the display name), and records what it
//! found on the identity stream. It runs beside ingest, never in its path:
//! a slow PDS delays a display name, not the firehose.
//!
//! Its checkpoint is `identity-enricher` in `process.checkpoints`; an
//! event id derives from its cause, so work repeated after a crash is
//! written once.

use domain::identity::{Identity, IdentityCommand, identity_stream};
use domain::{Actor, DomainEvent, EventId, EventMetadata, Origin, RecordedEvent};
use store::decide::{DecideError, decide_and_append};
use store::{PgEventStore, StoreError};
use thiserror::Error;

use crate::checkpoint::{Cursor, Step, decoded_unless_skipped};
use crate::profile::display_name;
use crate::resolve::Resolver;

/// The checkpoint's name in `process.checkpoints`.
pub const CHECKPOINT: &str = "identity-enricher";

/// Why the enricher stopped.
#[derive(Debug, Error)]
pub enum EnrichError {
    /// The log could not be read or appended to.
    #[error("identity enricher: {0}")]
    Store(#[from] StoreError),
    /// Appending what was found failed.
    #[error("identity enricher: appending to {stream}: {reason}")]
    Append {
        /// The identity stream.
        stream: String,
        /// What the store said.
        reason: String,
    },
    /// The checkpoint could not be read or moved.
    #[error("identity enricher: the checkpoint: {0}")]
    Checkpoint(#[from] sqlx::Error),
    /// Another instance of this runner moved the checkpoint.
    #[error(transparent)]
    Concurrent(#[from] crate::checkpoint::CheckpointMoved),
    /// A new shadow account does not decode.
    #[error(transparent)]
    Undecodable(#[from] crate::checkpoint::Undecodable),
}

/// Follows the log and enriches new shadow accounts.
pub struct Enricher {
    cursor: Cursor,
    work: Enrich,
}

struct Enrich {
    store: PgEventStore,
    resolver: Resolver,
}

impl Enricher {
    /// An enricher resuming from its checkpoint.
    pub async fn start(store: PgEventStore, resolver: Resolver) -> Result<Self, EnrichError> {
        Ok(Self {
            cursor: Cursor::open(store.clone(), CHECKPOINT).await?,
            work: Enrich { store, resolver },
        })
    }

    /// Enriches the shadow accounts up to the head of the log, and returns
    /// how many identity events it recorded.
    pub async fn run_until_idle(&mut self) -> Result<usize, EnrichError> {
        self.cursor.until_idle(&mut self.work).await
    }

    /// Follows the log forever (or until an error).
    pub async fn follow(self) -> Result<(), EnrichError> {
        self.cursor.follow(self.work).await
    }
}

impl Step for Enrich {
    type Error = EnrichError;

    async fn step(&mut self, event: &RecordedEvent) -> Result<usize, EnrichError> {
        if event.payload.event_type == "ShadowAccountCreated" {
            self.enrich(event).await
        } else {
            Ok(0)
        }
    }
}

impl Enrich {
    #[tracing::instrument(skip_all, fields(position = %created.global_position, did))]
    async fn enrich(&self, created: &RecordedEvent) -> Result<usize, EnrichError> {
        let Some(DomainEvent::ShadowAccountCreated(shadow)) =
            decoded_unless_skipped::<EnrichError>(&self.store, CHECKPOINT, created).await?
        else {
            return Ok(0);
        };
        tracing::Span::current().record("did", shadow.did.as_str());
        let resolved = match self.resolver.resolve(&shadow.did).await {
            Ok(resolved) => resolved,
            Err(err) => {
                tracing::info!(error = %err, "the DID of a shadow account did not resolve; it keeps what the firehose gave");
                return Ok(0);
            }
        };
        let name = display_name(&self.resolver, &resolved.did, &resolved.pds).await;
        let stream = identity_stream(&shadow.did);
        let mut commands = Vec::new();
        if let Some(handle) = resolved.handle {
            commands.push(("handle", IdentityCommand::ChangeHandle(handle)));
        }
        if name.is_some() {
            commands.push(("display-name", IdentityCommand::ChangeDisplayName(name)));
        }
        let mut count = 0;
        for (label, command) in commands {
            let decided = decide_and_append::<Identity, _>(
                &self.store,
                &stream,
                &command,
                created.recorded_at,
                |n| EventMetadata {
                    event_id: EventId::caused_by(
                        created.metadata.event_id,
                        &format!("enrich/{label}/{n}"),
                    ),
                    causation_id: Some(created.metadata.event_id),
                    correlation_id: created.metadata.correlation_id,
                    origin: Origin::Bluesky,
                    actor: Actor("system:identity-enricher".into()),
                },
            )
            .await;
            match decided {
                Ok(decided) => count += decided.events.len(),
                Err(DecideError::Refused(reason)) => {
                    tracing::warn!(%reason, "the identity refused what its DID resolved to; nothing recorded");
                }
                Err(err) => {
                    return Err(EnrichError::Append {
                        stream: stream.to_string(),
                        reason: err.to_string(),
                    });
                }
            }
        }
        Ok(count)
    }
}
