//! The effectful followers killed with SIGKILL at points drawn from a
//! seeded generator (`KILL_SEED`), then run to the end, against a real
//! PDS: `publish --until-idle` (the publishing scheduler and the
//! occurrence publisher) decides and writes every shared event once (one
//! record each on the PDS, one request and one outcome each in the log,
//! none failed) and `audit verify` is clean; the same command's RSVP
//! publisher writes each OpenMeet answer to a Bluesky event once, in the
//! attendee's repository; `identities enrich --until-idle` records each new
//! account's handle once. All as a run never killed leaves them (part of
//! issue 23).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use domain::{DomainEvent, GlobalPosition};
use ingest::apply::Outcome;
use publish::enrich::CHECKPOINT as ENRICHER;
use publish::occurrences::{CHECKPOINT, EVENT};
use publish::rsvps::{CHECKPOINT as RSVP_PUBLISHER, RSVP};
use publish::{Resolver, ResolverConfig};
use rand::{Rng, SeedableRng};
use serde_json::json;
use store::EventStore;

use uuid::Uuid;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/pds.rs"]
mod pds;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use world::{KEY, World};

const AT: &str = "2026-11-20T10:00:00Z";
const EVENTS: usize = 24;

fn publishing(world: &World, pds: &pds::Pds) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"));
    command
        .args(["publish", "--until-idle", "--at", AT])
        .env("DATABASE_URL", world.db.url())
        .env("REDIS_KEY_PREFIX", &world.prefix)
        .env("CREDENTIALS_KEY", KEY)
        .env("PLC_URL", &pds.plc)
        .env("HANDLE_RESOLVER_URL", &pds.url)
        .env("ALLOW_PRIVATE_ADDRESSES", "true")
        .env("OPENMEET_URL", "https://openmeet.test")
        .env("RUST_LOG", "error");
    command
}

/// The seed of this run's kill points.
fn seed() -> u64 {
    std::env::var("KILL_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(7)
}

fn started(mut command: Command) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("publish starts")
}

/// Starts `command` up to `rounds` times, killing each run with SIGKILL a
/// few milliseconds after the follower `checkpoint` passes a position
/// drawn at random past where it stands (with `first_at_random_time`, the
/// first run at a time drawn at random instead, to land among the first
/// decisions), until it stands at the head. Returns how many runs were
/// killed at work.
async fn killed_at_random_points(
    world: &World,
    command: impl Fn() -> Command,
    checkpoint: &str,
    rounds: usize,
    first_at_random_time: bool,
) -> usize {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let mut kills = 0;
    for round in 0..rounds {
        let mut child = started(command());
        if round == 0 && first_at_random_time {
            tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
        } else {
            let from = world.store.checkpoint(checkpoint).await.unwrap().0;
            let head = world.store.head().await.unwrap().0;
            if from + 1 >= head {
                child.wait().unwrap();
                break;
            }
            let target = rng.random_range(from + 1..head);
            while world.store.checkpoint(checkpoint).await.unwrap().0 < target
                && child.try_wait().unwrap().is_none()
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
        }
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        child.kill().ok();
        child.wait().unwrap();
    }
    kills
}

/// The types among `types` of the events recorded, per stream.
async fn recorded(world: &World, types: &[&str]) -> BTreeMap<String, Vec<String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT stream_id, event_type FROM eventstore.events \
         WHERE event_type = ANY($1) ORDER BY global_position",
    )
    .bind(types)
    .fetch_all(world.store.pool())
    .await
    .unwrap();
    let mut by_stream: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (stream, event_type) in rows {
        by_stream.entry(stream).or_default().push(event_type);
    }
    by_stream
}

#[tokio::test]
async fn publish_killed_at_random_points_writes_each_event_once() {
    let pds = pds::Pds::start();
    let world =
        World::new(Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).unwrap()).await;
    let owner = pds.create_account("owner", "owner-app-password").await;
    let (_, login) = world.log_in(&owner.handle, &owner.password).await;
    let token = login["token"].as_str().unwrap().to_owned();
    let mut names = vec![];
    for n in 0..EVENTS {
        let name = format!("Launch party {n}");
        world.shared_openmeet_event(&name, &owner.did, &token).await;
        names.push(name);
    }

    let seed = seed();
    let kills =
        killed_at_random_points(&world, || publishing(&world, &pds), CHECKPOINT, 8, true).await;
    let before_the_last_run: usize = pds.list_records(&owner.did, EVENT).await.len();
    eprintln!(
        "KILL_SEED={seed}: {kills} runs killed, {before_the_last_run} of {EVENTS} records written by them"
    );
    let output = publishing(&world, &pds).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut written: Vec<String> = pds
        .list_records(&owner.did, EVENT)
        .await
        .iter()
        .map(|record| record["value"]["name"].as_str().unwrap().to_owned())
        .collect();
    written.sort();
    names.sort();
    let recorded = recorded(
        &world,
        &[
            "OccurrencePublishRequested",
            "OccurrencePublished",
            "OccurrencePublishFailed",
        ],
    )
    .await;
    assert_eq!(
        written, names,
        "one record per event (KILL_SEED={seed}); recorded: {recorded:?}"
    );
    assert_eq!(recorded.len(), EVENTS, "{recorded:?}");
    for (stream, types) in &recorded {
        assert_eq!(
            types,
            &["OccurrencePublishRequested", "OccurrencePublished"],
            "{stream}: decided once, written once (KILL_SEED={seed})"
        );
    }
    world.reconcile().await;
    let audit = projections::audit::verify::verify(&world.store, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(audit.findings, vec![], "audit verify (KILL_SEED={seed})");
    assert_eq!(audit.publishing_untimed, 0);
    world.clean().await;
}

/// What the RSVP direction recorded, per answer (occurrence, attendee).
async fn rsvp_outcomes(world: &World) -> BTreeMap<(Uuid, Uuid), Vec<&'static str>> {
    let mut by_answer: BTreeMap<(Uuid, Uuid), Vec<&'static str>> = BTreeMap::new();
    for recorded in world
        .store
        .read_all(GlobalPosition(0), 10_000)
        .await
        .unwrap()
    {
        let (answer, outcome) = match DomainEvent::decode(&recorded.payload).unwrap() {
            DomainEvent::RsvpPublishRequested(event) => (
                (event.occurrence_id, event.attendee_id),
                "RsvpPublishRequested",
            ),
            DomainEvent::RsvpPublished(event) => {
                ((event.occurrence_id, event.attendee_id), "RsvpPublished")
            }
            DomainEvent::RsvpPublishFailed(event) => (
                (event.occurrence_id, event.attendee_id),
                "RsvpPublishFailed",
            ),
            _ => continue,
        };
        by_answer
            .entry((answer.0.0, answer.1.0))
            .or_default()
            .push(outcome);
    }
    by_answer
}

const ATTENDEES: usize = 4;
const MEETUPS: usize = 3;

#[tokio::test]
async fn the_rsvp_publisher_killed_at_random_points_writes_each_answer_once() {
    let pds = pds::Pds::start();
    let mut world =
        World::new(Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).unwrap()).await;
    let host = pds.create_account("host", "host-app-password").await;
    let mut meetups = vec![];
    for n in 0..MEETUPS {
        let rkey = format!("3meetup{n}");
        let record = json!({"$type": EVENT, "name": format!("Meetup {n}"),
            "createdAt": "2026-12-01T10:00:00Z", "startsAt": "2026-12-08T18:00:00Z"});
        let written = pds.put_record(&host, EVENT, &rkey, record.clone()).await;
        let line = json!({"did": host.did, "time_us": 1_764_000_000_000_001i64 + n as i64,
            "kind": "commit", "commit": {"rev": format!("3mptbypluud2{}", char::from(b'a' + n as u8)), "operation": "create",
            "collection": EVENT, "rkey": rkey, "record": record, "cid": written["cid"]}});
        let outcome = world.ingest(line.to_string()).await;
        assert!(matches!(outcome, Outcome::Applied(_)), "{outcome:?}");
        meetups.push(written["uri"].as_str().unwrap().to_owned());
    }
    let mut attendees = vec![];
    for n in 0..ATTENDEES {
        let account = pds
            .create_account(&format!("guest{n}"), "guest-app-password")
            .await;
        let (status, login) = world.log_in(&account.handle, &account.password).await;
        assert_eq!(status, StatusCode::OK, "{login}");
        attendees.push((account, login["token"].as_str().unwrap().to_owned()));
    }
    world.project().await;
    for uri in &meetups {
        let slug = world.event_slug(uri).await;
        for (_, token) in &attendees {
            let (status, body) = world
                .call(
                    "POST",
                    &format!("/api/events/{slug}/rsvp"),
                    Some(token),
                    Some(json!({"status": "attending"})),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    world.reconcile().await;

    let seed = seed();
    let kills = killed_at_random_points(
        &world,
        || publishing(&world, &pds),
        RSVP_PUBLISHER,
        8,
        false,
    )
    .await;
    eprintln!("KILL_SEED={seed}: {kills} runs killed");
    let output = publishing(&world, &pds).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let recorded = rsvp_outcomes(&world).await;
    for (account, _) in &attendees {
        let mut answered: Vec<(String, String)> = pds
            .list_records(&account.did, RSVP)
            .await
            .iter()
            .map(|record| {
                let value = &record["value"];
                (
                    value["subject"]["uri"].as_str().unwrap().to_owned(),
                    value["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        answered.sort();
        let going: Vec<(String, String)> = meetups
            .iter()
            .map(|uri| (uri.clone(), "community.lexicon.calendar.rsvp#going".into()))
            .collect();
        assert_eq!(
            answered, going,
            "{}: one record per answer (KILL_SEED={seed}); recorded: {recorded:?}",
            account.did
        );
    }
    assert_eq!(recorded.len(), ATTENDEES * MEETUPS, "{recorded:?}");
    for (answer, types) in &recorded {
        assert_eq!(
            types,
            &["RsvpPublishRequested", "RsvpPublished"],
            "{answer:?}: decided once, written once (KILL_SEED={seed})"
        );
    }
    let audit = projections::audit::verify::verify(&world.store, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(audit.findings, vec![], "audit verify (KILL_SEED={seed})");
    world.clean().await;
}

fn enriching(world: &World, pds: &pds::Pds) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"));
    command
        .args(["identities", "enrich", "--until-idle"])
        .env("DATABASE_URL", world.db.url())
        .env("PLC_URL", &pds.plc)
        .env("HANDLE_RESOLVER_URL", &pds.url)
        .env("ALLOW_PRIVATE_ADDRESSES", "true")
        .env("RUST_LOG", "error");
    command
}

#[tokio::test]
async fn the_identity_enricher_killed_at_random_points_records_each_handle_once() {
    let pds = pds::Pds::start();
    let mut world =
        World::new(Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).unwrap()).await;
    let mut accounts = vec![];
    for n in 0..16 {
        let account = pds.create_account(&format!("org{n}"), "app-password").await;
        world
            .import_event(&account.did, "e1", &format!("Meetup {n}"))
            .await;
        accounts.push(account);
    }

    let seed = seed();
    let kills =
        killed_at_random_points(&world, || enriching(&world, &pds), ENRICHER, 6, false).await;
    eprintln!("KILL_SEED={seed}: {kills} enricher runs killed");
    let output = enriching(&world, &pds).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    for account in &accounts {
        let stream = domain::identity::identity_stream(&account.did);
        let handles: Vec<String> = world
            .store
            .read_streams(&[stream])
            .await
            .unwrap()
            .iter()
            .filter_map(
                |recorded| match domain::DomainEvent::decode(&recorded.payload) {
                    Ok(domain::DomainEvent::HandleChanged(changed)) => Some(changed.handle),
                    _ => None,
                },
            )
            .collect();
        assert_eq!(
            handles,
            vec![account.handle.clone()],
            "{}: its handle once (KILL_SEED={seed})",
            account.did
        );
    }
    world.clean().await;
}
