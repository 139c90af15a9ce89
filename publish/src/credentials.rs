//! Bluesky sessions in Redis, one per OpenMeet user under
//! `bluesky:credentials:{user_id}`, encrypted at rest with
//! XChaCha20-Poly1305. The key's name is the associated data, so a value
//! copied under another user's key does not decrypt. Entries expire with
//! their refresh token, so Redis cleans up what can no longer be used.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use domain::identity::UserId;
use rand::RngCore;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The bytes of a nonce.
const NONCE: usize = 24;

/// How a session was obtained; publishing uses either kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKind {
    /// `com.atproto.server.createSession` with an app password.
    AppPassword,
    /// ATProto OAuth (DPoP-bound tokens).
    Oauth,
}

/// One user's Bluesky session.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    /// How it was obtained.
    pub kind: SessionKind,
    /// The DID it acts as.
    pub did: String,
    /// The handle at login.
    pub handle: String,
    /// The PDS it talks to.
    pub pds: String,
    /// The access token.
    pub access_jwt: String,
    /// The refresh token.
    pub refresh_jwt: String,
    /// When the access token expires.
    pub access_expires_at: Option<DateTime<Utc>>,
    /// When the refresh token expires: the entry's expiry in Redis.
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// For an OAuth session: the server that issued it and its DPoP key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OauthBinding>,
}

/// What an OAuth session's tokens are bound to.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OauthBinding {
    /// The authorization server that issued the tokens (refreshes and
    /// revocations go there).
    pub issuer: String,
    /// The session's private DPoP key (ES256): every request with its
    /// tokens carries a proof signed with it.
    pub dpop_key: jose_jwk::Key,
}

impl std::fmt::Debug for StoredSession {
    // Tokens never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("kind", &self.kind)
            .field("did", &self.did)
            .field("pds", &self.pds)
            .field("access_expires_at", &self.access_expires_at)
            .finish_non_exhaustive()
    }
}

/// Why the credential store failed.
#[derive(Debug, Error)]
pub enum CredentialError {
    /// The configured key is not 32 bytes of base64.
    #[error("the credential key must be 32 bytes, base64-encoded: {0}")]
    BadKey(String),
    /// Redis failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored value does not decrypt with this key (or was moved).
    #[error("the stored credentials of user {0} do not decrypt with the configured key")]
    Undecryptable(UserId),
    /// A sealed value other than credentials does not seal or open.
    #[error("{0} does not decrypt with the configured key")]
    Unsealable(String),
}

/// The Redis credential store.
#[derive(Clone)]
pub struct CredentialStore {
    redis: ConnectionManager,
    cipher: XChaCha20Poly1305,
    prefix: String,
}

impl CredentialStore {
    /// A store on `redis`, encrypting with `key_base64` (32 bytes). `prefix`
    /// goes before every key name (empty in production; tests isolate with it).
    pub fn new(
        redis: ConnectionManager,
        key_base64: &str,
        prefix: &str,
    ) -> Result<Self, CredentialError> {
        let key = STANDARD
            .decode(key_base64.trim())
            .map_err(|err| CredentialError::BadKey(err.to_string()))?;
        let cipher = XChaCha20Poly1305::new_from_slice(&key)
            .map_err(|_| CredentialError::BadKey(format!("{} bytes", key.len())))?;
        Ok(Self {
            redis,
            cipher,
            prefix: prefix.to_owned(),
        })
    }

    /// The Redis key of `user`'s credentials.
    pub fn key(&self, user: UserId) -> String {
        format!("{}bluesky:credentials:{user}", self.prefix)
    }

    /// Stores `session` for `user`, replacing any earlier one. It expires
    /// with its refresh token (or after `fallback_ttl` seconds when the token
    /// does not say).
    pub async fn put(
        &self,
        user: UserId,
        session: &StoredSession,
        now: DateTime<Utc>,
        fallback_ttl: u64,
    ) -> Result<(), CredentialError> {
        let ttl = session
            .refresh_expires_at
            .map(|at| (at - now).num_seconds().max(1) as u64)
            .unwrap_or(fallback_ttl);
        let key = self.key(user);
        let value = self
            .seal(&key, session)
            .ok_or(CredentialError::Undecryptable(user))?;
        let mut redis = self.redis.clone();
        redis.set_ex::<_, _, ()>(&key, value, ttl).await?;
        Ok(())
    }

    /// `user`'s session, if stored and unexpired.
    pub async fn get(&self, user: UserId) -> Result<Option<StoredSession>, CredentialError> {
        let key = self.key(user);
        let mut redis = self.redis.clone();
        let Some(value): Option<Vec<u8>> = redis.get(&key).await? else {
            return Ok(None);
        };
        self.open(&key, &value)
            .map(Some)
            .ok_or(CredentialError::Undecryptable(user))
    }

    /// Keeps `value` under `name` (below the prefix) for `ttl`, sealed
    /// like the credentials.
    pub(crate) async fn put_sealed<T: Serialize>(
        &self,
        name: &str,
        value: &T,
        ttl: std::time::Duration,
    ) -> Result<(), CredentialError> {
        let key = format!("{}{name}", self.prefix);
        let sealed = self
            .seal(&key, value)
            .ok_or_else(|| CredentialError::Unsealable(name.to_owned()))?;
        let mut redis = self.redis.clone();
        redis
            .pset_ex::<_, _, ()>(&key, sealed, ttl.as_millis().max(1) as u64)
            .await?;
        Ok(())
    }

    /// Takes what [`put_sealed`](Self::put_sealed) kept under `name`: it is
    /// gone afterwards, so it is taken once.
    pub(crate) async fn take_sealed<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, CredentialError> {
        let key = format!("{}{name}", self.prefix);
        let mut redis = self.redis.clone();
        let Some(value): Option<Vec<u8>> = redis.get_del(&key).await? else {
            return Ok(None);
        };
        self.open(&key, &value)
            .map(Some)
            .ok_or_else(|| CredentialError::Unsealable(name.to_owned()))
    }

    /// `value` as JSON, encrypted with `key` as associated data, behind
    /// its nonce.
    fn seal<T: Serialize>(&self, key: &str, value: &T) -> Option<Vec<u8>> {
        let plain = serde_json::to_vec(value).ok()?;
        let mut nonce = [0u8; NONCE];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: key.as_bytes(),
                },
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// What [`seal`](Self::seal) made under `key`, if it opens.
    fn open<T: DeserializeOwned>(&self, key: &str, value: &[u8]) -> Option<T> {
        let (nonce, sealed) = value.split_at_checked(NONCE)?;
        let nonce: [u8; NONCE] = nonce.try_into().ok()?;
        let plain = self
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: key.as_bytes(),
                },
            )
            .ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Takes the refresh lock of `user` for `lease`, unless another holder
    /// has it: the token to release it with, or `None`.
    pub async fn lock_refresh(
        &self,
        user: UserId,
        lease: std::time::Duration,
    ) -> Result<Option<String>, CredentialError> {
        let mut token = [0u8; 16];
        rand::rng().fill_bytes(&mut token);
        let token = STANDARD.encode(token);
        let mut redis = self.redis.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.lock_key(user))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(lease.as_millis() as u64)
            .query_async(&mut redis)
            .await?;
        Ok(taken.map(|_| token))
    }

    /// Releases the refresh lock of `user`, if `token` still holds it.
    pub async fn unlock_refresh(&self, user: UserId, token: &str) -> Result<(), CredentialError> {
        let mut redis = self.redis.clone();
        let key = self.lock_key(user);
        let holder: Option<String> = redis.get(&key).await?;
        if holder.as_deref() == Some(token) {
            redis.del::<_, ()>(&key).await?;
        }
        Ok(())
    }

    fn lock_key(&self, user: UserId) -> String {
        format!("{}:refreshing", self.key(user))
    }

    /// Forgets `user`'s session.
    pub async fn delete(&self, user: UserId) -> Result<(), CredentialError> {
        let mut redis = self.redis.clone();
        redis.del::<_, ()>(self.key(user)).await?;
        Ok(())
    }
}
