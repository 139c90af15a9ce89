//! Login rate limits ([`domain::login_limits`]), counted in Redis so that
//! every API process behind one address shares them. A caller over a limit
//! is answered 429 with `Retry-After`; when Redis cannot be asked, logins
//! are refused (503) rather than let through uncounted.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use domain::login_limits::{Count, Counted, LoginLimits, Subject, Verdict, handle, network};
use redis::aio::ConnectionManager;

use crate::{ApiError, AppState};

/// The login counters of one deployment.
#[derive(Clone)]
pub struct Throttle {
    redis: ConnectionManager,
    prefix: String,
    limits: LoginLimits,
    trust_forwarded_for: bool,
}

impl Throttle {
    /// Counters on `redis`, their keys after `prefix` (empty in production;
    /// tests isolate with it).
    pub fn new(redis: ConnectionManager, prefix: &str, limits: LoginLimits) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
            limits,
            trust_forwarded_for: false,
        }
    }

    /// The same counters, taking the caller's address from the last entry of
    /// `X-Forwarded-For` (the one the proxy in front of this server added).
    /// Only for a server that no client reaches but through that proxy:
    /// anyone else could write the header.
    pub fn trusting_forwarded_for(self) -> Self {
        Self {
            trust_forwarded_for: true,
            ..self
        }
    }

    /// Admits a login started from `address` for `identifier`, and counts
    /// it: refused when either has failed too often, or started too many.
    pub async fn admit(&self, address: IpAddr, identifier: &str) -> Result<(), ApiError> {
        let subjects = [network(address), handle(identifier)];
        for subject in &subjects {
            self.refuse_after_failures(subject).await?;
        }
        for subject in &subjects {
            let counted = self.count(Count::Starts, subject).await?;
            self.judge(Count::Starts, subject, counted)?;
        }
        Ok(())
    }

    /// Refuses a caller at `address` that failed too often (for the end of a
    /// login, which names no handle).
    pub async fn check(&self, address: IpAddr) -> Result<(), ApiError> {
        self.refuse_after_failures(&network(address)).await
    }

    /// Counts a refused login from `address`, of `identifier` when the
    /// login named one. The refusal itself is answered whatever happens
    /// here; a counter Redis would not take is logged.
    pub async fn failed(&self, address: IpAddr, identifier: Option<&str>) {
        let subjects = std::iter::once(network(address)).chain(identifier.map(handle));
        for subject in subjects {
            if let Err(err) = self.count(Count::Failures, &subject).await {
                tracing::warn!(subject = %subject.describe(), error = %err, "a failed login was not counted");
            }
        }
    }

    async fn refuse_after_failures(&self, subject: &Subject) -> Result<(), ApiError> {
        let failed = self.peek(Count::Failures, subject).await?;
        // This attempt is refused when, failing, it would be one too many.
        let this_one = Counted {
            attempts: failed.attempts + 1,
            ..failed
        };
        self.judge(Count::Failures, subject, this_one)
    }

    fn judge(&self, count: Count, subject: &Subject, counted: Counted) -> Result<(), ApiError> {
        let Verdict::Wait(retry_after) = self.limits.of(count, subject).judge(counted) else {
            return Ok(());
        };
        let what = match count {
            Count::Starts => "logins started",
            Count::Failures => "failed logins",
        };
        let message = format!(
            "too many {what} {}: try again in {} s",
            subject.describe(),
            retry_after.as_secs()
        );
        tracing::warn!(%message, "login rate-limited");
        Err(ApiError::RateLimited {
            message,
            retry_after,
        })
    }

    fn key(&self, count: Count, subject: &Subject) -> String {
        format!("{}{}", self.prefix, subject.key(count))
    }

    /// One more attempt on a counter; its window starts with its first.
    async fn count(&self, count: Count, subject: &Subject) -> Result<Counted, ApiError> {
        let key = self.key(count, subject);
        let window = self.limits.of(count, subject).window.as_secs().max(1);
        let (attempts, ttl): (u64, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("EX")
            .arg(window)
            .arg("NX")
            .ignore()
            .cmd("INCR")
            .arg(&key)
            .cmd("TTL")
            .arg(&key)
            .query_async(&mut self.redis.clone())
            .await
            .map_err(unavailable)?;
        Ok(counted(attempts, ttl))
    }

    async fn peek(&self, count: Count, subject: &Subject) -> Result<Counted, ApiError> {
        let key = self.key(count, subject);
        let (attempts, ttl): (Option<u64>, i64) = redis::pipe()
            .cmd("GET")
            .arg(&key)
            .cmd("TTL")
            .arg(&key)
            .query_async(&mut self.redis.clone())
            .await
            .map_err(unavailable)?;
        Ok(counted(attempts.unwrap_or(0), ttl))
    }
}

/// Redis answers a TTL of -1 for a key without expiry and -2 for none.
fn counted(attempts: u64, ttl: i64) -> Counted {
    Counted {
        attempts,
        resets_in: u64::try_from(ttl).ok().map(Duration::from_secs),
    }
}

fn unavailable(err: redis::RedisError) -> ApiError {
    ApiError::Unavailable(format!(
        "logins are refused while their rate limits cannot be counted (Redis: {err})"
    ))
}

/// The address a request came from: the connection's peer, or the
/// forwarding proxy's word when the throttle trusts it. A request handed
/// to the router without a connection (in process) counts as 0.0.0.0.
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let trusted = state
            .auth
            .as_ref()
            .is_some_and(|auth| auth.throttle.trust_forwarded_for);
        let forwarded = trusted
            .then(|| parts.headers.get_all("x-forwarded-for").iter().next_back())
            .flatten()
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        Ok(ClientAddress(
            forwarded
                .or(peer)
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::login_limits::Limit;

    /// A throttle on the local Redis with its own key prefix, and small
    /// limits: 3 starts per address, 2 per handle, 2 failures per handle.
    async fn throttle() -> Throttle {
        let redis = ConnectionManager::new(redis::Client::open("redis://127.0.0.1:6379").unwrap())
            .await
            .unwrap();
        let limit = |attempts, seconds| Limit {
            attempts,
            window: Duration::from_secs(seconds),
        };
        let limits = LoginLimits {
            starts_per_address: limit(3, 60),
            starts_per_handle: limit(2, 60),
            failures_per_address: limit(10, 900),
            failures_per_handle: limit(2, 900),
        };
        let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
        Throttle::new(redis, &prefix, limits)
    }

    async fn forget(throttle: &Throttle) {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", throttle.prefix))
            .query_async(&mut throttle.redis.clone())
            .await
            .unwrap();
        for key in keys {
            let _: () = redis::cmd("DEL")
                .arg(key)
                .query_async(&mut throttle.redis.clone())
                .await
                .unwrap();
        }
    }

    fn waited(refusal: Result<(), ApiError>) -> (String, Duration) {
        match refusal {
            Err(ApiError::RateLimited {
                message,
                retry_after,
            }) => (message, retry_after),
            other => panic!("not rate-limited: {other:?}"),
        }
    }

    #[tokio::test]
    async fn one_address_may_start_only_so_many_logins_whatever_the_handle() {
        let throttle = throttle().await;
        let address: IpAddr = "192.0.2.10".parse().unwrap();
        for handle in ["a.test", "b.test", "c.test"] {
            throttle.admit(address, handle).await.unwrap();
        }
        let (message, retry_after) = waited(throttle.admit(address, "d.test").await);
        assert!(
            message.contains("logins started from 192.0.2.10"),
            "{message}"
        );
        assert!(
            (Duration::from_secs(1)..=Duration::from_secs(60)).contains(&retry_after),
            "{retry_after:?}"
        );
        throttle
            .admit("192.0.2.11".parse().unwrap(), "d.test")
            .await
            .expect("another address is counted apart");
        let same_network: [IpAddr; 4] = [
            "2001:db8:7:7::1".parse().unwrap(),
            "2001:db8:7:7::2".parse().unwrap(),
            "2001:db8:7:7:ffff::3".parse().unwrap(),
            "2001:db8:7:7:1:2:3:4".parse().unwrap(),
        ];
        for (n, address) in same_network[..3].iter().enumerate() {
            throttle
                .admit(*address, &format!("v6-{n}.test"))
                .await
                .unwrap();
        }
        waited(throttle.admit(same_network[3], "v6-3.test").await);
        forget(&throttle).await;
    }

    #[tokio::test]
    async fn a_handle_that_failed_too_often_waits_from_every_address() {
        let throttle = throttle().await;
        let first: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..2 {
            throttle.failed(first, Some("Carol.Test")).await;
        }
        let (message, retry_after) = waited(
            throttle
                .admit("198.51.100.2".parse().unwrap(), "@carol.test")
                .await,
        );
        assert!(
            message.contains("failed logins for carol.test"),
            "{message}"
        );
        assert!(retry_after > Duration::from_secs(800), "{retry_after:?}");
        throttle
            .admit(first, "dave.test")
            .await
            .expect("the address has failed twice only, under its own limit");
        throttle
            .check(first)
            .await
            .expect("callbacks from the address go on");
        forget(&throttle).await;
    }

    #[tokio::test]
    async fn starts_of_one_handle_are_counted_across_addresses() {
        let throttle = throttle().await;
        throttle
            .admit("203.0.113.1".parse().unwrap(), "erin.test")
            .await
            .unwrap();
        throttle
            .admit("203.0.113.2".parse().unwrap(), "ERIN.test")
            .await
            .unwrap();
        let (message, _) = waited(
            throttle
                .admit("203.0.113.3".parse().unwrap(), "erin.test")
                .await,
        );
        assert!(message.contains("for erin.test"), "{message}");
        forget(&throttle).await;
    }
}
