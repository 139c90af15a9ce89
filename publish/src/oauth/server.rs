//! A PDS's authorization server: found through the PDS's protected-resource
//! metadata, and called with DPoP proofs (atrium's `DpopClient`, which also
//! answers the server's `use_dpop_nonce` challenge). Pushed authorization
//! requests, code exchange, refresh and revocation are ours: atrium-oauth
//! keeps them private behind an `OAuthClient` that panics on a refused
//! exchange, cannot refresh on demand, and takes the revocation's `200`
//! for a failure.

use atrium_api::xrpc::HttpClient;
use atrium_api::xrpc::http::{Method, Request};
use atrium_oauth::DpopClient;
use chrono::Utc;
use jose_jwk::Key;
use serde::Deserialize;
use url::Url;

use super::OAuthError;
use super::client::OAuthClient;
use crate::egress::{GuardedClient, error_chain};
use crate::repo::Transport;

/// The largest metadata document read: real ones are a few kilobytes, and
/// whoever wrote the DID document chose the server that answers.
pub(crate) const MAX_METADATA_BYTES: usize = 64 * 1024;

/// What we use of an authorization server's metadata (RFC 8414).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ServerMetadata {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: String,
    pub(crate) token_endpoint: String,
    pub(crate) pushed_authorization_request_endpoint: Option<String>,
    pub(crate) revocation_endpoint: Option<String>,
    #[serde(default)]
    pub(crate) dpop_signing_alg_values_supported: Vec<String>,
}

#[derive(Deserialize)]
struct ProtectedResource {
    #[serde(default)]
    authorization_servers: Vec<String>,
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &GuardedClient,
    url: &str,
) -> Result<T, OAuthError> {
    let failed = |reason: String| OAuthError::Discovery {
        url: url.to_owned(),
        reason,
    };
    let unavailable = |reason: String| OAuthError::Unavailable {
        endpoint: "metadata",
        reason: format!("{url}: {reason}"),
    };
    http.reach()
        .check_resolved(url)
        .await
        .map_err(|refused| failed(refused.reason))?;
    let mut response = http
        .request(reqwest::Method::GET, url)
        .map_err(|refused| failed(refused.reason))?
        .send()
        .await
        .map_err(|err| unavailable(error_chain(&err)))?;
    if response.status().is_server_error() {
        return Err(unavailable(format!("answered {}", response.status())));
    }
    if !response.status().is_success() {
        return Err(failed(format!("answered {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| unavailable(error_chain(&err)))?
    {
        if body.len() + chunk.len() > MAX_METADATA_BYTES {
            return Err(failed(format!(
                "its answer is larger than {MAX_METADATA_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|err| failed(err.to_string()))
}

/// The authorization server that `pds` names for itself.
pub(crate) async fn issuer_of(http: &GuardedClient, pds: &str) -> Result<String, OAuthError> {
    let url = format!(
        "{}/.well-known/oauth-protected-resource",
        pds.trim_end_matches('/')
    );
    let resource: ProtectedResource = get_json(http, &url).await?;
    resource
        .authorization_servers
        .into_iter()
        .next()
        .ok_or_else(|| OAuthError::Discovery {
            url,
            reason: "it names no authorization server".into(),
        })
}

/// The metadata of `issuer`, which must name itself as `issuer`, and whose
/// endpoints must be addresses `http` may call.
pub(crate) async fn server_metadata(
    http: &GuardedClient,
    issuer: &str,
) -> Result<ServerMetadata, OAuthError> {
    let url = format!(
        "{}/.well-known/oauth-authorization-server",
        issuer.trim_end_matches('/')
    );
    let metadata: ServerMetadata = get_json(http, &url).await?;
    if metadata.issuer != issuer {
        return Err(OAuthError::Discovery {
            url,
            reason: format!("it calls itself {}", metadata.issuer),
        });
    }
    let endpoints = [
        Some(&metadata.authorization_endpoint),
        Some(&metadata.token_endpoint),
        metadata.pushed_authorization_request_endpoint.as_ref(),
        metadata.revocation_endpoint.as_ref(),
    ];
    for endpoint in endpoints.into_iter().flatten() {
        http.reach()
            .check_resolved(endpoint)
            .await
            .map_err(|refused| OAuthError::Discovery {
                url: url.clone(),
                reason: refused.to_string(),
            })?;
    }
    Ok(metadata)
}

/// A token endpoint's answer (RFC 6749 §5.1, with atproto's `sub`).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    pub(crate) expires_in: Option<i64>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) sub: Option<String>,
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    error_description: Option<String>,
}

/// The DPoP client of `key`; `for_server` says whether it talks to an
/// authorization server (nonce challenges come as 400) or a resource
/// server (401).
pub(crate) fn dpop_client(
    key: &Key,
    transport: Transport,
    for_server: bool,
) -> Result<DpopClient<Transport>, OAuthError> {
    DpopClient::new(key.clone(), transport.into(), for_server, &None)
        .map_err(|err| OAuthError::Config(format!("the DPoP key: {err}")))
}

/// One session's conversation with its authorization server.
pub(crate) struct AuthServer<'a> {
    pub(crate) metadata: ServerMetadata,
    client: &'a OAuthClient,
    dpop: DpopClient<Transport>,
}

impl<'a> AuthServer<'a> {
    pub(crate) fn new(
        metadata: ServerMetadata,
        client: &'a OAuthClient,
        dpop_key: &Key,
        http: GuardedClient,
    ) -> Result<Self, OAuthError> {
        let dpop = dpop_client(dpop_key, Transport::new(http), true)?;
        Ok(Self {
            metadata,
            client,
            dpop,
        })
    }

    /// POSTs `fields` (after the client's own) to `url`; the answer's
    /// status and body.
    async fn post(
        &self,
        endpoint: &'static str,
        url: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Result<(u16, Vec<u8>), OAuthError> {
        let unavailable = |reason: String| OAuthError::Unavailable { endpoint, reason };
        let url = url.ok_or_else(|| OAuthError::Discovery {
            url: self.metadata.issuer.clone(),
            reason: format!("the server has no {endpoint} endpoint"),
        })?;
        // The DPoP client reads the URL's authority without checking it.
        if Url::parse(url).map_or(true, |parsed| parsed.host_str().is_none()) {
            return Err(OAuthError::Discovery {
                url: url.to_owned(),
                reason: format!("the {endpoint} endpoint is not an absolute URL"),
            });
        }
        let credentials = self
            .client
            .credentials(&self.metadata.issuer, Utc::now().timestamp());
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in &credentials {
                form.append_pair(name, value);
            }
            for (name, value) in fields {
                form.append_pair(name, value);
            }
            form.finish()
        };
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.into_bytes())
            .map_err(|err| unavailable(err.to_string()))?;
        let response = self
            .dpop
            .send_http(request)
            .await
            .map_err(|err| unavailable(err.to_string()))?;
        let status = response.status().as_u16();
        if response.status().is_client_error() {
            let answer: Option<ErrorAnswer> = serde_json::from_slice(response.body()).ok();
            return Err(OAuthError::Refused {
                endpoint,
                error: answer
                    .as_ref()
                    .map_or_else(|| status.to_string(), |a| a.error.clone()),
                description: answer.and_then(|a| a.error_description),
            });
        }
        if !response.status().is_success() {
            return Err(unavailable(format!("answered {status}")));
        }
        Ok((status, response.into_body()))
    }

    async fn tokens(&self, fields: &[(&str, &str)]) -> Result<TokenResponse, OAuthError> {
        let (_, body) = self
            .post("token", Some(&self.metadata.token_endpoint), fields)
            .await?;
        let tokens: TokenResponse =
            serde_json::from_slice(&body).map_err(|err| OAuthError::Unavailable {
                endpoint: "token",
                reason: format!("the answer is not a token response: {err}"),
            })?;
        if !tokens.token_type.eq_ignore_ascii_case("DPoP") {
            return Err(OAuthError::Refused {
                endpoint: "token",
                error: "unsupported_token_type".into(),
                description: Some(format!(
                    "the server issued a {} token, not a DPoP-bound one",
                    tokens.token_type
                )),
            });
        }
        Ok(tokens)
    }

    /// A pushed authorization request (RFC 9126): its `request_uri`.
    pub(crate) async fn push(&self, fields: &[(&str, &str)]) -> Result<String, OAuthError> {
        #[derive(Deserialize)]
        struct Pushed {
            request_uri: String,
        }
        let (_, body) = self
            .post(
                "pushed authorization request",
                self.metadata
                    .pushed_authorization_request_endpoint
                    .as_deref(),
                fields,
            )
            .await?;
        serde_json::from_slice::<Pushed>(&body)
            .map(|pushed| pushed.request_uri)
            .map_err(|err| OAuthError::Unavailable {
                endpoint: "pushed authorization request",
                reason: format!("the answer has no request_uri: {err}"),
            })
    }

    /// Exchanges an authorization code (with its PKCE verifier).
    pub(crate) async fn exchange(
        &self,
        code: &str,
        verifier: &str,
    ) -> Result<TokenResponse, OAuthError> {
        self.tokens(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.client.redirect_uri()),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// Trades `refresh_token` for new tokens (the old one is spent).
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, OAuthError> {
        self.tokens(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// Revokes `token` (RFC 7009: the PDS answers 200, atrium expects 204;
    /// both are success).
    pub(crate) async fn revoke(&self, token: &str) -> Result<(), OAuthError> {
        self.post(
            "revocation",
            self.metadata.revocation_endpoint.as_deref(),
            &[("token", token)],
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reach;
    use crate::egress::tests::{answering, guarded, strangers_addresses};

    #[tokio::test]
    async fn metadata_larger_than_the_cap_is_refused() {
        let body = format!(
            r#"{{"authorization_servers":["{}"]}}"#,
            "x".repeat(MAX_METADATA_BYTES)
        );
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let pds = answering(&answer).await;
        match issuer_of(&guarded(Reach::Anywhere), &pds).await {
            Err(OAuthError::Discovery { url, reason }) => {
                assert_eq!(url, format!("{pds}/.well-known/oauth-protected-resource"));
                assert_eq!(
                    reason,
                    format!("its answer is larger than {MAX_METADATA_BYTES} bytes")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_pds_or_authorization_server_at_a_private_address_is_not_asked_on_the_network() {
        let http = guarded(Reach::PublicOnly);
        for address in strangers_addresses("") {
            let host = address.trim_start_matches("http://");
            let host = host
                .rsplit_once(':')
                .filter(|(_, port)| *port == "9")
                .map_or(host, |(host, _)| host)
                .trim_matches(['[', ']']);
            for asked in [
                issuer_of(&http, &address).await.map(|_| ()),
                server_metadata(&http, &address).await.map(|_| ()),
            ] {
                match asked {
                    Err(OAuthError::Discovery { reason, .. }) => {
                        assert_eq!(
                            reason,
                            format!("{host} is not a public address"),
                            "{address}"
                        );
                    }
                    other => panic!("{address}: {other:?}"),
                }
            }
        }
    }
}
