//! The Bluesky side of openmeet-sync: resolving handles and DIDs to their
//! PDS, logging in with an app password or ATProto OAuth on the DID's own
//! PDS, reading profiles, and keeping the resulting sessions encrypted in
//! Redis.
//!
//! Everything here is an adapter: XRPC (through `atrium-api`), HTTP and
//! Redis. The rules it serves live in `domain`.

#![warn(missing_docs)]

pub mod backfill;
pub mod credentials;
pub mod egress;
pub mod enrich;
mod jwt;
pub mod login;
pub mod oauth;
pub mod occurrences;
pub mod profile;
pub mod repo;
pub mod resolve;
pub mod rsvps;
pub mod sessions;

pub use credentials::{CredentialError, CredentialStore, OauthBinding, SessionKind, StoredSession};
pub use egress::{BuildError, GuardedClient, Reach, Refused};
pub use login::{LoginError, log_in_with_app_password};
pub use oauth::{Callback, ClientKey, OAuth, OAuthClient, OAuthError};
pub use profile::display_name;
pub use repo::{PublishError, RepoClient, Retries, Written};
pub use resolve::{ResolveError, Resolved, Resolver, ResolverConfig};
pub use sessions::{SessionError, SessionKeeper};
