//! Logging in with an app password: the identifier is resolved to its DID
//! and the DID's own PDS (never a PDS the caller names), and the session is
//! created there for that DID. A successful login therefore proves that the
//! person holds the DID, which is what claiming a shadow account rests on.

use crate::egress::Unauthenticated;
use atrium_api::client::AtpServiceClient;
use atrium_api::com::atproto::server::create_session;
use atrium_api::xrpc::error::{Error as XrpcError, XrpcErrorKind};
use thiserror::Error;

use crate::credentials::{SessionKind, StoredSession};
use crate::jwt;
use crate::resolve::{ResolveError, Resolver};

/// Why a login failed.
#[derive(Debug, Error)]
pub enum LoginError {
    /// The identifier did not resolve to a DID with a PDS.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The PDS refused the identifier and password.
    #[error("{did}: the PDS at {pds} refused the login: {reason}")]
    Refused {
        /// The DID.
        did: String,
        /// Its PDS.
        pds: String,
        /// What the PDS said.
        reason: String,
    },
    /// The account exists but is not active on its PDS.
    #[error("{did}: the account is not active ({status})")]
    Inactive {
        /// The DID.
        did: String,
        /// The PDS's reason.
        status: String,
    },
    /// The PDS authenticated another DID than the one resolved.
    #[error("asked {asked}, but the PDS at {pds} authenticated {got}")]
    DidMismatch {
        /// The DID the identifier resolved to.
        asked: String,
        /// The DID the PDS answered for.
        got: String,
        /// The PDS.
        pds: String,
    },
    /// The PDS could not be reached or answered nonsense.
    #[error("{did}: the PDS at {pds} is unavailable: {reason}")]
    Unavailable {
        /// The DID.
        did: String,
        /// The PDS.
        pds: String,
        /// What failed.
        reason: String,
    },
}

/// Logs `identifier` (a handle or DID) in with `password` on its own PDS;
/// the session it returns is for the DID the PDS authenticated.
#[tracing::instrument(skip(resolver, password), fields(did))]
pub async fn log_in_with_app_password(
    resolver: &Resolver,
    identifier: &str,
    password: &str,
) -> Result<StoredSession, LoginError> {
    let resolved = resolver.resolve(identifier).await?;
    tracing::Span::current().record("did", resolved.did.as_str());
    let client = AtpServiceClient::new(Unauthenticated::new(resolver.http(), &resolved.pds));
    let input = create_session::InputData {
        allow_takendown: None,
        auth_factor_token: None,
        identifier: resolved.did.clone(),
        password: password.to_owned(),
    };
    let session = client
        .service
        .com
        .atproto
        .server
        .create_session(input.into())
        .await
        .map_err(|err| match err {
            XrpcError::XrpcResponse(response) if response.status.is_client_error() => {
                LoginError::Refused {
                    did: resolved.did.clone(),
                    pds: resolved.pds.clone(),
                    reason: match response.error {
                        Some(XrpcErrorKind::Custom(custom)) => format!("{custom:?}"),
                        Some(XrpcErrorKind::Undefined(body)) => {
                            body.message.or(body.error).unwrap_or_default()
                        }
                        None => response.status.to_string(),
                    },
                }
            }
            other => LoginError::Unavailable {
                did: resolved.did.clone(),
                pds: resolved.pds.clone(),
                reason: other.to_string(),
            },
        })?;
    if session.did.as_str() != resolved.did {
        return Err(LoginError::DidMismatch {
            asked: resolved.did,
            got: session.did.as_str().to_owned(),
            pds: resolved.pds,
        });
    }
    if session.active == Some(false) {
        return Err(LoginError::Inactive {
            did: resolved.did,
            status: session.status.clone().unwrap_or_else(|| "inactive".into()),
        });
    }
    Ok(StoredSession {
        kind: SessionKind::AppPassword,
        did: resolved.did,
        handle: session.handle.as_str().to_owned(),
        pds: resolved.pds,
        access_expires_at: jwt::expiry(&session.access_jwt),
        refresh_expires_at: jwt::expiry(&session.refresh_jwt),
        access_jwt: session.access_jwt.clone(),
        refresh_jwt: session.refresh_jwt.clone(),
        oauth: None,
    })
}
