//! An OpenMeet answer to a Bluesky event goes out as one RSVP record in the
//! attendee's own repository, against the real PDS: the strong ref names
//! the event's URI and CID, a change rewrites the same record, and the
//! record is valid for the reference validator.

use axum::http::StatusCode;
use domain::identity::UserId;
use publish::rsvps::{RSVP, RsvpPublisher};
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

use pds::Pds;
use world::{KEY, World, local_http};

const EVENT: &str = "community.lexicon.calendar.event";

#[tokio::test]
async fn an_openmeet_answer_becomes_one_rsvp_record_in_the_attendees_repository() {
    let pds = Pds::start();
    let mut world =
        World::new(Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).unwrap()).await;
    let organizer = pds.create_account("host", "host-app-password").await;
    let record = json!({"$type": EVENT, "name": "Rust Meetup", "createdAt": "2026-12-01T10:00:00Z",
        "startsAt": "2026-12-08T18:00:00Z"});
    let written = pds
        .put_record(&organizer, EVENT, "3meetup1", record.clone())
        .await;
    let (uri, cid) = (
        written["uri"].as_str().unwrap().to_owned(),
        written["cid"].as_str().unwrap().to_owned(),
    );
    let line = json!({"did": organizer.did, "time_us": 1_764_000_000_000_001i64, "kind": "commit",
        "commit": {"rev": "3mptbypluud2a", "operation": "create", "collection": EVENT, "rkey": "3meetup1",
            "record": record, "cid": cid}});
    world.ingest(line.to_string()).await;

    let attendee = pds.create_account("guest", "guest-app-password").await;
    let (status, login) = world.log_in(&attendee.handle, &attendee.password).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["token"].as_str().unwrap().to_owned();
    let user = UserId(Uuid::parse_str(login["user_id"].as_str().unwrap()).unwrap());
    world.project().await;
    let slug = world.event_slug(&uri).await;
    let keeper = SessionKeeper::new(
        CredentialStore::new(world.redis.clone(), KEY, &world.prefix).unwrap(),
        world.store.clone(),
        local_http(),
    );

    let answer = |status: &'static str| {
        let (world, slug, token, keeper) = (&world, &slug, &token, keeper.clone());
        async move {
            let (code, body) = world
                .call(
                    "POST",
                    &format!("/api/events/{slug}/rsvp"),
                    Some(token),
                    Some(json!({"status": status})),
                )
                .await;
            assert_eq!(code, StatusCode::OK, "{body}");
            world.reconcile().await;
            let mut publisher = RsvpPublisher::start(world.store.clone(), keeper, local_http())
                .await
                .unwrap();
            publisher.run_until_idle().await.unwrap()
        }
    };
    assert_eq!(answer("attending").await, 1);
    let records = pds.list_records(&attendee.did, RSVP).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let value: &Value = &records[0]["value"];
    assert_eq!(value["subject"], json!({"uri": uri, "cid": cid}));
    assert_eq!(value["status"], "community.lexicon.calendar.rsvp#going");
    assert_eq!(
        lexicon::reference_verdict(RSVP, value)["ok"],
        true,
        "{value}"
    );

    assert_eq!(answer("declined").await, 1);
    let again = pds.list_records(&attendee.did, RSVP).await;
    assert_eq!(again.len(), 1, "a change rewrites the same record");
    assert_eq!(again[0]["uri"], records[0]["uri"]);
    assert_eq!(
        again[0]["value"]["status"],
        "community.lexicon.calendar.rsvp#notgoing"
    );

    let rkey = again[0]["uri"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    pds.delete_record(&attendee, RSVP, &rkey).await;
    let (code, _) = world
        .call(
            "POST",
            &format!("/api/events/{slug}/attendees/sync"),
            Some("forged"),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, body) = world
        .call(
            "POST",
            &format!("/api/events/{slug}/attendees/sync"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        code,
        StatusCode::FORBIDDEN,
        "everyone's answers are the owner's to push: {body}"
    );
    let (code, body) = world
        .call(
            "POST",
            &format!("/api/events/{slug}/attendees/sync"),
            Some(&token),
            Some(json!({"attendee": attendee.did})),
        )
        .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    world.reconcile().await;
    let mut publisher = RsvpPublisher::start(world.store.clone(), keeper.clone(), local_http())
        .await
        .unwrap();
    assert_eq!(publisher.run_until_idle().await.unwrap(), 1);
    let restored = pds.list_records(&attendee.did, RSVP).await;
    assert_eq!(
        (
            restored.len(),
            restored[0]["uri"].clone(),
            restored[0]["value"]["status"].clone()
        ),
        (
            1,
            again[0]["uri"].clone(),
            json!("community.lexicon.calendar.rsvp#notgoing")
        ),
        "the sync writes the OpenMeet answer back to the same record"
    );

    world.project().await;
    let (_, attendees) = world
        .call("GET", &format!("/api/events/{slug}/attendees"), None, None)
        .await;
    let mine = attendees["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["user_id"] == user.0.to_string())
        .cloned()
        .unwrap();
    assert_eq!(
        (mine["status"].as_str(), mine["rsvp_uri"].as_str()),
        (Some("declined"), again[0]["uri"].as_str())
    );
    let types = world.event_types("attendance-").await;
    assert_eq!(
        types,
        [
            "RsvpChanged",
            "RsvpPublishRequested",
            "RsvpPublished",
            "RsvpChanged",
            "RsvpPublishRequested",
            "RsvpPublished",
            "AttendanceSyncRequested",
            "RsvpPublishRequested",
            "RsvpPublished"
        ]
    );
    world.clean().await;
}
