//! A DID's calendar records read from its own PDS, for a backfill (issue
//! 25): when the firehose cannot give a record back (a new deployment, a
//! cursor older than the source keeps, a DID followed late), the PDS still
//! holds it. The repository's latest revision is read first, then every
//! record of both calendar collections, page by page
//! (`com.atproto.repo.listRecords`), so each record is known as of that
//! revision or a later one.

use atrium_api::client::AtpServiceClient;
use atrium_api::com::atproto::repo::{get_record, list_records};
use atrium_api::com::atproto::sync::get_latest_commit;
use atrium_api::types::string::{AtIdentifier, Nsid};
use thiserror::Error;

use crate::egress::Unauthenticated;
use crate::occurrences::EVENT;
use crate::rsvps::RSVP;
use crate::{ResolveError, Resolver};

/// The collections a backfill reads.
pub const COLLECTIONS: [&str; 2] = [EVENT, RSVP];

/// Records asked for per page.
const PAGE: u8 = 100;

/// One record as the PDS holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    /// Its collection.
    pub collection: &'static str,
    /// Its record key.
    pub rkey: String,
    /// Its CID.
    pub cid: String,
    /// The record.
    pub record: serde_json::Value,
}

/// Everything a DID's PDS holds in the calendar collections.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    /// The DID.
    pub did: String,
    /// Its PDS.
    pub pds: String,
    /// The repository's revision when the listing began: every record
    /// listed is as of this revision or later.
    pub rev: String,
    /// The records, collection by collection.
    pub records: Vec<Listed>,
}

/// Why a DID's records could not be read.
#[derive(Debug, Error)]
pub enum BackfillError {
    /// The DID did not resolve to a PDS.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The PDS did not answer, or answered with an error.
    #[error("{did}: {call} at {pds} failed: {reason}")]
    Call {
        /// The DID.
        did: String,
        /// Its PDS.
        pds: String,
        /// The XRPC method.
        call: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The PDS listed something that is not a record of the DID.
    #[error("{did}: the PDS at {pds} listed {uri:?}, which is not a record of this repository")]
    Foreign {
        /// The DID.
        did: String,
        /// Its PDS.
        pds: String,
        /// What it listed.
        uri: String,
    },
}

/// Reads `did`'s calendar records from its PDS.
#[tracing::instrument(skip(resolver))]
pub async fn list(resolver: &Resolver, did: &str) -> Result<Listing, BackfillError> {
    let resolved = resolver.resolve(did).await?;
    let pds = resolved.pds;
    let failed = |call: &'static str, reason: String| BackfillError::Call {
        did: did.to_owned(),
        pds: pds.clone(),
        call,
        reason,
    };
    let client = AtpServiceClient::new(Unauthenticated::new(resolver.http(), &pds));
    let repo = &client.service.com.atproto;
    let latest = repo
        .sync
        .get_latest_commit(
            get_latest_commit::ParametersData {
                did: did
                    .parse()
                    .map_err(|err: &str| failed("getLatestCommit", err.to_owned()))?,
            }
            .into(),
        )
        .await
        .map_err(|err| failed("getLatestCommit", err.to_string()))?;
    let mut records = vec![];
    let listed_repo: AtIdentifier = did
        .parse()
        .map_err(|err: &str| failed("listRecords", err.to_owned()))?;
    let limit = PAGE
        .try_into()
        .map_err(|err: String| failed("listRecords", err))?;
    for collection in COLLECTIONS {
        let nsid: Nsid = collection
            .parse()
            .map_err(|err: &str| failed("listRecords", err.to_owned()))?;
        let prefix = format!("at://{did}/{collection}/");
        let mut cursor = None;
        loop {
            let params = list_records::ParametersData {
                collection: nsid.clone(),
                cursor: cursor.clone(),
                limit: Some(limit),
                repo: listed_repo.clone(),
                reverse: None,
            };
            let page = repo
                .repo
                .list_records(params.into())
                .await
                .map_err(|err| failed("listRecords", err.to_string()))?;
            for record in &page.records {
                let Some(rkey) = record.uri.strip_prefix(&prefix) else {
                    return Err(BackfillError::Foreign {
                        did: did.to_owned(),
                        pds: pds.clone(),
                        uri: record.uri.clone(),
                    });
                };
                records.push(Listed {
                    collection,
                    rkey: rkey.to_owned(),
                    cid: record.cid.as_ref().to_string(),
                    record: serde_json::to_value(&record.value)
                        .map_err(|err| failed("listRecords", err.to_string()))?,
                });
            }
            match &page.cursor {
                Some(next) if !page.records.is_empty() => cursor = Some(next.clone()),
                _ => break,
            }
        }
    }
    Ok(Listing {
        did: did.to_owned(),
        pds: pds.clone(),
        rev: latest.rev.as_str().to_owned(),
        records,
    })
}

/// Whether `listing`'s PDS still lacks `collection/rkey`, asked once more
/// just before a deletion is recorded: a record created after the listing
/// is never taken for one deleted.
#[tracing::instrument(skip(resolver, listing), fields(did = %listing.did))]
pub async fn absent(
    resolver: &Resolver,
    listing: &Listing,
    collection: &str,
    rkey: &str,
) -> Result<bool, BackfillError> {
    let failed = |reason: String| BackfillError::Call {
        did: listing.did.clone(),
        pds: listing.pds.clone(),
        call: "getRecord",
        reason,
    };
    let client = AtpServiceClient::new(Unauthenticated::new(resolver.http(), &listing.pds));
    let params = get_record::ParametersData {
        cid: None,
        collection: collection
            .parse()
            .map_err(|err: &str| failed(err.to_owned()))?,
        repo: listing
            .did
            .parse()
            .map_err(|err: &str| failed(err.to_owned()))?,
        rkey: rkey.parse().map_err(|err: &str| failed(err.to_owned()))?,
    };
    match client
        .service
        .com
        .atproto
        .repo
        .get_record(params.into())
        .await
    {
        Ok(_) => Ok(false),
        Err(err) if err.to_string().contains("RecordNotFound") => Ok(true),
        Err(err) => Err(failed(err.to_string())),
    }
}
