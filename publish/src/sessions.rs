//! Keeping a user's Bluesky session usable: refreshed before it expires
//! (and once more when the PDS says it has), one refresh at a time per user
//! across every process (a lock in Redis), and, when the PDS refuses the
//! refresh token or the session is gone, the user marked as needing to log
//! in again (`BlueskyLoginRequired`) instead of failing quietly.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::identity::{Identity, IdentityCommand, UserId, identity_stream};
use domain::{Actor, EventId, EventMetadata, Origin, Timestamp};
use store::PgEventStore;
use store::decide::{DecideError, decide_and_append};
use thiserror::Error;

use crate::egress::GuardedClient;
use uuid::Uuid;

use crate::credentials::{CredentialError, CredentialStore, StoredSession};
use crate::jwt;
use crate::oauth::OAuth;
use crate::repo::{PublishError, Xrpc};

/// Entries whose refresh token does not say when it expires stay this long.
const FALLBACK_TTL: u64 = 60 * 60;

/// Why no usable session could be had.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The user must log in again (recorded as `BlueskyLoginRequired`).
    #[error("user {user} must log in to Bluesky again: {reason}")]
    LoginRequired {
        /// The user.
        user: UserId,
        /// Why.
        reason: String,
    },
    /// The PDS or Redis is unavailable: retry later.
    #[error("the session of user {user} could not be refreshed now: {reason}")]
    Unavailable {
        /// The user.
        user: UserId,
        /// What failed.
        reason: String,
    },
    /// The call itself failed for another reason.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// Hands out usable sessions.
#[derive(Clone)]
pub struct SessionKeeper {
    credentials: CredentialStore,
    store: PgEventStore,
    http: GuardedClient,
    /// Refresh when the access token has less than this left.
    pub refresh_margin: chrono::Duration,
    /// How long a refresh may hold the lock.
    pub lock_lease: Duration,
    /// Refreshes and revokes OAuth sessions, when this process has a client.
    oauth: Option<OAuth>,
}

impl SessionKeeper {
    /// A keeper over `credentials`, recording what happens to sessions in
    /// `store`.
    pub fn new(credentials: CredentialStore, store: PgEventStore, http: GuardedClient) -> Self {
        Self {
            credentials,
            store,
            http,
            refresh_margin: chrono::Duration::minutes(5),
            lock_lease: Duration::from_secs(15),
            oauth: None,
        }
    }

    /// The same keeper, able to refresh and revoke OAuth sessions.
    pub fn with_oauth(self, oauth: OAuth) -> Self {
        Self {
            oauth: Some(oauth),
            ..self
        }
    }

    /// Stores the session of a new login of `user` and records it. The
    /// session it replaces is ended at its server: two logins leave one
    /// live Bluesky session, not two. When that server cannot be told now,
    /// the old tokens are still forgotten here and expire on their own.
    pub async fn store_new(
        &self,
        user: UserId,
        session: &StoredSession,
    ) -> Result<(), SessionError> {
        let replaced = self.credentials.get(user).await.ok().flatten();
        self.store(user, session).await?;
        if let Some(old) = replaced.filter(|old| old.refresh_jwt != session.refresh_jwt) {
            match self.revoke(user, &old).await {
                Ok(()) => {
                    tracing::info!(%user, did = %old.did, "the Bluesky session this login replaces is ended")
                }
                Err(err) => tracing::warn!(%user, did = %old.did, error = %err,
                    "the Bluesky session this login replaces could not be ended at its server; its tokens are forgotten here"),
            }
        }
        Ok(())
    }

    /// Stores `session` of `user` (a login's or a refresh's) and records it.
    /// A refresh continues the session it replaces, so nothing is revoked.
    async fn store(&self, user: UserId, session: &StoredSession) -> Result<(), SessionError> {
        self.credentials
            .put(user, session, Utc::now(), FALLBACK_TTL)
            .await
            .map_err(|err| unavailable(user, err))?;
        self.record(
            user,
            &session.did,
            IdentityCommand::StoreCredentials {
                kind: kind_name(session),
                expires_at: session.refresh_expires_at.map(Timestamp::from_datetime),
            },
        )
        .await
    }

    /// A session of `user` good for at least the refresh margin.
    pub async fn current(
        &self,
        user: UserId,
        did: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredSession, SessionError> {
        let session = self.stored(user, did).await?;
        match session.access_expires_at {
            Some(expiry) if expiry - now < self.refresh_margin => {
                self.refreshed(user, &session).await
            }
            _ => Ok(session),
        }
    }

    /// Runs `call` with a session of `user`; when the PDS says the access
    /// token expired (or, for OAuth, that it is invalid: the PDS says so of
    /// an expired DPoP token), refreshes once and runs it again.
    pub async fn with_session<T, F, Fut>(
        &self,
        user: UserId,
        did: &str,
        call: F,
    ) -> Result<T, SessionError>
    where
        F: Fn(StoredSession) -> Fut,
        Fut: Future<Output = Result<T, PublishError>>,
    {
        let session = self.current(user, did, Utc::now()).await?;
        let oauth = session.oauth.is_some();
        let stale = |err: &PublishError| match err {
            PublishError::ExpiredToken => true,
            PublishError::Unauthorized(_) => oauth,
            _ => false,
        };
        match call(session.clone()).await {
            Err(err) if stale(&err) => {
                let fresh = self.refreshed(user, &session).await?;
                Ok(call(fresh).await?)
            }
            outcome => Ok(outcome?),
        }
    }

    async fn stored(&self, user: UserId, did: &str) -> Result<StoredSession, SessionError> {
        match self.credentials.get(user).await {
            Ok(Some(session)) => Ok(session),
            Ok(None) => {
                self.login_required(
                    user,
                    did,
                    "no Bluesky session is stored (expired, or lost with Redis)",
                )
                .await
            }
            Err(CredentialError::Undecryptable(_)) => {
                self.login_required(
                    user,
                    did,
                    "the stored session does not decrypt with the configured key",
                )
                .await
            }
            Err(err) => Err(unavailable(user, err)),
        }
    }

    /// A session newer than `stale`: refreshed here, or by whoever held the
    /// lock meanwhile.
    pub async fn refreshed(
        &self,
        user: UserId,
        stale: &StoredSession,
    ) -> Result<StoredSession, SessionError> {
        let deadline = tokio::time::Instant::now() + self.lock_lease;
        loop {
            let lock = self
                .credentials
                .lock_refresh(user, self.lock_lease)
                .await
                .map_err(|err| unavailable(user, err))?;
            let current = self.stored(user, &stale.did).await?;
            // The refresh token changes with every refresh (an access token
            // issued in the same second can be byte for byte the same).
            if current.refresh_jwt != stale.refresh_jwt {
                if let Some(lock) = lock {
                    self.credentials
                        .unlock_refresh(user, &lock)
                        .await
                        .map_err(|err| unavailable(user, err))?;
                }
                return Ok(current);
            }
            if let Some(lock) = lock {
                let outcome = self.refresh(user, &current).await;
                self.credentials
                    .unlock_refresh(user, &lock)
                    .await
                    .map_err(|err| unavailable(user, err))?;
                return outcome;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(SessionError::Unavailable {
                    user,
                    reason: "another refresh of this session did not finish in time".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tracing::instrument(skip(self, session), fields(did = %session.did))]
    async fn refresh(
        &self,
        user: UserId,
        session: &StoredSession,
    ) -> Result<StoredSession, SessionError> {
        if session.oauth.is_some() {
            return self.refresh_oauth(user, session).await;
        }
        let xrpc = Xrpc::new(self.http.clone(), &session.pds, &session.refresh_jwt);
        let refreshed = match xrpc
            .client
            .service
            .com
            .atproto
            .server
            .refresh_session()
            .await
        {
            Ok(refreshed) => refreshed,
            Err(err) => {
                return match xrpc.classify(err) {
                    failure if failure.is_transient() => Err(unavailable(user, failure)),
                    failure => self.dead(user, &session.did, &failure.to_string()).await,
                };
            }
        };
        let fresh = StoredSession {
            access_expires_at: jwt::expiry(&refreshed.access_jwt),
            refresh_expires_at: jwt::expiry(&refreshed.refresh_jwt),
            access_jwt: refreshed.access_jwt.clone(),
            refresh_jwt: refreshed.refresh_jwt.clone(),
            handle: refreshed.handle.as_str().to_owned(),
            ..session.clone()
        };
        tracing::info!("Bluesky session refreshed");
        self.store(user, &fresh).await?;
        Ok(fresh)
    }

    async fn refresh_oauth(
        &self,
        user: UserId,
        session: &StoredSession,
    ) -> Result<StoredSession, SessionError> {
        let Some(oauth) = &self.oauth else {
            return Err(SessionError::Unavailable {
                user,
                reason: "this process has no OAuth client to refresh OAuth sessions with".into(),
            });
        };
        match oauth.refresh(session).await {
            Ok(fresh) => {
                tracing::info!("Bluesky OAuth session refreshed");
                self.store(user, &fresh).await?;
                Ok(fresh)
            }
            Err(err) if err.ends_session() => self.dead(user, &session.did, &err.to_string()).await,
            Err(err) => Err(unavailable(user, err)),
        }
    }

    /// Ends `user`'s Bluesky session: revokes an OAuth session at its
    /// server, forgets the stored session, and records that the user must
    /// log in again before anything is published for them. A session the
    /// server cannot be told about now is still forgotten here (its tokens
    /// then expire on their own); the error says so.
    pub async fn log_out(&self, user: UserId, did: &str) -> Result<(), SessionError> {
        // A session that does not decrypt cannot be revoked; it is only
        // forgotten.
        let stored = self.credentials.get(user).await.ok().flatten();
        let revoked = match &stored {
            Some(session) => self.revoke(user, session).await,
            None => Ok(()),
        };
        self.credentials
            .delete(user)
            .await
            .map_err(|err| unavailable(user, err))?;
        if stored.is_some() {
            self.record(
                user,
                did,
                IdentityCommand::RequireLogin {
                    reason: "logged out".into(),
                },
            )
            .await?;
        }
        revoked
    }

    /// Ends `session` at its server: an OAuth session is revoked, an
    /// app-password session deleted.
    async fn revoke(&self, user: UserId, session: &StoredSession) -> Result<(), SessionError> {
        match (&session.oauth, &self.oauth) {
            (None, _) => self.delete_app_password_session(user, session).await,
            (Some(_), Some(oauth)) => oauth
                .revoke(session)
                .await
                .map_err(|err| unavailable(user, err)),
            (Some(_), None) => Err(SessionError::Unavailable {
                user,
                reason: "this process has no OAuth client to revoke OAuth sessions with".into(),
            }),
        }
    }

    /// Ends an app-password session on its PDS (`deleteSession` with the
    /// refresh token). One the PDS no longer knows is ended already.
    async fn delete_app_password_session(
        &self,
        user: UserId,
        session: &StoredSession,
    ) -> Result<(), SessionError> {
        let xrpc = Xrpc::new(self.http.clone(), &session.pds, &session.refresh_jwt);
        match xrpc
            .client
            .service
            .com
            .atproto
            .server
            .delete_session()
            .await
        {
            Ok(()) => Ok(()),
            Err(err) => match xrpc.classify(err) {
                failure if failure.is_transient() => Err(unavailable(user, failure)),
                _ => Ok(()),
            },
        }
    }

    /// Forgets a session its server will not refresh, and records that the
    /// user must log in again.
    async fn dead<T>(&self, user: UserId, did: &str, reason: &str) -> Result<T, SessionError> {
        self.credentials
            .delete(user)
            .await
            .map_err(|err| unavailable(user, err))?;
        self.login_required(user, did, reason).await
    }

    async fn login_required<T>(
        &self,
        user: UserId,
        did: &str,
        reason: &str,
    ) -> Result<T, SessionError> {
        tracing::warn!(%user, did, reason, "Bluesky login required");
        self.record(
            user,
            did,
            IdentityCommand::RequireLogin {
                reason: reason.to_owned(),
            },
        )
        .await?;
        Err(SessionError::LoginRequired {
            user,
            reason: reason.to_owned(),
        })
    }

    /// Decides `command` on the DID's identity and appends what it records
    /// (a command the identity refuses, such as one for a shadow, records
    /// nothing).
    async fn record(
        &self,
        user: UserId,
        did: &str,
        command: IdentityCommand,
    ) -> Result<(), SessionError> {
        let decided = decide_and_append::<Identity, _>(
            &self.store,
            &identity_stream(did),
            &command,
            Timestamp::from_datetime(Utc::now()),
            |_| EventMetadata {
                event_id: EventId(Uuid::new_v4()),
                causation_id: None,
                correlation_id: None,
                origin: Origin::OpenMeet,
                actor: Actor::system("bluesky-sessions"),
            },
        )
        .await;
        match decided {
            Ok(_) | Err(DecideError::Refused(_)) => Ok(()),
            Err(err) => Err(unavailable(user, err)),
        }
    }
}

fn kind_name(session: &StoredSession) -> String {
    match session.kind {
        crate::credentials::SessionKind::AppPassword => "app-password".into(),
        crate::credentials::SessionKind::Oauth => "oauth".into(),
    }
}

fn unavailable(user: UserId, err: impl std::fmt::Display) -> SessionError {
    SessionError::Unavailable {
        user,
        reason: err.to_string(),
    }
}
