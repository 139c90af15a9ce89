//! The login flow and the life of its sessions. A login is started with a
//! handle or DID; what the callback needs to finish it (the DID asked for,
//! the issuer, the DPoP key, the PKCE verifier) waits in Redis, sealed
//! like the credentials, under its `state`, and is taken once: a second
//! callback with the same state finds nothing.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jose_jwk::Key;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::OAuthError;
use super::client::{OAuthClient, SCOPE};
use super::keys::{dpop_key, random_token};
use super::server::{AuthServer, TokenResponse, issuer_of, server_metadata};
use crate::credentials::{CredentialStore, OauthBinding, SessionKind, StoredSession};
use crate::egress::GuardedClient;
use crate::resolve::Resolver;

/// How long the server keeps a public client's session at most (the
/// atproto OAuth profile's limit; the server does not say per token).
const PUBLIC_SESSION: chrono::Duration = chrono::Duration::days(14);

/// The same for a confidential client (one refresh token's lifetime).
const CONFIDENTIAL_SESSION: chrono::Duration = chrono::Duration::days(90);

/// A login waiting for its callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    did: String,
    issuer: String,
    dpop_key: Key,
    verifier: String,
}

/// The query of the callback (RFC 6749 §4.1.2, RFC 9207's `iss`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The state the login was started with.
    pub state: Option<String>,
    /// The issuer that answers.
    pub iss: Option<String>,
    /// An error instead of a code.
    pub error: Option<String>,
    /// The error's explanation.
    pub error_description: Option<String>,
}

/// Logins and their sessions.
#[derive(Clone)]
pub struct OAuth {
    client: Arc<OAuthClient>,
    resolver: Resolver,
    store: CredentialStore,
    /// How long a started login waits for its callback.
    pub pending_ttl: Duration,
}

fn pending_key(state: &str) -> String {
    format!("bluesky:oauth:pending:{state}")
}

/// A state we could have issued: base64url, 22 characters.
fn well_formed(state: &str) -> bool {
    state.len() == 22
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl OAuth {
    /// Logins as `client`, resolving identities with `resolver`, keeping
    /// pending logins in `store`.
    pub fn new(client: OAuthClient, resolver: Resolver, store: CredentialStore) -> Self {
        Self {
            client: Arc::new(client),
            resolver,
            store,
            pending_ttl: Duration::from_secs(600),
        }
    }

    /// The client this logs in as.
    pub fn client(&self) -> &OAuthClient {
        &self.client
    }

    fn http(&self) -> &GuardedClient {
        self.resolver.http()
    }

    /// A conversation with `issuer` (its metadata read now), proving
    /// possession of `key`.
    async fn server(&self, issuer: &str, key: &Key) -> Result<AuthServer<'_>, OAuthError> {
        let metadata = server_metadata(self.http(), issuer).await?;
        AuthServer::new(metadata, &self.client, key, self.http().clone())
    }

    /// Starts a login of `identifier` (a handle or DID): resolves it to
    /// its PDS and authorization server, pushes the authorization request,
    /// and returns the URL to send the browser to.
    #[tracing::instrument(skip(self), fields(did))]
    pub async fn begin(&self, identifier: &str) -> Result<String, OAuthError> {
        let resolved = self.resolver.resolve(identifier).await?;
        tracing::Span::current().record("did", resolved.did.as_str());
        let issuer = issuer_of(self.http(), &resolved.pds).await?;
        let key = dpop_key();
        let server = self.server(&issuer, &key).await?;
        let algs = &server.metadata.dpop_signing_alg_values_supported;
        if !algs.is_empty() && !algs.iter().any(|alg| alg == "ES256") {
            return Err(OAuthError::Discovery {
                url: issuer,
                reason: format!("it accepts no ES256 DPoP proofs ({})", algs.join(", ")),
            });
        }
        let verifier = random_token(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_token(16);
        let request_uri = server
            .push(&[
                ("response_type", "code"),
                ("redirect_uri", self.client.redirect_uri()),
                ("scope", SCOPE),
                ("state", &state),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("login_hint", identifier),
            ])
            .await?;
        let pending = Pending {
            did: resolved.did,
            issuer,
            dpop_key: key,
            verifier,
        };
        self.store
            .put_sealed(&pending_key(&state), &pending, self.pending_ttl)
            .await?;
        let mut url = Url::parse(&server.metadata.authorization_endpoint).map_err(|err| {
            OAuthError::Discovery {
                url: server.metadata.authorization_endpoint.clone(),
                reason: format!("the authorization endpoint is not a URL: {err}"),
            }
        })?;
        url.query_pairs_mut()
            .append_pair("client_id", self.client.client_id())
            .append_pair("request_uri", &request_uri);
        Ok(url.into())
    }

    /// Finishes the login the callback answers: checks it, exchanges the
    /// code, and checks the tokens. A login that fails here leaves nothing
    /// behind: its pending entry is taken first, and tokens that fail a
    /// check are revoked.
    #[tracing::instrument(skip_all, fields(did))]
    pub async fn complete(&self, callback: Callback) -> Result<StoredSession, OAuthError> {
        let state = callback
            .state
            .as_deref()
            .ok_or_else(|| OAuthError::BadCallback("it has no state".into()))?;
        if !well_formed(state) {
            return Err(OAuthError::UnknownState);
        }
        let pending: Pending = self
            .store
            .take_sealed(&pending_key(state))
            .await?
            .ok_or(OAuthError::UnknownState)?;
        tracing::Span::current().record("did", pending.did.as_str());
        if let Some(error) = callback.error {
            return Err(OAuthError::Declined {
                error,
                description: callback.error_description,
            });
        }
        if callback.iss.as_deref() != Some(pending.issuer.as_str()) {
            return Err(OAuthError::IssuerMismatch {
                expected: pending.issuer,
                got: callback.iss,
            });
        }
        let code = callback
            .code
            .ok_or_else(|| OAuthError::BadCallback("it has neither a code nor an error".into()))?;
        let server = self.server(&pending.issuer, &pending.dpop_key).await?;
        let tokens = server.exchange(&code, &pending.verifier).await?;
        let checked = match tokens.sub.as_deref() {
            Some(sub) if sub == pending.did => self.authoritative(sub, &pending.issuer).await,
            got => Err(OAuthError::SubjectMismatch {
                expected: pending.did.clone(),
                got: got.unwrap_or("no one").to_owned(),
            }),
        };
        match checked {
            Ok((pds, handle)) => Ok(self.session(
                &pending.did,
                handle,
                pds,
                OauthBinding {
                    issuer: pending.issuer,
                    dpop_key: pending.dpop_key,
                },
                tokens,
                Utc::now(),
            )),
            Err(err) => {
                let token = tokens
                    .refresh_token
                    .as_deref()
                    .unwrap_or(&tokens.access_token);
                if let Err(revoking) = server.revoke(token).await {
                    tracing::warn!(error = %revoking, "could not revoke the refused login's tokens");
                }
                Err(err)
            }
        }
    }

    /// Checks that the PDS of `did` names `issuer` as its authorization
    /// server: the PDS and the handle (when confirmed).
    async fn authoritative(
        &self,
        did: &str,
        issuer: &str,
    ) -> Result<(String, Option<String>), OAuthError> {
        let resolved = self.resolver.resolve(did).await?;
        let authority = issuer_of(self.http(), &resolved.pds).await?;
        if authority != issuer {
            return Err(OAuthError::NotAuthoritative {
                did: did.to_owned(),
                authority,
                issuer: issuer.to_owned(),
            });
        }
        Ok((resolved.pds, resolved.handle))
    }

    fn session(
        &self,
        did: &str,
        handle: Option<String>,
        pds: String,
        binding: OauthBinding,
        tokens: TokenResponse,
        now: DateTime<Utc>,
    ) -> StoredSession {
        let lifetime = if self.client.is_confidential() {
            CONFIDENTIAL_SESSION
        } else {
            PUBLIC_SESSION
        };
        if tokens.scope.as_deref() != Some(SCOPE) {
            tracing::info!(granted = ?tokens.scope, "the server granted another scope than asked");
        }
        StoredSession {
            kind: SessionKind::Oauth,
            did: did.to_owned(),
            handle: handle.unwrap_or_else(|| did.to_owned()),
            pds,
            access_expires_at: tokens
                .expires_in
                .map(|seconds| now + chrono::Duration::seconds(seconds)),
            refresh_expires_at: Some(now + lifetime),
            access_jwt: tokens.access_token,
            refresh_jwt: tokens.refresh_token.unwrap_or_default(),
            oauth: Some(binding),
        }
    }

    fn binding(session: &StoredSession) -> Result<&OauthBinding, OAuthError> {
        session.oauth.as_ref().ok_or_else(|| {
            OAuthError::Config(format!(
                "the session of {} is not an OAuth session",
                session.did
            ))
        })
    }

    /// New tokens for `session`, after checking that its DID's PDS still
    /// names the issuer. The old refresh token is spent.
    #[tracing::instrument(skip_all, fields(did = %session.did))]
    pub async fn refresh(&self, session: &StoredSession) -> Result<StoredSession, OAuthError> {
        let binding = Self::binding(session)?;
        let (pds, handle) = self.authoritative(&session.did, &binding.issuer).await?;
        let server = self.server(&binding.issuer, &binding.dpop_key).await?;
        let tokens = server.refresh(&session.refresh_jwt).await?;
        if let Some(sub) = tokens.sub.as_deref().filter(|sub| *sub != session.did) {
            return Err(OAuthError::SubjectMismatch {
                expected: session.did.clone(),
                got: sub.to_owned(),
            });
        }
        Ok(self.session(
            &session.did,
            handle.or_else(|| Some(session.handle.clone())),
            pds,
            binding.clone(),
            tokens,
            Utc::now(),
        ))
    }

    /// Revokes `session` at its server (its refresh token, which ends the
    /// whole session there).
    #[tracing::instrument(skip_all, fields(did = %session.did))]
    pub async fn revoke(&self, session: &StoredSession) -> Result<(), OAuthError> {
        let binding = Self::binding(session)?;
        let server = self.server(&binding.issuer, &binding.dpop_key).await?;
        server.revoke(&session.refresh_jwt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_states_we_could_have_issued_are_looked_up() {
        assert!(well_formed(&random_token(16)));
        assert!(!well_formed("short"));
        assert!(!well_formed("aaaaaaaaaaaaaaaaaaaaa*"));
        assert!(!well_formed(&format!("{}:x", random_token(15))));
    }
}
