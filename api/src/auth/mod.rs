//! Authentication and authorization of the API. A Bluesky login (an app
//! password, see [`login`], or OAuth, see [`oauth`]) proves a DID on its
//! own PDS and yields an OpenMeet session; every write endpoint takes an
//! [`Authenticated`] caller, built from the session and the DID's identity
//! stream, and asks [`domain::access::authorize`] whether it may act.

pub mod login;
pub mod oauth;
pub mod sessions;
pub mod throttle;

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use domain::Actor;
use domain::access::{AccountKind, Action, Caller, authorize};
use domain::identity::{Identity, identity_stream};
use publish::{CredentialStore, OAuth, Resolver, SessionKeeper};

use crate::commands::replay;
use crate::{ApiError, AppState};

/// What logins and sessions need.
#[derive(Clone)]
pub struct Auth {
    /// Resolves handles and DIDs to their PDS.
    pub resolver: Resolver,
    /// Where Bluesky sessions are kept for publishing, when configured.
    pub credentials: Option<CredentialStore>,
    /// How long an OpenMeet session lasts.
    pub session_ttl: chrono::Duration,
    /// The DIDs of OpenMeet administrators.
    pub admins: Arc<HashSet<String>>,
    /// ATProto OAuth logins, when configured (they need the credential
    /// store: pending logins wait there).
    pub oauth: Option<OAuth>,
    /// How many logins a caller may start and fail.
    pub throttle: throttle::Throttle,
}

impl Auth {
    /// A session keeper over the credential store (able to refresh and
    /// revoke OAuth sessions when OAuth is configured); `None` when no
    /// credentials are kept.
    pub fn keeper(&self, store: &store::PgEventStore) -> Option<SessionKeeper> {
        let credentials = self.credentials.clone()?;
        let keeper = SessionKeeper::new(credentials, store.clone(), self.resolver.http().clone());
        Some(match &self.oauth {
            Some(oauth) => keeper.with_oauth(oauth.clone()),
            None => keeper,
        })
    }
}

/// The caller of a request, proven by its session token.
pub struct Authenticated {
    /// Who it is.
    pub caller: Caller,
    /// The token, for logout.
    pub token: String,
}

impl Authenticated {
    /// Refuses with 403 unless the caller may carry out `action`.
    pub fn may(&self, action: Action<'_>) -> Result<(), ApiError> {
        authorize(&self.caller, action).map_err(|denied| ApiError::Forbidden(denied.to_string()))
    }

    /// The actor recorded on the events this caller causes.
    pub fn actor(&self) -> Actor {
        Actor(self.caller.did.clone())
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "this endpoint needs a session: Authorization: Bearer <token>".into(),
            )
        })?;
    header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header is not a bearer token".into())
        })
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?.to_owned();
        let session = sessions::find(state.store.pool(), &token)
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized("the session token is unknown or expired".into())
            })?;
        let identity: Identity = replay(&state.store, &identity_stream(&session.did)).await?;
        let (kind, profile) = match &identity {
            Identity::Registered(profile) => (AccountKind::Full, profile),
            Identity::Shadow(profile) => (AccountKind::Shadow, profile),
            Identity::Unknown => {
                return Err(ApiError::Unauthorized(format!(
                    "no account holds {}",
                    session.did
                )));
            }
        };
        if profile.user_id != session.user_id {
            return Err(ApiError::Unauthorized(
                "the session belongs to an account that no longer holds its DID".into(),
            ));
        }
        let admin = state
            .auth
            .as_ref()
            .is_some_and(|auth| auth.admins.contains(&session.did));
        Ok(Authenticated {
            caller: Caller {
                user_id: profile.user_id,
                did: profile.did.clone(),
                kind,
                active: profile.active,
                admin,
            },
            token,
        })
    }
}

/// A caller who may come without a session: none when the request carries
/// no `Authorization`, refused (401) when it carries one that proves nothing.
impl OptionalFromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        if !parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            return Ok(None);
        }
        <Self as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// Opens a session for `did` on an operator's word rather than a PDS
/// login: for services (such as a processor calling the process
/// endpoints) whose DID is listed as an administrator. The DID gets a full
/// account when it has none; a shadow account is never taken over this way.
pub async fn operator_session(
    store: &store::PgEventStore,
    did: &str,
    ttl: chrono::Duration,
) -> Result<(String, chrono::DateTime<chrono::Utc>), ApiError> {
    let command = domain::identity::IdentityCommand::Register {
        user_id: domain::identity::UserId(uuid::Uuid::new_v4()),
        did: did.to_owned(),
        handle: None,
    };
    let stream = identity_stream(did);
    let existing: Identity = replay(store, &stream).await?;
    let state = match existing {
        Identity::Registered(_) => existing,
        _ => {
            crate::commands::execute::<Identity, _>(
                store,
                &stream,
                &command,
                &Actor::system("operator"),
                |err| ApiError::Conflict(err.to_string()),
            )
            .await?
            .state
        }
    };
    let profile = state
        .profile()
        .ok_or_else(|| ApiError::Internal(format!("{did} has no account after registering")))?;
    Ok(sessions::issue(store.pool(), profile.user_id, did, ttl).await?)
}
