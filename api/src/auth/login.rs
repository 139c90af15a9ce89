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
use publish::{LoginError, SessionKeeper, StoredSession};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Auth, Authenticated, sessions};
use crate::commands::execute;
use crate::{ApiError, AppState};

/// An app-password login.
#[derive(Deserialize, ToSchema)]
pub struct AppPasswordLogin {
    /// A handle (`alice.bsky.social`) or a DID.
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

fn auth(state: &AppState) -> Result<&Auth, ApiError> {
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
/// DID's account on its first login, or claims its shadow account.
#[utoipa::path(post, path = "/api/auth/bluesky/app-password", request_body = AppPasswordLogin,
    responses((status = 200, body = SessionView), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(identifier = %request.identifier))]
pub async fn app_password(
    State(state): State<AppState>,
    Json(request): Json<AppPasswordLogin>,
) -> Result<Json<SessionView>, ApiError> {
    let auth = auth(&state)?;
    let login =
        publish::log_in_with_app_password(&auth.resolver, &request.identifier, &request.password)
            .await
            .map_err(refused)?;
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
    store_credentials(&state, auth, user_id, &login).await?;
    let (token, expires_at) =
        sessions::issue(state.store.pool(), user_id, &login.did, auth.session_ttl).await?;
    let has = |name: &str| recorded.events.iter().any(|e| e.event_type() == name);
    tracing::info!(did = %login.did, %user_id, claimed = has("ShadowClaimed"), "logged in");
    Ok(Json(SessionView {
        token,
        expires_at,
        user_id: user_id.0,
        did: login.did,
        handle: login.handle,
        claimed_shadow: has("ShadowClaimed"),
        registered: has("AccountRegistered"),
        position: recorded.position,
    }))
}

/// Keeps the Bluesky session for publishing, and records that it is kept.
async fn store_credentials(
    state: &AppState,
    auth: &Auth,
    user_id: UserId,
    session: &StoredSession,
) -> Result<(), ApiError> {
    let Some(credentials) = &auth.credentials else {
        return Ok(());
    };
    SessionKeeper::new(
        credentials.clone(),
        state.store.clone(),
        auth.resolver.http().clone(),
    )
    .store_new(user_id, session)
    .await
    .map_err(|err| ApiError::Unavailable(format!("the credential store: {err}")))
}

/// Ends the caller's OpenMeet session.
#[utoipa::path(post, path = "/api/auth/logout",
    responses((status = 204), (status = 401, body = crate::error::ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<StatusCode, ApiError> {
    sessions::revoke(state.store.pool(), &caller.token).await?;
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
