//! One module per subcommand.

pub mod audit;
pub mod auth;
pub mod backfill;
pub mod background;
pub mod events;
pub mod identities;
pub mod import;
pub mod import_openmeet;
pub mod ingest;
pub mod intake;
pub mod migrate;
pub mod project;
pub mod publish;
pub mod rebuild;
pub mod reconcile;
pub mod recurrence;
pub mod series;
pub mod serve;
pub mod skip;

use anyhow::Context;
use store::PgEventStore;

/// Connects to a migrated database.
pub async fn connect(database_url: &str) -> anyhow::Result<PgEventStore> {
    PgEventStore::connect(database_url, 16)
        .await
        .with_context(|| format!("cannot open the event store at {}", redact(database_url)))
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
    }
}
