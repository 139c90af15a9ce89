//! Logging in with ATProto OAuth: a pushed authorization request with
//! PKCE (S256) and DPoP (ES256, a fresh key per session), the callback's
//! checks (`state`, `iss`, the code exchange, `sub` against the DID we
//! asked for, and the DID's PDS pointing back to the issuer), refresh and
//! revocation. The sessions it yields go into the same credential store as
//! app-password sessions and serve publishing the same way.

mod client;
mod flow;
mod keys;
mod server;

use thiserror::Error;

pub use client::{CALLBACK_PATH, METADATA_PATH, OAuthClient, SCOPE};
pub use flow::{Callback, OAuth};
pub use keys::ClientKey;
pub(crate) use server::dpop_client;

use crate::credentials::CredentialError;
use crate::resolve::ResolveError;

/// Why an OAuth step failed.
#[derive(Debug, Error)]
pub enum OAuthError {
    /// The client is misconfigured.
    #[error("OAuth configuration: {0}")]
    Config(String),
    /// The handle or DID did not resolve to a PDS.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The PDS or its authorization server did not describe itself usably.
    #[error("OAuth discovery at {url}: {reason}")]
    Discovery {
        /// What was asked.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The authorization server refused a request.
    #[error("the authorization server refused the {endpoint} request: {error}{}",
        description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// Which endpoint.
        endpoint: &'static str,
        /// The OAuth error code (`invalid_grant`, …).
        error: String,
        /// The server's explanation.
        description: Option<String>,
    },
    /// The authorization server could not be reached, or failed.
    #[error("the authorization server's {endpoint} endpoint is unavailable: {reason}")]
    Unavailable {
        /// Which endpoint.
        endpoint: &'static str,
        /// What failed.
        reason: String,
    },
    /// The callback names no login we started (unknown, expired or
    /// already used `state`).
    #[error("no pending login has this state (unknown, expired or already used)")]
    UnknownState,
    /// The callback is not a valid authorization response.
    #[error("the callback is malformed: {0}")]
    BadCallback(String),
    /// The user or the server declined the authorization.
    #[error("the authorization was declined: {error}{}",
        description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Declined {
        /// The OAuth error code (`access_denied`, …).
        error: String,
        /// The server's explanation.
        description: Option<String>,
    },
    /// The callback's `iss` is not the server the login was sent to.
    #[error("the callback comes from issuer {got:?}, but the login was sent to {expected}")]
    IssuerMismatch {
        /// The server we sent the login to.
        expected: String,
        /// What the callback says.
        got: Option<String>,
    },
    /// The tokens are for another DID than the one the login was for.
    #[error("the login was for {expected}, but the server authenticated {got}")]
    SubjectMismatch {
        /// The DID we asked for.
        expected: String,
        /// The DID in the token response.
        got: String,
    },
    /// The DID's PDS does not name this authorization server.
    #[error("{did}: its PDS names {authority} as its authorization server, not {issuer}")]
    NotAuthoritative {
        /// The DID.
        did: String,
        /// The server the DID's PDS names.
        authority: String,
        /// The server that issued the tokens.
        issuer: String,
    },
    /// The credential store failed.
    #[error(transparent)]
    Store(#[from] CredentialError),
}

impl OAuthError {
    /// True when the session cannot be used any more (the user must log in
    /// again), rather than a failure that may pass.
    pub fn ends_session(&self) -> bool {
        match self {
            OAuthError::Refused { error, .. } => {
                matches!(
                    error.as_str(),
                    "invalid_grant" | "invalid_client" | "unauthorized_client"
                )
            }
            OAuthError::NotAuthoritative { .. } | OAuthError::SubjectMismatch { .. } => true,
            _ => false,
        }
    }
}
