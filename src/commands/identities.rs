//! `openmeet-sync identities enrich`, and the Bluesky settings `serve`
//! shares with it: where DIDs and handles resolve, where credentials are
//! kept, who administers.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::builder::BoolishValueParser;
use clap::{Args, Subcommand};
use followers::SnapshotPolicy;
use followers::Supervisor;
use publish::enrich::Enricher;
use publish::occurrences::{OccurrencePublishError, OccurrencePublisher};
use publish::rsvps::RsvpPublisher;
use publish::{ClientKey, CredentialStore, OAuth, OAuthClient, Reach, Resolver, ResolverConfig};

/// Where identities resolve.
#[derive(Args, Clone)]
pub struct ResolverArgs {
    /// The PLC directory DID documents are read from.
    #[arg(long, env = "PLC_URL", default_value = "https://plc.directory")]
    plc_url: String,
    /// A service answering com.atproto.identity.resolveHandle.
    #[arg(
        long,
        env = "HANDLE_RESOLVER_URL",
        default_value = "https://public.api.bsky.app"
    )]
    handle_resolver_url: String,
    /// The longest one identity lookup may take, in seconds.
    #[arg(long, env = "RESOLVE_TIMEOUT_SECS", default_value_t = 5)]
    resolve_timeout_secs: u64,
    /// Let lookups, logins and publishing call loopback and private
    /// addresses (a PDS on this machine or a private network). Off, a DID
    /// document naming such an address is refused.
    #[arg(long, env = "ALLOW_PRIVATE_ADDRESSES", value_parser = BoolishValueParser::new())]
    allow_private_addresses: bool,
}

impl ResolverArgs {
    /// The resolver these settings describe; an error, stopping start-up,
    /// when its guarded HTTP client cannot be built.
    pub fn resolver(&self) -> anyhow::Result<Resolver> {
        Ok(Resolver::new(&ResolverConfig {
            plc_url: self.plc_url.clone(),
            handle_resolver_url: self.handle_resolver_url.clone(),
            timeout: Duration::from_secs(self.resolve_timeout_secs),
            reach: if self.allow_private_addresses {
                Reach::Anywhere
            } else {
                Reach::PublicOnly
            },
        })?)
    }
}

/// Login, sessions and credentials of `serve`.
#[derive(Args)]
pub struct AuthArgs {
    #[command(flatten)]
    resolver: ResolverArgs,
    /// Redis, for Bluesky credentials and the login rate limits.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Put before every Redis key (to share one Redis between deployments).
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    redis_key_prefix: String,
    /// 32 bytes, base64: the key Bluesky credentials are encrypted with in
    /// Redis. Without it, logins work but no credentials are kept.
    #[arg(long, env = "CREDENTIALS_KEY", hide_env_values = true)]
    credentials_key: Option<String>,
    /// DIDs of OpenMeet administrators, comma-separated.
    #[arg(long, env = "ADMIN_DIDS", value_delimiter = ',')]
    admin_dids: Vec<String>,
    /// How long an OpenMeet session lasts, in hours.
    #[arg(long, env = "SESSION_TTL_HOURS", default_value_t = 24 * 7)]
    session_ttl_hours: i64,
    /// OpenMeet's site: published records link to `{site}/series/{slug}`.
    #[arg(long, env = "OPENMEET_URL", default_value = "https://openmeet.net")]
    openmeet_url: String,
    /// How often publishing looks at the clock, in seconds.
    #[arg(long, env = "PUBLISH_TICK_SECS", default_value_t = 30)]
    publish_tick_secs: u64,
    /// Do not resolve handles and display names of new shadow accounts.
    #[arg(long, env = "NO_IDENTITY_ENRICHMENT", value_parser = BoolishValueParser::new())]
    no_identity_enrichment: bool,
    /// The public https URL of this server, for a confidential OAuth client
    /// (its metadata at {url}/oauth/client-metadata.json). Without it, OAuth
    /// logins use a loopback client (development and tests).
    #[arg(long, env = "OAUTH_PUBLIC_URL")]
    oauth_public_url: Option<String>,
    /// The confidential client's private signing key: a P-256 JWK with a
    /// "kid" (`openmeet-sync auth oauth-key` makes one).
    #[arg(long, env = "OAUTH_CLIENT_KEY", hide_env_values = true)]
    oauth_client_key: Option<String>,
    #[command(flatten)]
    limits: LoginLimitArgs,
}

/// How many logins a caller may start and fail.
#[derive(Args)]
pub struct LoginLimitArgs {
    /// Logins one address may start in a minute.
    #[arg(long, env = "LOGIN_STARTS_PER_ADDRESS", default_value_t = 30)]
    login_starts_per_address: u64,
    /// Logins one handle or DID may start in a minute.
    #[arg(long, env = "LOGIN_STARTS_PER_HANDLE", default_value_t = 10)]
    login_starts_per_handle: u64,
    /// Failed logins after which an address waits out a quarter of an hour.
    #[arg(long, env = "LOGIN_FAILURES_PER_ADDRESS", default_value_t = 20)]
    login_failures_per_address: u64,
    /// Failed logins after which a handle or DID waits out a quarter of an
    /// hour.
    #[arg(long, env = "LOGIN_FAILURES_PER_HANDLE", default_value_t = 5)]
    login_failures_per_handle: u64,
    /// Count callers by the last `X-Forwarded-For` entry: only behind a
    /// proxy that every client goes through (anyone else can write it).
    #[arg(long, env = "TRUST_FORWARDED_FOR", value_parser = BoolishValueParser::new())]
    trust_forwarded_for: bool,
}

impl LoginLimitArgs {
    fn throttle(
        &self,
        redis: redis::aio::ConnectionManager,
        prefix: &str,
    ) -> api::auth::throttle::Throttle {
        use domain::login_limits::{Limit, LoginLimits};
        let defaults = LoginLimits::default();
        let per = |attempts, like: Limit| Limit { attempts, ..like };
        let limits = LoginLimits {
            starts_per_address: per(self.login_starts_per_address, defaults.starts_per_address),
            starts_per_handle: per(self.login_starts_per_handle, defaults.starts_per_handle),
            failures_per_address: per(
                self.login_failures_per_address,
                defaults.failures_per_address,
            ),
            failures_per_handle: per(self.login_failures_per_handle, defaults.failures_per_handle),
        };
        let throttle = api::auth::throttle::Throttle::new(redis, prefix, limits);
        if self.trust_forwarded_for {
            throttle.trusting_forwarded_for()
        } else {
            throttle
        }
    }
}

impl AuthArgs {
    /// The OAuth client: confidential when a public URL is configured,
    /// else a loopback client of the API at `listen`.
    fn oauth_client(&self, listen: SocketAddr) -> anyhow::Result<OAuthClient> {
        match (&self.oauth_public_url, &self.oauth_client_key) {
            (Some(url), Some(key)) => {
                let key = ClientKey::from_jwk(key)?;
                Ok(OAuthClient::confidential(url, key)?)
            }
            (Some(_), None) => anyhow::bail!(
                "OAUTH_PUBLIC_URL is set without OAUTH_CLIENT_KEY: a published client signs its token requests (`openmeet-sync auth oauth-key` makes a key)"
            ),
            (None, _) => {
                let ip = match listen.ip() {
                    ip if ip.is_unspecified() && ip.is_ipv6() => IpAddr::from(Ipv6Addr::LOCALHOST),
                    ip if ip.is_unspecified() => IpAddr::from(Ipv4Addr::LOCALHOST),
                    ip => ip,
                };
                Ok(OAuthClient::loopback(&format!(
                    "http://{}",
                    SocketAddr::new(ip, listen.port())
                ))?)
            }
        }
    }

    /// The API's login settings, for an API listening on `listen`.
    pub async fn auth(&self, listen: SocketAddr) -> anyhow::Result<api::Auth> {
        let client = redis::Client::open(self.redis_url.as_str())
            .with_context(|| format!("REDIS_URL {:?} is not a Redis URL", self.redis_url))?;
        let redis = redis::aio::ConnectionManager::new(client)
            .await
            .with_context(|| format!("cannot connect to Redis at {}", self.redis_url))?;
        let credentials = match &self.credentials_key {
            Some(key) => Some(CredentialStore::new(
                redis.clone(),
                key,
                &self.redis_key_prefix,
            )?),
            None => {
                tracing::warn!(
                    "CREDENTIALS_KEY is not set: logins work, but no Bluesky credentials are kept for publishing"
                );
                None
            }
        };
        let resolver = self.resolver.resolver()?;
        let oauth = match &credentials {
            Some(store) => Some(OAuth::new(
                self.oauth_client(listen)?,
                resolver.clone(),
                store.clone(),
            )),
            None => None,
        };
        Ok(api::Auth {
            resolver,
            credentials,
            oauth,
            throttle: self.limits.throttle(redis, &self.redis_key_prefix),
            session_ttl: chrono::Duration::hours(self.session_ttl_hours),
            admins: Arc::new(
                self.admin_dids
                    .iter()
                    .map(|d| d.trim().to_owned())
                    .collect::<HashSet<_>>(),
            ),
        })
    }

    /// The site published records link to.
    pub fn site(&self) -> &str {
        &self.openmeet_url
    }

    /// Runs the identity enricher under `supervisor`, unless turned off.
    pub fn spawn_enricher(
        &self,
        supervisor: &Supervisor,
        store: store::PgEventStore,
    ) -> anyhow::Result<()> {
        if self.no_identity_enrichment {
            return Ok(());
        }
        let resolver = self.resolver.resolver()?;
        supervisor.spawn("identity-enricher", move || {
            let (store, resolver) = (store.clone(), resolver.clone());
            async move { Enricher::start(store, resolver).await?.follow().await }
        });
        Ok(())
    }

    /// Runs the publishing scheduler (on the system clock) and the
    /// occurrence publisher under `supervisor`, when credentials are kept;
    /// each looks at the log every publishing tick.
    pub fn spawn_publishing(
        &self,
        supervisor: &Supervisor,
        store: store::PgEventStore,
        auth: &api::Auth,
    ) {
        let Some(keeper) = auth.keeper(&store) else {
            return;
        };
        let (site, every) = (
            self.openmeet_url.clone(),
            Duration::from_secs(self.publish_tick_secs.max(1)),
        );
        let http = auth.resolver.http().clone();
        let scheduler_store = store.clone();
        supervisor.spawn::<_, _, followers::FollowError>(followers::scheduler::NAME, move || {
            let (store, site) = (scheduler_store.clone(), site.clone());
            async move {
                let (mut scheduler, _) =
                    followers::scheduler::start(store, &site, SnapshotPolicy::default()).await?;
                let mut ticks = tokio::time::interval(every);
                loop {
                    ticks.tick().await;
                    let now = domain::Timestamp::from_datetime(chrono::Utc::now());
                    scheduler.tick(now).await?;
                }
            }
        });
        supervisor.spawn::<_, _, OccurrencePublishError>("occurrence-publisher", move || {
            let (store, keeper, http) = (store.clone(), keeper.clone(), http.clone());
            async move {
                let mut ticks = tokio::time::interval(every);
                loop {
                    ticks.tick().await;
                    OccurrencePublisher::start(store.clone(), keeper.clone(), http.clone())
                        .await?
                        .run_until_idle()
                        .await?;
                }
            }
        });
    }
}

/// Publishes the RSVPs of OpenMeet users to their Bluesky repositories
/// under `supervisor`, when credentials are kept; started again after a
/// failure (Bluesky or Redis unavailable), from its checkpoint.
pub fn spawn_rsvp_publisher(supervisor: &Supervisor, store: store::PgEventStore, auth: &api::Auth) {
    let Some(keeper) = auth.keeper(&store) else {
        return;
    };
    let http = auth.resolver.http().clone();
    supervisor.spawn("rsvp-publisher", move || {
        let (store, keeper, http) = (store.clone(), keeper.clone(), http.clone());
        async move {
            RsvpPublisher::start(store, keeper, http)
                .await?
                .follow()
                .await
        }
    });
}

/// `identities` subcommands.
#[derive(Subcommand)]
pub enum IdentitiesCommand {
    /// Resolve the handles and display names of new shadow accounts.
    Enrich {
        #[command(flatten)]
        resolver: ResolverArgs,
        /// Stop at the head of the log instead of following it.
        #[arg(long)]
        until_idle: bool,
    },
}

/// Runs an `identities` subcommand.
pub async fn run(database_url: &str, command: IdentitiesCommand) -> anyhow::Result<ExitCode> {
    let IdentitiesCommand::Enrich {
        resolver,
        until_idle,
    } = command;
    let store = super::connect(database_url).await?;
    let mut enricher = Enricher::start(store, resolver.resolver()?)
        .await
        .context("starting the identity enricher")?;
    if until_idle {
        let recorded = enricher
            .run_until_idle()
            .await
            .context("enriching identities")?;
        println!("identity enricher: {recorded} identity events recorded");
        return Ok(ExitCode::SUCCESS);
    }
    tokio::select! {
        outcome = enricher.follow() => outcome.context("the identity enricher stopped")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping the identity enricher"),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        auth: AuthArgs,
    }

    fn args(given: &[&str]) -> AuthArgs {
        Cli::try_parse_from(std::iter::once("openmeet-sync").chain(given.iter().copied()))
            .unwrap()
            .auth
    }

    #[test]
    fn the_loopback_client_is_the_api_on_a_loopback_address() {
        let client = args(&[])
            .oauth_client("0.0.0.0:8080".parse().unwrap())
            .unwrap();
        assert_eq!(
            client.redirect_uri(),
            "http://127.0.0.1:8080/api/auth/bluesky/callback"
        );
        let client = args(&[])
            .oauth_client("[::]:9000".parse().unwrap())
            .unwrap();
        assert_eq!(
            client.redirect_uri(),
            "http://[::1]:9000/api/auth/bluesky/callback"
        );
    }

    #[test]
    fn a_published_client_needs_its_signing_key() {
        let listen = "127.0.0.1:8080".parse().unwrap();
        let without = args(&["--oauth-public-url", "https://sync.example"]).oauth_client(listen);
        assert!(
            without
                .unwrap_err()
                .to_string()
                .contains("OAUTH_CLIENT_KEY")
        );
        let key = ClientKey::generate("k1").to_private_jwk().to_string();
        let client = args(&[
            "--oauth-public-url",
            "https://sync.example",
            "--oauth-client-key",
            &key,
        ])
        .oauth_client(listen)
        .unwrap();
        assert_eq!(
            client.client_id(),
            "https://sync.example/oauth/client-metadata.json"
        );
        assert_eq!(client.metadata()["jwks"]["keys"][0]["kid"], "k1");
        let broken = args(&[
            "--oauth-public-url",
            "https://sync.example",
            "--oauth-client-key",
            "{}",
        ])
        .oauth_client(listen);
        assert!(broken.unwrap_err().to_string().contains("OAuth client key"));
    }
}
