//! OpenMeet sessions in `auth.sessions`: an opaque 256-bit token for the
//! client, its SHA-256 at rest.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use domain::identity::UserId;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// A live session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The account.
    pub user_id: UserId,
    /// The DID it logged in with.
    pub did: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Opens a session for `user_id` lasting `ttl`; the token is returned once
/// and never stored.
pub async fn issue(
    pool: &PgPool,
    user_id: UserId,
    did: &str,
    ttl: Duration,
) -> Result<(String, DateTime<Utc>), sqlx::Error> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = URL_SAFE_NO_PAD.encode(secret);
    let now = Utc::now();
    let expires_at = now + ttl;
    sqlx::query(
        "INSERT INTO auth.sessions (token_hash, user_id, did, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(digest(&token))
    .bind(user_id.0)
    .bind(did)
    .bind(now)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok((token, expires_at))
}

/// The live session of `token`, if any; expired sessions are removed as
/// they are met.
pub async fn find(pool: &PgPool, token: &str) -> Result<Option<Session>, sqlx::Error> {
    let row: Option<(uuid::Uuid, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT user_id, did, expires_at FROM auth.sessions WHERE token_hash = $1")
            .bind(digest(token))
            .fetch_optional(pool)
            .await?;
    match row {
        Some((user_id, did, expires_at)) if expires_at > Utc::now() => Ok(Some(Session {
            user_id: UserId(user_id),
            did,
            expires_at,
        })),
        Some(_) => {
            revoke(pool, token).await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Ends the session of `token`.
pub async fn revoke(pool: &PgPool, token: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM auth.sessions WHERE token_hash = $1")
        .bind(digest(token))
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes every expired session; returns how many.
pub async fn sweep(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM auth.sessions WHERE expires_at <= now()")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
