//! The repository client against the real PDS: a record written under a
//! key chosen beforehand, replaced with the CID last seen, a stale CID
//! refused as a swap conflict (not retried), bad records and sessions
//! refused with their type, and what is written valid by the reference
//! lexicon validator.

use domain::Timestamp;
use domain::record_key::record_key;
use publish::{PublishError, RepoClient, Retries};
use serde_json::{Value, json};

#[path = "support/lexicon.rs"]
mod lexicon;
#[path = "support/pds.rs"]
mod pds;

const EVENT: &str = "community.lexicon.calendar.event";

/// The guarded client, allowed to call the test PDS on loopback.
fn local_http() -> publish::GuardedClient {
    publish::GuardedClient::new(
        std::time::Duration::from_secs(5),
        publish::Reach::Anywhere,
        Vec::new(),
    )
    .unwrap()
}

fn meetup(name: &str) -> Value {
    json!({
        "$type": EVENT,
        "name": name,
        "createdAt": "2026-12-01T10:00:00Z",
        "startsAt": "2026-12-08T18:00:00Z",
        "mode": "community.lexicon.calendar.event#inperson",
        "status": "community.lexicon.calendar.event#scheduled",
        "uris": [{"uri": "https://openmeet.net/series/rust-meetup", "name": "All dates of this series"}]
    })
}

#[tokio::test]
async fn records_are_written_under_their_chosen_key_and_refusals_are_typed() {
    let pds = pds::Pds::start();
    let owner = pds.create_account("pub", "publisher-app-pass").await;
    let repo = RepoClient::new(local_http(), &pds.url, &owner.did, &owner.access_jwt);
    let key = record_key(
        Timestamp::from_unix_micros(1_764_000_000_000_000),
        "occurrence-1",
    );
    assert!(
        key.parse::<atrium_api::types::string::Tid>().is_ok(),
        "{key} is a TID"
    );

    let first = repo
        .put(EVENT, &key, &meetup("Rust Meetup"), None)
        .await
        .unwrap();
    assert_eq!(first.uri, format!("at://{}/{EVENT}/{key}", owner.did));
    let same = meetup("Rust Meetup");
    let again = Retries::default()
        .run(|| repo.put(EVENT, &key, &same, None))
        .await
        .unwrap();
    assert_eq!(
        again, first,
        "a retried write is the same record, not a second one"
    );

    let edited = repo
        .put(EVENT, &key, &meetup("Rust Meetup Berlin"), Some(&first.cid))
        .await
        .unwrap();
    assert_ne!(edited.cid, first.cid);
    let (read, value) = repo.get(EVENT, &key).await.unwrap();
    assert_eq!(
        (read.cid.as_str(), value["name"].as_str()),
        (edited.cid.as_str(), Some("Rust Meetup Berlin"))
    );
    assert_eq!(
        lexicon::reference_verdict(EVENT, &value)["ok"],
        true,
        "{value}"
    );

    let other = meetup("Someone else's idea");
    let calls = std::cell::Cell::new(0);
    let stale = Retries::default()
        .run(|| {
            calls.set(calls.get() + 1);
            repo.put(EVENT, &key, &other, Some(&first.cid))
        })
        .await;
    assert_eq!(
        (stale, calls.get()),
        (Err(PublishError::SwapConflict), 1),
        "not retried"
    );

    let mut float = meetup("Floats are not in the data model");
    float["priority"] = json!(0.5);
    assert!(matches!(
        repo.put(
            EVENT,
            &record_key(Timestamp::from_unix_micros(1), "x"),
            &float,
            None
        )
        .await,
        Err(PublishError::InvalidRecord(_))
    ));
    let forged = RepoClient::new(local_http(), &pds.url, &owner.did, "forged");
    assert!(matches!(
        forged.put(EVENT, &key, &meetup("x"), None).await,
        Err(PublishError::Unauthorized(_))
    ));

    repo.delete(EVENT, &key, Some(&edited.cid)).await.unwrap();
    assert_eq!(
        repo.get(EVENT, &key).await.unwrap_err(),
        PublishError::NotFound
    );
}
