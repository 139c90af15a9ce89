//! The keys of the OAuth flow: a fresh ES256 key per session for DPoP, and
//! the client's own signing key, whose public half is published in the
//! client metadata's JWKS and which signs the client assertions of a
//! confidential client (RFC 7523, `private_key_jwt`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jose_jwk::{Ec, Jwk, Key};
use p256::SecretKey;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use serde_json::json;

use super::OAuthError;

/// A new random P-256 key.
fn random_secret() -> SecretKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        // Almost every 32 bytes are a valid scalar; the rest are drawn again.
        if let Ok(secret) = SecretKey::from_slice(&bytes) {
            return secret;
        }
    }
}

/// A new private DPoP key, as a JWK.
pub(crate) fn dpop_key() -> Key {
    Key::Ec(Ec::from(&random_secret()))
}

/// `bytes` random bytes, base64url: states, PKCE verifiers, JWT ids.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// A compact JWS over `header` and `claims`, signed with ES256.
fn sign(secret: &SecretKey, header: &serde_json::Value, claims: &serde_json::Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature: Signature = SigningKey::from(secret).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// The signing key of a confidential client.
#[derive(Clone)]
pub struct ClientKey {
    kid: String,
    secret: SecretKey,
}

impl std::fmt::Debug for ClientKey {
    // The private key never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey").field("kid", &self.kid).finish()
    }
}

impl ClientKey {
    /// A new key named `kid`.
    pub fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            secret: random_secret(),
        }
    }

    /// The key in `text`: a private P-256 JWK with a `kid`.
    pub fn from_jwk(text: &str) -> Result<Self, OAuthError> {
        let bad = |why: &str| OAuthError::Config(format!("the OAuth client key {why}"));
        let jwk: Jwk =
            serde_json::from_str(text).map_err(|err| bad(&format!("is not a JWK: {err}")))?;
        let kid = jwk.prm.kid.clone().ok_or_else(|| bad("has no \"kid\""))?;
        let Key::Ec(ec) = &jwk.key else {
            return Err(bad("is not an EC key"));
        };
        let secret = SecretKey::try_from(ec)
            .map_err(|_| bad("is not a private P-256 key (it needs \"d\")"))?;
        Ok(Self { kid, secret })
    }

    /// The private JWK, to keep in the configuration.
    pub fn to_private_jwk(&self) -> serde_json::Value {
        let mut jwk = serde_json::to_value(Key::Ec(Ec::from(&self.secret))).unwrap_or_default();
        jwk["kid"] = json!(self.kid);
        jwk
    }

    /// The public JWK, for the client metadata's JWKS.
    pub fn public_jwk(&self) -> serde_json::Value {
        let mut jwk =
            serde_json::to_value(Key::Ec(Ec::from(&self.secret.public_key()))).unwrap_or_default();
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!("ES256");
        jwk["use"] = json!("sig");
        jwk
    }

    /// A client assertion of `client_id` for the server `issuer`, issued
    /// at `now` (seconds) and good for a minute.
    pub(crate) fn assertion(&self, client_id: &str, issuer: &str, now: i64) -> String {
        sign(
            &self.secret,
            &json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}),
            &json!({
                "iss": client_id,
                "sub": client_id,
                "aud": issuer,
                "iat": now,
                "exp": now + 60,
                "jti": random_token(16),
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    fn part(jws: &str, index: usize) -> serde_json::Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(jws.split('.').nth(index).unwrap())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn an_assertion_is_signed_by_the_published_key_and_names_client_and_server() {
        let key = ClientKey::generate("k1");
        let assertion = key.assertion(
            "https://sync.example/client.json",
            "https://pds.example",
            1000,
        );
        assert_eq!(part(&assertion, 0)["kid"], "k1");
        let claims = part(&assertion, 1);
        assert_eq!(claims["iss"], "https://sync.example/client.json");
        assert_eq!(claims["sub"], "https://sync.example/client.json");
        assert_eq!(claims["aud"], "https://pds.example");
        assert_eq!(claims["exp"], 1060);

        let public: Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let Key::Ec(ec) = &public.key else {
            panic!("not an EC key")
        };
        let verifying = VerifyingKey::from(&p256::PublicKey::try_from(ec).unwrap());
        let (input, signature) = assertion.rsplit_once('.').unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        assert!(verifying.verify(input.as_bytes(), &signature).is_ok());
        assert!(
            verifying
                .verify(format!("{input}x").as_bytes(), &signature)
                .is_err()
        );
        assert!(key.public_jwk().get("d").is_none());
    }

    #[test]
    fn a_private_jwk_round_trips_and_a_public_one_is_refused() {
        let key = ClientKey::generate("k2");
        let text = key.to_private_jwk().to_string();
        let back = ClientKey::from_jwk(&text).unwrap();
        assert_eq!(back.public_jwk(), key.public_jwk());
        let public = key.public_jwk().to_string();
        assert!(
            matches!(ClientKey::from_jwk(&public), Err(OAuthError::Config(m)) if m.contains("\"d\""))
        );
        let nameless = serde_json::to_string(&dpop_key()).unwrap();
        assert!(
            matches!(ClientKey::from_jwk(&nameless), Err(OAuthError::Config(m)) if m.contains("kid"))
        );
    }
}
