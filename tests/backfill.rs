//! `openmeet-sync ingest backfill` against the real test PDS (issue 25):
//! records the firehose never delivered come back from their PDS through
//! the same intake; a second run, over every DID known (`--known`),
//! records nothing; a record edited on the PDS comes back at its new CID; a
//! DID that does not resolve is reported while the others are backfilled;
//! records deleted at the PDS while we were not listening are deleted
//! here, each with a `RecordMissingAtPds` saying why.

use std::process::{Command, Output};

use publish::{Resolver, ResolverConfig};
use serde_json::json;
use store::EventStore;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/pds.rs"]
mod pds;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use world::World;

const EVENT: &str = "community.lexicon.calendar.event";
const RSVP: &str = "community.lexicon.calendar.rsvp";

fn backfill(world: &World, pds: &pds::Pds, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"));
    command
        .args(["ingest", "backfill"])
        .env("DATABASE_URL", world.db.url())
        .env("PLC_URL", &pds.plc)
        .env("HANDLE_RESOLVER_URL", &pds.url)
        .env("ALLOW_PRIVATE_ADDRESSES", "true")
        .env("RUST_LOG", "error");
    command.args(args);
    command.output().unwrap()
}

fn event(name: &str) -> serde_json::Value {
    json!({"$type": EVENT, "name": name, "createdAt": "2026-12-01T10:00:00Z",
        "startsAt": "2026-12-15T18:00:00Z"})
}

async fn names(world: &World) -> Vec<(String, String)> {
    sqlx::query_as("SELECT external_id, name FROM read.occurrences WHERE state = 'active' ORDER BY external_id")
        .fetch_all(world.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn records_the_firehose_never_delivered_come_back_from_their_pds_once() {
    let pds = pds::Pds::start();
    let world =
        World::new(Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).unwrap()).await;
    let host = pds.create_account("host", "host-app-password").await;
    let guest = pds.create_account("guest", "guest-app-password").await;
    let meetup = pds
        .put_record(&host, EVENT, "3meetup1", event("Rust Meetup"))
        .await;
    let social = pds
        .put_record(&host, EVENT, "3social1", event("Social"))
        .await;
    let answer = json!({"$type": RSVP, "createdAt": "2026-12-02T10:00:00Z",
        "status": "community.lexicon.calendar.rsvp#going",
        "subject": {"uri": meetup["uri"], "cid": meetup["cid"]}});
    pds.put_record(&guest, RSVP, "3answer1", answer).await;

    let first = backfill(&world, &pds, &["--did", &host.did, "--did", &guest.did]);
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        said.contains("backfilled 2 of 2 DIDs: 3 records read: 3 applied"),
        "{said}"
    );
    world.project().await;
    let uri = |written: &serde_json::Value| written["uri"].as_str().unwrap().to_owned();
    assert_eq!(
        names(&world).await,
        [
            (uri(&meetup), "Rust Meetup".to_owned()),
            (uri(&social), "Social".to_owned())
        ]
    );
    let attending: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.bluesky_did, a.status FROM read.attendees a \
         JOIN read.users u ON u.id = a.user_id \
         JOIN read.occurrences o ON o.id = a.occurrence_id WHERE o.external_id = $1",
    )
    .bind(uri(&meetup))
    .fetch_all(world.store.pool())
    .await
    .unwrap();
    assert_eq!(attending, [(guest.did.clone(), "attending".to_owned())]);

    let head = world.store.head().await.unwrap();
    let again = backfill(&world, &pds, &["--known"]);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{said}");
    assert!(
        said.contains("backfilled 2 of 2 DIDs: 3 records read: 0 applied, 3 already recorded"),
        "{said}"
    );
    assert_eq!(
        world.store.head().await.unwrap(),
        head,
        "nothing recorded twice"
    );

    pds.put_record(&host, EVENT, "3social1", event("Social, now with games"))
        .await;
    let edited = backfill(
        &world,
        &pds,
        &["--did", &host.did, "--did", "did:plc:nobodyhere"],
    );
    let said = String::from_utf8_lossy(&edited.stdout);
    assert!(
        !edited.status.success(),
        "a DID not backfilled fails the run"
    );
    assert!(
        said.contains("backfilled 1 of 2 DIDs: 2 records read: 1 applied, 1 already recorded"),
        "{said}"
    );
    assert!(
        said.contains("not backfilled: ") && said.contains("did:plc:nobodyhere"),
        "{said}"
    );
    world.project().await;
    assert_eq!(
        names(&world).await,
        [
            (uri(&meetup), "Rust Meetup".to_owned()),
            (uri(&social), "Social, now with games".to_owned())
        ]
    );

    pds.delete_record(&host, EVENT, "3social1").await;
    pds.delete_record(&guest, RSVP, "3answer1").await;
    let reconciled = backfill(&world, &pds, &["--known"]);
    let said = String::from_utf8_lossy(&reconciled.stdout);
    assert!(reconciled.status.success(), "{said}");
    assert!(said.contains("2 deleted as missing at the PDS"), "{said}");
    world.project().await;
    assert_eq!(
        names(&world).await,
        [(uri(&meetup), "Rust Meetup".to_owned())],
        "the deleted event is gone from the reads"
    );
    let answers: i64 = sqlx::query_scalar("SELECT count(*) FROM read.attendees")
        .fetch_one(world.store.pool())
        .await
        .unwrap();
    assert_eq!(answers, 0, "the deleted RSVP is gone from the reads");
    let mut why = vec![];
    for recorded in world
        .store
        .read_all(domain::GlobalPosition(0), 10_000)
        .await
        .unwrap()
    {
        if let Ok(domain::DomainEvent::RecordMissingAtPds(missing)) =
            domain::DomainEvent::decode(&recorded.payload)
        {
            why.push((missing.uri, missing.reason));
        }
    }
    why.sort();
    let reason = "missing at the PDS during backfill".to_owned();
    let mut expected = vec![
        (uri(&social), reason.clone()),
        (format!("at://{}/{RSVP}/3answer1", guest.did), reason),
    ];
    expected.sort();
    assert_eq!(why, expected);
    let quiet = backfill(&world, &pds, &["--known"]);
    let said = String::from_utf8_lossy(&quiet.stdout);
    assert!(said.contains("0 deleted as missing at the PDS"), "{said}");
    world.clean().await;
}
