//! The expiry of an access token. The token is the PDS's and opaque to us
//! by contract, but its `exp` claim tells when to refresh it; the signature
//! is the PDS's business, so it is not checked here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

/// When `token` expires, when it is a JWT with an `exp` claim.
pub(crate) fn expiry(token: &str) -> Option<DateTime<Utc>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    DateTime::from_timestamp(claims.get("exp")?.as_i64()?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn the_exp_claim_is_the_expiry() {
        assert_eq!(
            expiry(&token(r#"{"sub":"did:plc:a","exp":1800000000}"#)),
            DateTime::from_timestamp(1_800_000_000, 0)
        );
    }

    #[test]
    fn a_token_without_exp_or_not_a_jwt_has_no_expiry() {
        assert_eq!(expiry(&token(r#"{"sub":"did:plc:a"}"#)), None);
        assert_eq!(expiry("opaque"), None);
        assert_eq!(expiry("a.!!!.c"), None);
    }
}
