//! The display name of an account, from its `app.bsky.actor.profile`
//! record on its own PDS. Its absence is not an error: many accounts have
//! no profile, and a slow PDS must not hold anything up.

use atrium_api::client::AtpServiceClient;
use atrium_api::com::atproto::repo::get_record;

use crate::egress::Unauthenticated;
use crate::resolve::Resolver;

/// The collection of profile records.
const PROFILE: &str = "app.bsky.actor.profile";

/// The display name in `did`'s profile on `pds`, or `None` when there is no
/// profile, no display name, or the PDS does not answer in time.
#[tracing::instrument(skip(resolver))]
pub async fn display_name(resolver: &Resolver, did: &str, pds: &str) -> Option<String> {
    let client = AtpServiceClient::new(Unauthenticated::new(resolver.http(), pds));
    let params = get_record::ParametersData {
        cid: None,
        collection: PROFILE.parse().ok()?,
        repo: did.parse().ok()?,
        rkey: "self".parse().ok()?,
    };
    let record = match client
        .service
        .com
        .atproto
        .repo
        .get_record(params.into())
        .await
    {
        Ok(record) => record,
        Err(err) => {
            tracing::debug!(error = %err, "no profile");
            return None;
        }
    };
    let value = serde_json::to_value(&record.value).ok()?;
    value
        .get("displayName")
        .and_then(|name| name.as_str())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}
