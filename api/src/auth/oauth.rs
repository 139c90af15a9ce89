//! `GET /api/auth/bluesky/login`, `GET /api/auth/bluesky/callback` and
//! `GET /oauth/client-metadata.json`: logging in with ATProto OAuth.
//!
//! The login resolves the handle or DID to its PDS and authorization
//! server and redirects the browser there; the callback checks the answer
//! (see [`publish::oauth`]) and then logs the DID in exactly as an
//! app-password login does: registering its account or claiming its
//! shadow, keeping the session for publishing, and answering with the
//! OpenMeet session.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use publish::{Callback, OAuth, OAuthError, ResolveError};
use serde::Deserialize;
use utoipa::IntoParams;

use super::login::{SessionView, auth, open_session};
use super::throttle::ClientAddress;
use crate::{ApiError, AppState};

/// Who logs in.
#[derive(Deserialize, IntoParams)]
pub struct LoginQuery {
    /// A handle (`alice.bsky.social`) or a DID.
    #[param(
        pattern = "^(did:[a-z]+:[a-zA-Z0-9._:%-]{0,64}[a-zA-Z0-9._-]|([a-zA-Z0-9]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?\\.){1,6}[a-zA-Z]([a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?)$"
    )]
    pub handle: String,
}

fn oauth(state: &AppState) -> Result<&OAuth, ApiError> {
    auth(state)?.oauth.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "this server has no OAuth client: OAuth login needs CREDENTIALS_KEY (pending logins and sessions are kept encrypted in Redis)".into(),
        )
    })
}

fn refused(err: OAuthError) -> ApiError {
    match err {
        OAuthError::Unavailable { .. } | OAuthError::Store(_) => {
            ApiError::Unavailable(err.to_string())
        }
        OAuthError::Config(_) => ApiError::Internal(err.to_string()),
        OAuthError::Resolve(ResolveError::NotAnIdentifier(_))
        | OAuthError::Discovery { .. }
        | OAuthError::BadCallback(_) => ApiError::BadRequest(err.to_string()),
        // As an app-password login: an identity that cannot be found, or a
        // callback that proves no login started here, authenticates no one.
        OAuthError::Resolve(_)
        | OAuthError::UnknownState
        | OAuthError::IssuerMismatch { .. }
        | OAuthError::Refused { .. }
        | OAuthError::Declined { .. }
        | OAuthError::SubjectMismatch { .. }
        | OAuthError::NotAuthoritative { .. } => ApiError::Unauthorized(err.to_string()),
    }
}

/// Starts an OAuth login: redirects (303) to the account's authorization
/// server. Rate-limited like app-password logins, which it counts with.
#[utoipa::path(get, path = "/api/auth/bluesky/login", params(LoginQuery),
    responses((status = 303, description = "to the authorization server"),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody, description = "the handle or DID does not resolve to an account"),
        (status = 429, body = crate::error::ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(handle = %query.handle, %address))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Query(query): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    let oauth = oauth(&state)?;
    auth(&state)?.throttle.admit(address, &query.handle).await?;
    let url = oauth.begin(query.handle.trim()).await.map_err(refused)?;
    Ok((axum::http::StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response())
}

/// Finishes an OAuth login: the OpenMeet session of the DID the server
/// authenticated. A refused callback leaves no session anywhere, and
/// counts as a failed login of the caller's address.
#[utoipa::path(get, path = "/api/auth/bluesky/callback",
    params(
        ("code" = Option<String>, Query, description = "the authorization code"),
        ("state" = String, Query, description = "the state the login was started with"),
        ("iss" = Option<String>, Query, description = "the issuer that answers (RFC 9207)"),
        ("error" = Option<String>, Query, description = "an error instead of a code (access_denied, …)"),
        ("error_description" = Option<String>, Query, description = "the error's explanation"),
    ),
    responses((status = 200, body = SessionView), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody, headers(("Retry-After" = u64, description = "seconds to wait"))),
        (status = 503, body = crate::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(%address))]
pub async fn callback(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Query(callback): Query<Callback>,
) -> Result<Json<SessionView>, ApiError> {
    let oauth = oauth(&state)?;
    let auth = auth(&state)?;
    auth.throttle.check(address).await?;
    let login = match oauth.complete(callback).await {
        Ok(login) => login,
        Err(err) => {
            tracing::warn!(error = %err, "OAuth callback refused");
            let refusal = refused(err);
            if matches!(refusal, ApiError::BadRequest(_) | ApiError::Unauthorized(_)) {
                auth.throttle.failed(address, None).await;
            }
            return Err(refusal);
        }
    };
    Ok(Json(open_session(&state, auth, login).await?))
}

/// This client's metadata document (with its JWKS when it is a
/// confidential client).
#[utoipa::path(get, path = "/oauth/client-metadata.json",
    responses((status = 200, description = "the OAuth client metadata"),
        (status = 503, body = crate::error::ErrorBody)))]
pub async fn client_metadata(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(oauth(&state)?.client().metadata()).into_response())
}
