//! A shared OpenMeet series on the real PDS, put in through the platform's
//! route (`POST /api/series`): exactly one record, for the
//! next occurrence, with the series link; the next one once the clock
//! passes its end; the firehose echo of our write recognised; one
//! occurrence moved alone over another client's change, then cancelled,
//! each written to the same record; sharing turned off deletes; made
//! private, unpublished, and public again, published again; the series
//! deleted, its records deleted; only the owner may do any of it; and
//! `audit verify` clean at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::http::StatusCode;
use domain::Timestamp;
use domain::publishing::series_occurrence;
use domain::series::SeriesId;
use publish::occurrences::{EVENT, OccurrencePublisher};
use publish::{CredentialStore, Resolver, ResolverConfig, SessionKeeper};
use serde_json::{Value, json};
use uuid::Uuid;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/lexicon.rs"]
mod lexicon;
#[path = "support/pds.rs"]
mod pds;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use world::{KEY, World, local_http};

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

#[tokio::test]
async fn a_shared_series_is_published_one_occurrence_at_a_time() {
    let pds = pds::Pds::start();
    let mut world =
        World::new(Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).unwrap()).await;
    let owner = pds.create_account("owner", "owner-app-password").await;
    let (_, login) = world.log_in(&owner.handle, &owner.password).await;
    let token = login["token"].as_str().unwrap().to_owned();
    let other = pds.create_account("other", "other-app-password").await;
    let (_, other_login) = world.log_in(&other.handle, &other.password).await;
    let other_token = other_login["token"].as_str().unwrap().to_owned();

    // OpenMeet's platform puts the series in, through the API.
    let (status, created) = world
        .call(
            "POST",
            "/api/series",
            Some(&token),
            Some(json!({
                "id": format!("om-{}", Uuid::new_v4()),
                "ownerDid": owner.did,
                "name": "Rust Meetup",
                "description": "Talks and pizza",
                "timeZone": "Europe/Berlin",
                "recurrenceRule": {"frequency": "WEEKLY", "byweekday": ["TU"]},
                "templateStartDate": "2026-12-01T18:00:00Z",
                "templateEndDate": "2026-12-01T20:00:00Z",
                "templateType": "in-person"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let series_id = SeriesId(Uuid::parse_str(created["seriesId"].as_str().unwrap()).unwrap());
    let slug = created["slug"].as_str().unwrap().to_owned();
    world.project().await;

    let settings = format!("/api/events/{slug}/bluesky-settings");
    let (status, _) = world
        .call(
            "POST",
            &settings,
            Some(&other_token),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the owner shares");
    let (status, body) = world
        .call(
            "POST",
            &settings,
            Some(&token),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let now = Arc::new(AtomicI64::new(at("2026-11-20T10:00:00Z").as_unix_micros()));
    let clock = {
        let now = now.clone();
        Arc::new(move || Timestamp::from_unix_micros(now.load(Ordering::SeqCst)))
    };
    let (mut scheduler, _) = followers::scheduler::start(
        world.store.clone(),
        "https://openmeet.test",
        followers::SnapshotPolicy::default(),
    )
    .await
    .unwrap();
    let keeper = SessionKeeper::new(
        CredentialStore::new(world.redis.clone(), KEY, &world.prefix).unwrap(),
        world.store.clone(),
        local_http(),
    );
    let mut publisher = OccurrencePublisher::start(world.store.clone(), keeper, local_http())
        .await
        .unwrap();
    let mut step = async || {
        scheduler.tick(clock()).await.unwrap();
        publisher.run_until_idle().await.unwrap()
    };

    assert_eq!(step().await, 1);
    let records = pds.list_records(&owner.did, EVENT).await;
    assert_eq!(
        records.len(),
        1,
        "exactly one record, for the next occurrence"
    );
    let first = records[0].clone();
    assert_eq!(first["value"]["startsAt"], "2026-12-01T18:00:00.000Z");
    assert_eq!(
        first["value"]["uris"][0]["uri"],
        format!("https://openmeet.test/series/{slug}")
    );
    assert!(
        first["value"]["description"]
            .as_str()
            .unwrap()
            .contains("happens weekly")
    );
    assert_eq!(
        lexicon::reference_verdict(EVENT, &first["value"])["ok"],
        true
    );
    assert_eq!(step().await, 0, "nothing more while it is upcoming");

    let rkey = first["uri"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let echo = json!({"did": owner.did, "time_us": 1_764_000_000_000_100i64, "kind": "commit",
        "commit": {"rev": "3mptbypcq372f", "operation": "create", "collection": EVENT, "rkey": rkey,
            "record": first["value"], "cid": first["cid"]}});
    world.ingest(echo.to_string()).await;
    world.reconcile().await;
    world.project().await;
    let first_occurrence = series_occurrence(series_id, at("2026-12-01T18:00:00Z"));
    let types = world
        .event_types(&format!("occurrence-{}", first_occurrence.0))
        .await;
    assert!(
        types.contains(&"SelfPublishedEchoMatched".to_owned()),
        "{types:?}"
    );
    let occurrences: i64 = sqlx::query_scalar("SELECT count(*) FROM read.occurrences")
        .fetch_one(world.store.pool())
        .await
        .unwrap();
    assert_eq!(occurrences, 1, "the echo is our occurrence, not a new one");

    let first_slug: String = sqlx::query_scalar("SELECT slug FROM read.occurrences WHERE id = $1")
        .bind(first_occurrence.0)
        .fetch_one(world.store.pool())
        .await
        .unwrap();
    let rename = json!({"description": "Talks, pizza and a quiz"});
    let edit = format!("/api/events/{first_slug}");
    let (status, _) = world
        .call("PATCH", &edit, Some(&other_token), Some(rename.clone()))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a series occurrence is its series owner's"
    );
    let (status, body) = world.call("PATCH", &edit, Some(&token), Some(rename)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step().await, 1, "the edit is written to the same record");

    now.store(
        at("2026-12-01T20:30:00Z").as_unix_micros(),
        Ordering::SeqCst,
    );
    assert_eq!(step().await, 1, "the next one appears once the first ended");
    let records = pds.list_records(&owner.did, EVENT).await;
    assert_eq!(records.len(), 2);
    let second_occurrence = series_occurrence(series_id, at("2026-12-08T18:00:00Z"));
    let second = records
        .iter()
        .find(|r| r["value"]["startsAt"] == "2026-12-08T18:00:00.000Z")
        .unwrap()
        .clone();

    // Another client edits the record; OpenMeet then moves this occurrence
    // alone, an hour later, over that change.
    let mut theirs = second["value"].clone();
    theirs["name"] = json!("Changed elsewhere");
    let second_rkey = second["uri"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    pds.put_record(&owner, EVENT, &second_rkey, theirs).await;
    let one = format!("/api/series/{slug}/occurrences/2026-12-08T18:00:00Z");
    let later = json!({"startDate": "2026-12-08T20:00:00+01:00"});
    let (status, _) = world
        .call(
            "POST",
            &format!("{one}/move"),
            Some(&other_token),
            Some(later.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the series owner's alone");
    let (status, body) = world
        .call("POST", &format!("{one}/move"), Some(&token), Some(later))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step().await, 1, "written to the same record");
    let (_, moved) = record_at(&pds, &second).await;
    assert_eq!(
        (&moved["startsAt"], &moved["endsAt"]),
        (
            &json!("2026-12-08T19:00:00.000Z"),
            &json!("2026-12-08T21:00:00.000Z")
        )
    );
    assert_eq!(
        moved["name"], "Rust Meetup",
        "OpenMeet is the source of truth of its events"
    );
    let types = world
        .event_types(&format!("occurrence-{}", second_occurrence.0))
        .await;
    assert!(
        !types.contains(&"OccurrencePublishFailed".to_owned()),
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "ConflictResolved").count(),
        1,
        "the overwrite is recorded for the one field the other client changed (its name), not for the times we moved: {types:?}"
    );
    let (status, body) = world
        .call(
            "POST",
            &format!("{one}/cancel"),
            Some(&token),
            Some(json!({"reason": "snow"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step().await, 1);
    let (_, cancelled) = record_at(&pds, &second).await;
    assert_eq!(
        cancelled["status"],
        "community.lexicon.calendar.event#cancelled"
    );
    assert_eq!(
        cancelled["startsAt"], "2026-12-08T19:00:00.000Z",
        "still moved"
    );

    let sync = json!({"slug": slug});
    let (status, _) = world
        .call(
            "POST",
            "/api/events/sync-bluesky",
            Some(&other_token),
            Some(sync.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = world
        .call("POST", "/api/events/sync-bluesky", Some(&token), Some(sync))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(step().await, 2, "both published occurrences written again");
    assert_eq!(
        pds.list_records(&owner.did, EVENT).await.len(),
        2,
        "to their own records"
    );

    let (status, _) = world
        .call(
            "POST",
            &settings,
            Some(&token),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(step().await, 2, "both records deleted");
    assert!(pds.list_records(&owner.did, EVENT).await.is_empty());

    let (status, body) = world
        .call(
            "POST",
            &settings,
            Some(&token),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step().await, 2, "both written again");
    let series_path = format!("/api/series/{slug}");
    let (status, body) = seen_by(&world, &series_path, &token, "private").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step().await, 2, "made private: unpublished");
    assert!(pds.list_records(&owner.did, EVENT).await.is_empty());
    // The firehose brings our own delete back: recognised, nothing
    // rejected, nothing recorded.
    let before = world.event_types("").await.len();
    let deleted_echo = json!({"did": owner.did, "time_us": 1_764_000_000_000_200i64, "kind": "commit",
        "commit": {"rev": "3mptbypcq373f", "operation": "delete", "collection": EVENT, "rkey": second_rkey}});
    let outcome = world.ingest(deleted_echo.to_string()).await;
    assert_eq!(outcome, ingest::apply::Outcome::AlreadyApplied);
    assert_eq!(
        world.event_types("").await.len(),
        before,
        "nothing recorded"
    );
    assert!(world.event_types("rejected").await.is_empty());
    let (status, body) = seen_by(&world, &series_path, &token, "public").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step().await, 2, "public again: published again");
    let records = pds.list_records(&owner.did, EVENT).await;
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .any(|r| r["uri"].as_str().unwrap().ends_with(&second_rkey)),
        "under the same record key"
    );
    let (status, body) = world
        .call("DELETE", &series_path, Some(&other_token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = world.call("DELETE", &series_path, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step().await, 2, "deleted in OpenMeet, deleted on Bluesky");
    assert!(pds.list_records(&owner.did, EVENT).await.is_empty());
    assert_eq!(step().await, 0, "a deleted series rolls forward no more");

    let (_, party_slug) = world
        .shared_openmeet_event("Launch party", &owner.did, &token)
        .await;
    assert_eq!(step().await, 1, "a standalone event is published once");
    assert_eq!(step().await, 0);
    let records = pds.list_records(&owner.did, EVENT).await;
    assert_eq!(
        (records.len(), records[0]["value"]["name"].as_str()),
        (1, Some("Launch party"))
    );
    assert!(records[0]["value"].get("uris").is_none(), "no series link");
    let party_path = format!("/api/events/{party_slug}");
    let (status, _) = world
        .call("DELETE", &party_path, Some(&other_token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = world.call("DELETE", &party_path, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step().await, 1, "deleted in OpenMeet, deleted on Bluesky");
    assert!(pds.list_records(&owner.did, EVENT).await.is_empty());
    let (_, health) = world.call("GET", "/health", None, None).await;
    let publisher = health["followers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "occurrence-publisher")
        .unwrap_or_else(|| panic!("{health}"));
    assert_eq!(
        (&publisher["checkpoint"], &publisher["behind"]),
        (&health["head"], &json!(0)),
        "the publisher's lag on /health: {health}"
    );
    world.reconcile().await;
    let audit = projections::audit::verify::verify(&world.store, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(audit.findings, vec![], "audit verify is clean");
    world.clean().await;
}

/// `PATCH path` making the series seen by `visibility`, as `token`.
async fn seen_by(world: &World, path: &str, token: &str, visibility: &str) -> (StatusCode, Value) {
    world
        .call(
            "PATCH",
            path,
            Some(token),
            Some(json!({ "visibility": visibility })),
        )
        .await
}

async fn record_at(pds: &pds::Pds, record: &Value) -> (String, Value) {
    let uri = record["uri"].as_str().unwrap();
    let listed = pds
        .list_records(uri.split('/').nth(2).unwrap(), EVENT)
        .await;
    let found = listed.into_iter().find(|r| r["uri"] == uri).unwrap();
    (
        found["cid"].as_str().unwrap().to_owned(),
        found["value"].clone(),
    )
}
