//! Writes and reads of records in a user's repository on their PDS
//! (`com.atproto.repo.*` through `atrium-api`), with the PDS's refusals
//! turned into [`PublishError`]s that say what to do next: retry later,
//! refresh the session, or record why it cannot be done.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atrium_api::client::AtpServiceClient;
use atrium_api::com::atproto::repo::{delete_record, get_record, put_record};
use atrium_api::types::Unknown;
use atrium_api::xrpc::error::{Error as XrpcError, XrpcErrorKind};
use atrium_api::xrpc::http::{Request, Response};
use atrium_api::xrpc::types::AuthorizationToken;
use atrium_api::xrpc::{HttpClient, XrpcClient};
use atrium_oauth::DpopClient;
use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::credentials::StoredSession;
use crate::egress::GuardedClient;

/// Why a repository call failed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum PublishError {
    /// The PDS could not be reached, or failed (5xx): retry later.
    #[error("the PDS is unavailable: {0}")]
    Unavailable(String),
    /// Too many requests: retry after `reset_at` (the `ratelimit-reset`
    /// header), or later when it did not say.
    #[error("rate limited until {reset_at:?}")]
    RateLimited {
        /// When the limit resets.
        reset_at: Option<DateTime<Utc>>,
    },
    /// The access token expired: refresh the session, then retry once.
    #[error("the access token expired")]
    ExpiredToken,
    /// The PDS refused the session.
    #[error("the PDS refused the session: {0}")]
    Unauthorized(String),
    /// The record does not validate, or the request is malformed.
    #[error("the PDS refused the record: {0}")]
    InvalidRecord(String),
    /// The record changed since the CID we last saw (`swapRecord`).
    #[error("the record changed since the version we last saw")]
    SwapConflict,
    /// No such record.
    #[error("no such record")]
    NotFound,
}

impl PublishError {
    /// True for failures that may pass on their own.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PublishError::Unavailable(_) | PublishError::RateLimited { .. }
        )
    }
}

/// A record as the PDS wrote or holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// Its AT-URI.
    pub uri: String,
    /// The CID of this version.
    pub cid: String,
}

/// Requests over reqwest, keeping the `ratelimit-reset` of a 429 (atrium's
/// error keeps no headers).
#[derive(Clone)]
pub(crate) struct Transport {
    http: GuardedClient,
    rate_reset: Arc<Mutex<Option<i64>>>,
}

impl Transport {
    pub(crate) fn new(http: GuardedClient) -> Self {
        Self {
            http,
            rate_reset: Arc::new(Mutex::new(None)),
        }
    }
}

impl HttpClient for Transport {
    async fn send_http(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        let response = self.http.send_http(request).await?;
        if response.status().as_u16() == 429 {
            let reset = response
                .headers()
                .get("ratelimit-reset")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse().ok());
            *self.rate_reset.lock().unwrap_or_else(|e| e.into_inner()) = reset;
        }
        Ok(response)
    }
}

/// How a session's token is presented: as a bearer (app passwords), or
/// bound to its DPoP key with a proof per request (OAuth).
pub(crate) enum Credential {
    Bearer(String),
    Dpop {
        token: String,
        client: DpopClient<Transport>,
    },
}

/// The XRPC transport of one session.
pub(crate) struct Session {
    transport: Transport,
    base: String,
    credential: Credential,
}

impl HttpClient for Session {
    async fn send_http(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync + 'static>> {
        match &self.credential {
            Credential::Bearer(_) => self.transport.send_http(request).await,
            Credential::Dpop { client, .. } => client.send_http(request).await,
        }
    }
}

impl XrpcClient for Session {
    fn base_uri(&self) -> String {
        self.base.clone()
    }

    async fn authorization_token(&self, _is_refresh: bool) -> Option<AuthorizationToken> {
        Some(match &self.credential {
            Credential::Bearer(token) => AuthorizationToken::Bearer(token.clone()),
            Credential::Dpop { token, .. } => AuthorizationToken::Dpop(token.clone()),
        })
    }
}

/// An XRPC client acting with one token, and how to read its refusals.
pub(crate) struct Xrpc {
    pub(crate) client: AtpServiceClient<Session>,
    rate_reset: Arc<Mutex<Option<i64>>>,
}

impl Xrpc {
    /// A client of `base` sending `token` as its bearer.
    pub(crate) fn new(http: GuardedClient, base: &str, token: &str) -> Self {
        Self::with(
            Transport::new(http),
            base,
            Credential::Bearer(token.to_owned()),
        )
    }

    /// A client of `base` presenting `credential` over `transport`.
    pub(crate) fn with(transport: Transport, base: &str, credential: Credential) -> Self {
        let rate_reset = transport.rate_reset.clone();
        let session = Session {
            transport,
            base: base.trim_end_matches('/').to_owned(),
            credential,
        };
        Self {
            client: AtpServiceClient::new(session),
            rate_reset,
        }
    }

    /// What a failed call means for the caller.
    pub(crate) fn classify<E: std::fmt::Debug + std::fmt::Display>(
        &self,
        err: XrpcError<E>,
    ) -> PublishError {
        let response = match err {
            XrpcError::XrpcResponse(response) => response,
            // A refusal that carries a challenge (an OAuth resource server's
            // `WWW-Authenticate: DPoP error="invalid_token"`) has no body
            // for atrium.
            XrpcError::Authentication(challenge) => {
                return PublishError::Unauthorized(
                    String::from_utf8_lossy(challenge.as_bytes()).into_owned(),
                );
            }
            other => return PublishError::Unavailable(other.to_string()),
        };
        let (name, message) = match &response.error {
            Some(XrpcErrorKind::Undefined(body)) => (body.error.clone(), body.message.clone()),
            // A typed error displays as `Name` or `Name: message`.
            Some(XrpcErrorKind::Custom(custom)) => {
                let text = custom.to_string();
                match text.split_once(": ") {
                    Some((name, message)) => (Some(name.to_owned()), Some(message.to_owned())),
                    None => (Some(text), None),
                }
            }
            None => (None, None),
        };
        let described = || {
            message
                .clone()
                .or_else(|| name.clone())
                .unwrap_or_else(|| response.status.to_string())
        };
        let status = response.status.as_u16();
        match (status, name.as_deref()) {
            (_, Some("InvalidSwap")) => PublishError::SwapConflict,
            (429, _) => PublishError::RateLimited {
                reset_at: self
                    .rate_reset
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .and_then(|seconds| DateTime::from_timestamp(seconds, 0)),
            },
            (_, Some("ExpiredToken")) => PublishError::ExpiredToken,
            (401, _)
            | (403, _)
            | (_, Some("InvalidToken" | "AuthMissing" | "AuthenticationRequired")) => {
                PublishError::Unauthorized(described())
            }
            (_, Some("RecordNotFound")) | (404, _) => PublishError::NotFound,
            (400..=499, _) => PublishError::InvalidRecord(described()),
            _ => PublishError::Unavailable(described()),
        }
    }
}

/// One account's repository, through one access token.
pub struct RepoClient {
    did: String,
    xrpc: Xrpc,
}

fn parsed<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, PublishError> {
    text.parse()
        .map_err(|_| PublishError::InvalidRecord(format!("{what} {text:?} is not valid")))
}

impl RepoClient {
    /// The repository of `did` on `pds`, acting with `access_jwt`.
    pub fn new(http: GuardedClient, pds: &str, did: &str, access_jwt: &str) -> Self {
        Self {
            did: did.to_owned(),
            xrpc: Xrpc::new(http, pds, access_jwt),
        }
    }

    /// The repository of the session's DID on its PDS, acting with the
    /// session's access token (DPoP-bound for an OAuth session).
    pub fn for_session(http: GuardedClient, session: &StoredSession) -> Result<Self, PublishError> {
        let transport = Transport::new(http);
        let credential = match &session.oauth {
            Some(binding) => Credential::Dpop {
                token: session.access_jwt.clone(),
                client: crate::oauth::dpop_client(&binding.dpop_key, transport.clone(), false)
                    .map_err(|err| PublishError::Unauthorized(err.to_string()))?,
            },
            None => Credential::Bearer(session.access_jwt.clone()),
        };
        Ok(Self {
            did: session.did.clone(),
            xrpc: Xrpc::with(transport, &session.pds, credential),
        })
    }

    /// Writes `record` at `collection/rkey`: creates it, or replaces it when
    /// `swap` is the CID of the version it replaces.
    #[tracing::instrument(skip(self, record), fields(did = %self.did))]
    pub async fn put(
        &self,
        collection: &str,
        rkey: &str,
        record: &serde_json::Value,
        swap: Option<&str>,
    ) -> Result<Written, PublishError> {
        let record: Unknown = serde_json::from_value(record.clone())
            .map_err(|err| PublishError::InvalidRecord(err.to_string()))?;
        let input = put_record::InputData {
            collection: parsed("collection", collection)?,
            record,
            repo: parsed("repository", &self.did)?,
            rkey: parsed("record key", rkey)?,
            swap_commit: None,
            swap_record: swap.map(|cid| parsed("CID", cid)).transpose()?,
            validate: None,
        };
        let written = self
            .xrpc
            .client
            .service
            .com
            .atproto
            .repo
            .put_record(input.into())
            .await
            .map_err(|err| self.xrpc.classify(err))?;
        Ok(Written {
            uri: written.uri.clone(),
            cid: written.cid.as_ref().to_string(),
        })
    }

    /// Deletes `collection/rkey` (when `swap` is given, only that version).
    #[tracing::instrument(skip(self), fields(did = %self.did))]
    pub async fn delete(
        &self,
        collection: &str,
        rkey: &str,
        swap: Option<&str>,
    ) -> Result<(), PublishError> {
        let input = delete_record::InputData {
            collection: parsed("collection", collection)?,
            repo: parsed("repository", &self.did)?,
            rkey: parsed("record key", rkey)?,
            swap_commit: None,
            swap_record: swap.map(|cid| parsed("CID", cid)).transpose()?,
        };
        self.xrpc
            .client
            .service
            .com
            .atproto
            .repo
            .delete_record(input.into())
            .await
            .map(|_| ())
            .map_err(|err| self.xrpc.classify(err))
    }

    /// The current version of `collection/rkey`, as JSON with its CID.
    #[tracing::instrument(skip(self), fields(did = %self.did))]
    pub async fn get(
        &self,
        collection: &str,
        rkey: &str,
    ) -> Result<(Written, serde_json::Value), PublishError> {
        let params = get_record::ParametersData {
            cid: None,
            collection: parsed("collection", collection)?,
            repo: parsed("repository", &self.did)?,
            rkey: parsed("record key", rkey)?,
        };
        let record = self
            .xrpc
            .client
            .service
            .com
            .atproto
            .repo
            .get_record(params.into())
            .await
            .map_err(|err| self.xrpc.classify(err))?;
        let value = serde_json::to_value(&record.value)
            .map_err(|err| PublishError::InvalidRecord(err.to_string()))?;
        Ok((
            Written {
                uri: record.uri.clone(),
                cid: record
                    .cid
                    .as_ref()
                    .map(|cid| cid.as_ref().to_string())
                    .unwrap_or_default(),
            },
            value,
        ))
    }
}

/// How often, and how long apart, transient failures are retried.
#[derive(Clone, Copy, Debug)]
pub struct Retries {
    /// Attempts in all.
    pub attempts: u32,
    /// The first delay; each next one doubles.
    pub first_delay: Duration,
    /// The longest delay (a rate limit's reset included).
    pub max_delay: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl Retries {
    /// Runs `call` until it succeeds, fails for good, or the attempts run
    /// out; a rate limit waits for its reset.
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, PublishError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, PublishError>>,
    {
        let mut delay = self.first_delay;
        let mut attempt = 1;
        loop {
            match call().await {
                Err(err) if err.is_transient() && attempt < self.attempts => {
                    let wait = match &err {
                        PublishError::RateLimited { reset_at: Some(at) } => {
                            (*at - Utc::now()).to_std().unwrap_or(delay)
                        }
                        _ => delay,
                    };
                    tracing::warn!(error = %err, attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait.min(self.max_delay)).await;
                    delay = (delay * 2).min(self.max_delay);
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atrium_api::xrpc::error::{ErrorResponseBody, XrpcError as Response};
    use atrium_api::xrpc::http::StatusCode;

    fn client() -> RepoClient {
        RepoClient::new(
            crate::egress::tests::guarded(crate::Reach::Anywhere),
            "http://127.0.0.1:9",
            "did:plc:someone",
            "token",
        )
    }

    #[tokio::test]
    async fn a_repository_on_a_private_address_is_written_only_when_private_addresses_are_allowed()
    {
        use crate::egress::tests::{guarded, strangers_addresses};
        let record = serde_json::json!({"$type": "community.lexicon.calendar.rsvp"});
        for pds in strangers_addresses("") {
            // Allowed, only a loopback address is tried: it answers at once.
            let allowed = pds.contains("127.0.0.1").then_some(crate::Reach::Anywhere);
            for reach in std::iter::once(crate::Reach::PublicOnly).chain(allowed) {
                let repo = RepoClient::new(guarded(reach), &pds, "did:plc:someone", "token");
                let err = repo
                    .put("community.lexicon.calendar.rsvp", "3rsvp", &record, None)
                    .await
                    .unwrap_err();
                assert_eq!(
                    err.to_string().contains("is not a public address"),
                    reach == crate::Reach::PublicOnly,
                    "{pds} {reach:?}: {err}"
                );
            }
        }
    }

    fn answer(status: u16, error: Option<&str>) -> XrpcError<put_record::Error> {
        XrpcError::XrpcResponse(Response {
            status: StatusCode::from_u16(status).unwrap(),
            error: Some(XrpcErrorKind::Undefined(ErrorResponseBody {
                error: error.map(Into::into),
                message: Some("said the PDS".into()),
            })),
        })
    }

    #[test]
    fn refusals_are_typed_by_what_to_do_next() {
        let client = client();
        assert_eq!(
            client.xrpc.classify(answer(400, Some("InvalidSwap"))),
            PublishError::SwapConflict
        );
        assert_eq!(
            client.xrpc.classify(answer(400, Some("ExpiredToken"))),
            PublishError::ExpiredToken
        );
        assert_eq!(
            client.xrpc.classify(answer(401, Some("InvalidToken"))),
            PublishError::Unauthorized("said the PDS".into())
        );
        assert_eq!(
            client.xrpc.classify(answer(400, Some("InvalidRequest"))),
            PublishError::InvalidRecord("said the PDS".into())
        );
        assert_eq!(
            client.xrpc.classify(answer(400, Some("RecordNotFound"))),
            PublishError::NotFound
        );
        assert!(client.xrpc.classify(answer(502, None)).is_transient());
        let challenge = r#"DPoP error="invalid_token", error_description="Invalid token""#;
        assert_eq!(
            client
                .xrpc
                .classify(XrpcError::<put_record::Error>::Authentication(
                    atrium_api::xrpc::http::HeaderValue::from_static(challenge)
                )),
            PublishError::Unauthorized(challenge.into())
        );
        *client.xrpc.rate_reset.lock().unwrap() = Some(1_800_000_000);
        assert_eq!(
            client.xrpc.classify(answer(429, Some("RateLimitExceeded"))),
            PublishError::RateLimited {
                reset_at: DateTime::from_timestamp(1_800_000_000, 0)
            }
        );
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_others_are_not() {
        let retries = Retries {
            attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        };
        let calls = std::cell::Cell::new(0);
        let outcome = retries
            .run(|| {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(PublishError::Unavailable("down".into())) }
            })
            .await;
        assert_eq!(
            (outcome, calls.get()),
            (Err(PublishError::Unavailable("down".into())), 3)
        );
        calls.set(0);
        let outcome = retries
            .run(|| {
                calls.set(calls.get() + 1);
                async { Err::<(), _>(PublishError::SwapConflict) }
            })
            .await;
        assert_eq!((outcome, calls.get()), (Err(PublishError::SwapConflict), 1));
        calls.set(0);
        let outcome = retries
            .run(|| {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 2 {
                        Err(PublishError::RateLimited { reset_at: None })
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(outcome, Ok(2));
    }
}
