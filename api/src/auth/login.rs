//! `POST /api/auth/bluesky/app-password`, `POST /api/auth/logout` and
//! `GET /api/auth/session`.
//!
//! A login resolves the identifier to its DID and the DID's own PDS, and
//! creates a session there; only then is the DID's identity asked to log
//! in, which registers a new account or claims the DID's shadow account.
//! Nothing the caller says (a handle, a name) can select an account: only
//! the DID the PDS authenticated.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::identity::{Identity, IdentityCommand, IdentityError, UserId, identity_stream};
use publish::{LoginError, StoredSession};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::throttle::ClientAddress;
use super::{Auth, Authenticated, sessions};
use crate::body::JsonObject;
use crate::commands::execute;
use crate::{ApiError, AppState};

/// An app-password login.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct AppPasswordLogin {
    /// A handle (`alice.bsky.social`) or a DID.
    #[schema(
        pattern = "^(did:[a-z]+:[a-zA-Z0-9._:%-]{0,64}[a-zA-Z0-9._-]|([a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?\\.){1,6}[a-zA-Z]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?)$"
    )]
    pub identifier: String,
    /// An app password of that account.
    pub password: String,
}

/// A new OpenMeet session.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// The bearer token for the API; shown once.
    pub token: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// The OpenMeet account.
    pub user_id: Uuid,
    /// The DID the PDS authenticated.
    pub did: String,
    /// The handle the PDS reported.
    pub handle: String,
    /// True when this login claimed the DID's shadow account.
    pub claimed_shadow: bool,
    /// True when this login created the account.
    pub registered: bool,
    /// The global position of the last event this login recorded, for
    /// `?after=` reads.
    pub position: Option<u64>,
}

/// Who a session belongs to.
#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    /// The account.
    pub user_id: Uuid,
    /// Its DID.
    pub did: String,
    /// True for an OpenMeet administrator.
    pub admin: bool,
}

pub(crate) fn auth(state: &AppState) -> Result<&Auth, ApiError> {
    state.auth.as_ref().ok_or_else(|| {
        ApiError::Unavailable("this server was started without Bluesky login".into())
    })
}

fn refused(err: LoginError) -> ApiError {
    match err {
        LoginError::Unavailable { .. } => ApiError::Unavailable(err.to_string()),
        LoginError::Inactive { .. } => ApiError::Forbidden(err.to_string()),
        LoginError::Resolve(_) | LoginError::Refused { .. } | LoginError::DidMismatch { .. } => {
            ApiError::Unauthorized(err.to_string())
        }
    }
}

/// Logs in with a Bluesky handle or DID and an app password. Registers the
/// DID's account on its first login, or claims its shadow account. Logins
/// are rate-limited per address and per handle, started and failed (429
/// with `Retry-After`).
#[utoipa::path(post, path = "/api/auth/bluesky/app-password", request_body = AppPasswordLogin,
    responses((status = 200, body = SessionView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(identifier = %request.identifier, %address))]
pub async fn app_password(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonObject(request): JsonObject<AppPasswordLogin>,
) -> Result<Json<SessionView>, ApiError> {
    let auth = auth(&state)?;
    auth.throttle.admit(address, &request.identifier).await?;
    let login =
        publish::log_in_with_app_password(&auth.resolver, &request.identifier, &request.password)
            .await
            .map_err(refused);
    let login = match login {
        Ok(login) => login,
        Err(refusal) => {
            if matches!(refusal, ApiError::Unauthorized(_)) {
                auth.throttle
                    .failed(address, Some(&request.identifier))
                    .await;
            }
            return Err(refusal);
        }
    };
    Ok(Json(open_session(&state, auth, login).await?))
}

/// After a login proved `login.did` on its PDS: asks the DID's identity to
/// log in (registering the account, or claiming its shadow), keeps the
/// Bluesky session for publishing, and opens an OpenMeet session.
pub(crate) async fn open_session(
    state: &AppState,
    auth: &Auth,
    login: StoredSession,
) -> Result<SessionView, ApiError> {
    let display_name = publish::display_name(&auth.resolver, &login.did, &login.pds).await;
    let command = IdentityCommand::LogIn {
        new_user_id: UserId(Uuid::new_v4()),
        did: login.did.clone(),
        handle: Some(login.handle.clone()),
        display_name,
    };
    let recorded = execute::<Identity, _>(
        &state.store,
        &identity_stream(&login.did),
        &command,
        &domain::Actor(login.did.clone()),
        |err: IdentityError| ApiError::Conflict(err.to_string()),
    )
    .await?;
    let profile = recorded.state.profile().ok_or_else(|| {
        ApiError::Internal(format!("{} has no account after its login", login.did))
    })?;
    let user_id = profile.user_id;
    if let Some(keeper) = auth.keeper(&state.store) {
        keeper
            .store_new(user_id, &login)
            .await
            .map_err(|err| ApiError::Unavailable(format!("the credential store: {err}")))?;
    }
    let (token, expires_at) =
        sessions::issue(state.store.pool(), user_id, &login.did, auth.session_ttl).await?;
    let has = |name: &str| recorded.events.iter().any(|e| e.event_type() == name);
    tracing::info!(did = %login.did, %user_id, kind = ?login.kind, claimed = has("ShadowClaimed"), "logged in");
    Ok(SessionView {
        token,
        expires_at,
        user_id: user_id.0,
        did: login.did,
        handle: login.handle,
        claimed_shadow: has("ShadowClaimed"),
        registered: has("AccountRegistered"),
        position: recorded.position,
    })
}

/// Ends the caller's OpenMeet session and their Bluesky session: an OAuth
/// session is revoked at its server, and the stored session is forgotten,
/// so nothing is published for them until they log in again. When the
/// server cannot be reached, the OpenMeet session still ends and the answer
/// is 503 saying the tokens were only forgotten here.
#[utoipa::path(post, path = "/api/auth/logout",
    responses((status = 204), (status = 401, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<StatusCode, ApiError> {
    sessions::revoke(state.store.pool(), &caller.token).await?;
    let keeper = state
        .auth
        .as_ref()
        .and_then(|auth| auth.keeper(&state.store));
    if let Some(keeper) = keeper {
        keeper
            .log_out(caller.caller.user_id, &caller.caller.did)
            .await
            .map_err(|err| {
                ApiError::Unavailable(format!(
                    "logged out of OpenMeet; the Bluesky session is forgotten here but could not be revoked: {err}"
                ))
            })?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Who the session belongs to.
#[utoipa::path(get, path = "/api/auth/session",
    responses((status = 200, body = WhoAmI), (status = 401, body = crate::error::ErrorBody)))]
pub async fn whoami(caller: Authenticated) -> Result<Json<WhoAmI>, ApiError> {
    Ok(Json(WhoAmI {
        user_id: caller.caller.user_id.0,
        did: caller.caller.did.clone(),
        admin: caller.caller.admin,
    }))
}
