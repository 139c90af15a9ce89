//! Who we are to an authorization server: a loopback client for
//! development and tests (its metadata is implied by its client id, so no
//! document needs to be reachable), or a confidential web client whose
//! metadata document, with its JWKS, is served at
//! `/oauth/client-metadata.json`.

use serde_json::json;
use url::Url;

use super::OAuthError;
use super::keys::ClientKey;

/// What publishing needs and no more: `atproto` (required) and writes of
/// calendar events and RSVPs in the user's own repository.
pub const SCOPE: &str =
    "atproto repo:community.lexicon.calendar.event repo:community.lexicon.calendar.rsvp";

/// Where the authorization server sends the browser back.
pub const CALLBACK_PATH: &str = "/api/auth/bluesky/callback";

/// Where a confidential client's metadata document is served.
pub const METADATA_PATH: &str = "/oauth/client-metadata.json";

/// How the client authenticates at the token endpoint.
#[derive(Clone, Debug)]
enum Authentication {
    /// A public client (`none`).
    Public,
    /// `private_key_jwt` with this key.
    Confidential(ClientKey),
}

/// This OAuth client.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    client_id: String,
    redirect_uri: String,
    application_type: &'static str,
    authentication: Authentication,
}

impl OAuthClient {
    /// A loopback client for an API served at `base` (`http://127.0.0.1:PORT`;
    /// the atproto profile wants a loopback IP, not `localhost`).
    pub fn loopback(base: &str) -> Result<Self, OAuthError> {
        let url = Url::parse(base)
            .map_err(|err| OAuthError::Config(format!("{base:?} is not a URL: {err}")))?;
        let loopback_ip = matches!(url.host_str(), Some("127.0.0.1" | "[::1]"));
        if url.scheme() != "http" || !loopback_ip {
            return Err(OAuthError::Config(format!(
                "a loopback client must be served at http://127.0.0.1:PORT or http://[::1]:PORT, not {base}"
            )));
        }
        let redirect_uri = format!("{}{CALLBACK_PATH}", base.trim_end_matches('/'));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", SCOPE)
            .finish();
        Ok(Self {
            client_id: format!("http://localhost?{query}"),
            redirect_uri,
            application_type: "native",
            authentication: Authentication::Public,
        })
    }

    /// A confidential client published at `public_url` (https), signing
    /// its token requests with `key`.
    pub fn confidential(public_url: &str, key: ClientKey) -> Result<Self, OAuthError> {
        let url = Url::parse(public_url)
            .map_err(|err| OAuthError::Config(format!("{public_url:?} is not a URL: {err}")))?;
        if url.scheme() != "https" {
            return Err(OAuthError::Config(format!(
                "a published client must be served over https, not {public_url}"
            )));
        }
        let base = public_url.trim_end_matches('/');
        Ok(Self {
            client_id: format!("{base}{METADATA_PATH}"),
            redirect_uri: format!("{base}{CALLBACK_PATH}"),
            application_type: "web",
            authentication: Authentication::Confidential(key),
        })
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The one redirect URI.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The client metadata document.
    pub fn metadata(&self) -> serde_json::Value {
        let mut document = json!({
            "client_id": self.client_id,
            "client_name": "OpenMeet",
            "application_type": self.application_type,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": [self.redirect_uri],
            "scope": SCOPE,
            "dpop_bound_access_tokens": true,
        });
        match &self.authentication {
            Authentication::Public => {
                document["token_endpoint_auth_method"] = json!("none");
            }
            Authentication::Confidential(key) => {
                document["token_endpoint_auth_method"] = json!("private_key_jwt");
                document["token_endpoint_auth_signing_alg"] = json!("ES256");
                document["jwks"] = json!({"keys": [key.public_jwk()]});
            }
        }
        document
    }

    /// The form fields that identify and authenticate this client to the
    /// server `issuer` at `now` (seconds).
    pub(crate) fn credentials(&self, issuer: &str, now: i64) -> Vec<(&'static str, String)> {
        let mut fields = vec![("client_id", self.client_id.clone())];
        if let Authentication::Confidential(key) = &self.authentication {
            fields.push((
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ));
            fields.push((
                "client_assertion",
                key.assertion(&self.client_id, issuer, now),
            ));
        }
        fields
    }

    /// True for a confidential client (its sessions may last longer).
    pub(crate) fn is_confidential(&self) -> bool {
        matches!(self.authentication, Authentication::Confidential(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_client_carries_its_redirect_and_scope_in_its_id() {
        let client = OAuthClient::loopback("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            client.redirect_uri(),
            "http://127.0.0.1:8080/api/auth/bluesky/callback"
        );
        let id = Url::parse(client.client_id()).unwrap();
        assert_eq!(id.host_str(), Some("localhost"));
        let query: Vec<(String, String)> = id.query_pairs().into_owned().collect();
        assert_eq!(
            query,
            vec![
                ("redirect_uri".into(), client.redirect_uri().into()),
                ("scope".into(), SCOPE.into())
            ]
        );
        let metadata = client.metadata();
        assert_eq!(metadata["token_endpoint_auth_method"], "none");
        assert!(metadata.get("jwks").is_none());
        assert_eq!(client.credentials("http://localhost:1", 0).len(), 1);
        assert!(OAuthClient::loopback("http://localhost:8080").is_err());
        assert!(OAuthClient::loopback("https://127.0.0.1:8080").is_err());
    }

    #[test]
    fn a_confidential_client_publishes_its_key_and_signs_its_requests() {
        let key = ClientKey::generate("k1");
        let client = OAuthClient::confidential("https://sync.example", key.clone()).unwrap();
        let metadata = client.metadata();
        assert_eq!(
            metadata["client_id"],
            "https://sync.example/oauth/client-metadata.json"
        );
        assert_eq!(
            metadata["redirect_uris"][0],
            "https://sync.example/api/auth/bluesky/callback"
        );
        assert_eq!(metadata["token_endpoint_auth_method"], "private_key_jwt");
        assert_eq!(metadata["jwks"]["keys"][0], key.public_jwk());
        assert_eq!(metadata["scope"], SCOPE);
        let fields = client.credentials("https://pds.example", 5);
        let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            vec!["client_id", "client_assertion_type", "client_assertion"]
        );
        assert!(OAuthClient::confidential("http://sync.example", key).is_err());
    }
}
