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

use domain::decider::Decider;
use domain::identity::{Identity, IdentityCommand, ShadowAccountCreated, identity_stream};
use domain::{Actor, DomainEvent, EventId, EventMetadata, NewEvent, Origin, RecordedEvent};
use followers::{Follow, FollowError, Follower};
use store::decide::current;
use store::{PgEventStore, StreamAppend};
use thiserror::Error;

use crate::profile::display_name;
use crate::resolve::Resolver;

/// The checkpoint's name in `process.checkpoints`.
pub const CHECKPOINT: &str = "identity-enricher";

/// Why the enricher stopped.
#[derive(Debug, Error)]
pub enum EnrichError {
    /// The log could not be read or appended to, a new shadow account
    /// does not decode, or another instance runs.
    #[error(transparent)]
    Follow(#[from] FollowError),
    /// The identity stream could not be read.
    #[error("identity enricher: reading {stream}: {reason}")]
    Identity {
        /// The identity stream.
        stream: String,
        /// What the store said.
        reason: String,
    },
}

/// Follows the log and enriches new shadow accounts.
pub struct Enricher {
    follow: Follow<Enrich>,
}

/// The enricher's steps.
pub struct Enrich {
    store: PgEventStore,
    resolver: Resolver,
}

impl Enricher {
    /// An enricher resuming from its checkpoint.
    pub async fn start(store: PgEventStore, resolver: Resolver) -> Result<Self, EnrichError> {
        let work = Enrich {
            store: store.clone(),
            resolver,
        };
        Ok(Self {
            follow: Follow::open(store, work).await?,
        })
    }

    /// Enriches the shadow accounts up to the head of the log, and returns
    /// how many identity events it recorded.
    pub async fn run_until_idle(&mut self) -> Result<u64, EnrichError> {
        Ok(self.follow.until_idle().await?.recorded)
    }

    /// Follows the log forever (or until an error).
    pub async fn follow(self) -> Result<(), EnrichError> {
        self.follow.follow().await
    }
}

impl Follower for Enrich {
    const NAME: &'static str = CHECKPOINT;
    const EFFECTS: bool = true;
    type Error = EnrichError;

    fn wants(&self, event_type: &str) -> bool {
        event_type == "ShadowAccountCreated"
    }

    async fn step(
        &mut self,
        created: &RecordedEvent,
        event: &DomainEvent,
    ) -> Result<Vec<StreamAppend>, EnrichError> {
        match event {
            DomainEvent::ShadowAccountCreated(shadow) => self.enrich(created, shadow).await,
            _ => Ok(vec![]),
        }
    }
}

impl Enrich {
    /// What resolving the shadow account's DID adds to its identity,
    /// decided against the identity's stream as it stands (the follower
    /// takes the step again if the stream moves on before it is stored).
    #[tracing::instrument(skip_all, fields(position = %created.global_position, did = %shadow.did))]
    async fn enrich(
        &self,
        created: &RecordedEvent,
        shadow: &ShadowAccountCreated,
    ) -> Result<Vec<StreamAppend>, EnrichError> {
        let resolved = match self.resolver.resolve(&shadow.did).await {
            Ok(resolved) => resolved,
            Err(err) => {
                tracing::info!(error = %err, "the DID of a shadow account did not resolve; it keeps what the firehose gave");
                return Ok(vec![]);
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
        let (mut identity, expected) =
            current::<Identity, _>(&self.store, &stream)
                .await
                .map_err(|err| EnrichError::Identity {
                    stream: stream.to_string(),
                    reason: err.to_string(),
                })?;
        let mut events = vec![];
        for (label, command) in commands {
            let decided = match identity.decide(&command, created.recorded_at) {
                Ok(decided) => decided,
                Err(reason) => {
                    tracing::warn!(%reason, "the identity refused what its DID resolved to; nothing recorded");
                    continue;
                }
            };
            for (n, event) in decided.into_iter().enumerate() {
                identity = identity.evolve(&event);
                events.push(NewEvent {
                    metadata: EventMetadata {
                        event_id: EventId::caused_by(
                            created.metadata.event_id,
                            &format!("enrich/{label}/{n}"),
                        ),
                        causation_id: Some(created.metadata.event_id),
                        correlation_id: created.metadata.correlation_id,
                        origin: Origin::Bluesky,
                        actor: Actor("system:identity-enricher".into()),
                    },
                    payload: event.encode(),
                });
            }
        }
        if events.is_empty() {
            return Ok(vec![]);
        }
        Ok(vec![StreamAppend {
            stream,
            expected,
            events,
        }])
    }
}
