//! Handles and DIDs to the PDS that hosts them (`atrium-identity`): DID
//! documents from a configurable PLC directory (the test PDS runs its own)
//! or from `did:web`, handles through a `resolveHandle` service.

use std::sync::Arc;
use std::time::Duration;

use atrium_api::types::string::{AtIdentifier, Did};
use atrium_common::resolver::Resolver as _;
use atrium_identity::did::{CommonDidResolver, CommonDidResolverConfig};
use atrium_identity::handle::{AppViewHandleResolver, AppViewHandleResolverConfig};
use thiserror::Error;

use crate::egress::{self, BuildError, GuardedClient, Reach, Refused};

/// Where identities are resolved.
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    /// The PLC directory (`https://plc.directory` on the network).
    pub plc_url: String,
    /// A service answering `com.atproto.identity.resolveHandle` (an AppView
    /// or a PDS).
    pub handle_resolver_url: String,
    /// The longest any one lookup may take.
    pub timeout: Duration,
    /// Which addresses lookups, logins and publishing may call.
    pub reach: Reach,
}

impl ResolverConfig {
    /// The public network's services, with a 5 s timeout, calling public
    /// addresses only.
    pub fn network() -> Self {
        Self {
            plc_url: "https://plc.directory".into(),
            handle_resolver_url: "https://public.api.bsky.app".into(),
            timeout: Duration::from_secs(5),
            reach: Reach::PublicOnly,
        }
    }

    /// Services on this machine or a private network (a test PDS and its
    /// PLC directory), with a 5 s timeout, calling any address.
    pub fn local(plc_url: &str, handle_resolver_url: &str) -> Self {
        Self {
            plc_url: plc_url.to_owned(),
            handle_resolver_url: handle_resolver_url.to_owned(),
            timeout: Duration::from_secs(5),
            reach: Reach::Anywhere,
        }
    }
}

/// A DID and what its document says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The DID.
    pub did: String,
    /// The handle the document claims and that resolves back to the DID;
    /// `None` when either side does not confirm it.
    pub handle: Option<String>,
    /// The PDS hosting the DID's repository.
    pub pds: String,
}

/// Why an identity did not resolve.
#[derive(Debug, Error)]
pub enum ResolveError {
    /// Neither a DID nor a handle.
    #[error("{0:?} is neither a DID nor a handle")]
    NotAnIdentifier(String),
    /// The lookup failed (network, status, document).
    #[error("{identifier}: {reason}")]
    Lookup {
        /// What was looked up.
        identifier: String,
        /// What failed.
        reason: String,
    },
    /// The DID document names no PDS.
    #[error("{0}: the DID document names no AtprotoPersonalDataServer")]
    NoPds(String),
    /// The DID, or the PDS its document names, is an address we may not
    /// call.
    #[error("{identifier}: {refused}")]
    Refused {
        /// What was looked up.
        identifier: String,
        /// The refused URL and why.
        refused: Refused,
    },
    /// The handle's DID document does not claim the handle back.
    #[error("{handle} resolves to {did}, whose DID document does not claim {handle}")]
    HandleNotClaimed {
        /// The handle.
        handle: String,
        /// The DID it resolved to.
        did: String,
    },
}

/// Resolves handles and DIDs.
#[derive(Clone)]
pub struct Resolver {
    dids: Arc<CommonDidResolver<GuardedClient>>,
    handles: Arc<AppViewHandleResolver<GuardedClient>>,
    http: GuardedClient,
}

impl Resolver {
    /// A resolver over `config`'s services; an error when the guarded
    /// client cannot be built.
    pub fn new(config: &ResolverConfig) -> Result<Self, BuildError> {
        let trusted = [&config.plc_url, &config.handle_resolver_url]
            .into_iter()
            .filter_map(|url| egress::host_name(url))
            .collect();
        let http = GuardedClient::new(config.timeout, config.reach, trusted)?;
        Ok(Self {
            dids: Arc::new(CommonDidResolver::new(CommonDidResolverConfig {
                plc_directory_url: config.plc_url.clone(),
                http_client: Arc::new(http.clone()),
            })),
            handles: Arc::new(AppViewHandleResolver::new(AppViewHandleResolverConfig {
                service_url: config.handle_resolver_url.clone(),
                http_client: Arc::new(http.clone()),
            })),
            http,
        })
    }

    /// The guarded HTTP client lookups share (with the configured timeout
    /// and reach): every outbound call of the server goes through it.
    pub fn http(&self) -> &GuardedClient {
        &self.http
    }

    /// Which addresses the HTTP client may call.
    pub fn reach(&self) -> Reach {
        self.http.reach()
    }

    /// The DID behind `identifier` (a DID or a handle) and its PDS. A handle
    /// must be claimed back by the DID's document.
    pub async fn resolve(&self, identifier: &str) -> Result<Resolved, ResolveError> {
        let parsed: AtIdentifier = identifier
            .parse()
            .map_err(|_| ResolveError::NotAnIdentifier(identifier.to_owned()))?;
        match parsed {
            AtIdentifier::Did(did) => self.did(&did).await,
            AtIdentifier::Handle(handle) => {
                let did = self
                    .handles
                    .resolve(&handle)
                    .await
                    .map_err(|err| lookup(identifier, err))?;
                let resolved = self.did(&did).await?;
                if resolved.handle.as_deref() != Some(handle.as_str()) {
                    return Err(ResolveError::HandleNotClaimed {
                        handle: handle.as_str().to_owned(),
                        did: resolved.did,
                    });
                }
                Ok(resolved)
            }
        }
    }

    async fn did(&self, did: &Did) -> Result<Resolved, ResolveError> {
        let refused = |refused| ResolveError::Refused {
            identifier: did.as_str().to_owned(),
            refused,
        };
        // did:web:HOST[:PATH...], a port in HOST written as %3A.
        if let Some(rest) = did.as_str().strip_prefix("did:web:") {
            let host = rest.split(':').next().unwrap_or_default();
            let host = host.replace("%3A", ":").replace("%3a", ":");
            self.reach()
                .check_resolved(&format!("https://{host}/.well-known/did.json"))
                .await
                .map_err(refused)?;
        }
        let document = self
            .dids
            .resolve(did)
            .await
            .map_err(|err| lookup(did.as_str(), err))?;
        let pds = document
            .get_pds_endpoint()
            .ok_or_else(|| ResolveError::NoPds(did.as_str().to_owned()))?;
        self.reach().check_resolved(&pds).await.map_err(refused)?;
        let claimed = document
            .also_known_as
            .iter()
            .flatten()
            .find_map(|aka| aka.strip_prefix("at://"))
            .map(str::to_owned);
        let handle = match claimed {
            Some(handle) => self.confirmed(handle, did).await,
            None => None,
        };
        Ok(Resolved {
            did: did.as_str().to_owned(),
            handle,
            pds,
        })
    }

    /// `handle` when it resolves back to `did`: a DID document alone may
    /// claim any handle.
    async fn confirmed(&self, handle: String, did: &Did) -> Option<String> {
        let parsed = handle.parse().ok()?;
        match self.handles.resolve(&parsed).await {
            Ok(back) if back == *did => Some(handle),
            Ok(back) => {
                tracing::warn!(%handle, did = did.as_str(), resolves_to = back.as_str(), "a DID document claims a handle that is not its own");
                None
            }
            Err(err) => {
                tracing::warn!(%handle, did = did.as_str(), error = %err, "the handle of a DID document did not resolve");
                None
            }
        }
    }
}

fn lookup(identifier: &str, err: impl std::fmt::Display) -> ResolveError {
    ResolveError::Lookup {
        identifier: identifier.to_owned(),
        reason: err.to_string(),
    }
}
