//! Series proposals through the API: listed for their organizer with their
//! explanation, accepted (the series is created and its events become its
//! occurrences, keeping external refs and RSVPs), adjusted, or rejected
//! (not proposed again until a new event joins).

use axum::http::StatusCode;
use serde_json::{Value, json};

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use world::{ADMIN, World, offline_resolver, operator_token};

const ORGANIZER: &str = "did:plc:proposalorganizer000000";
const OTHER: &str = "did:plc:proposalother000000000000";
const GUEST: &str = "did:plc:proposalguest000000000000";

struct Setup {
    world: World,
    organizer: String,
    other: String,
    admin: String,
    uris: Vec<String>,
}

/// A full-account organizer with three weekly meetups on Bluesky (one
/// answered by a guest), detection run over them.
async fn setup() -> Setup {
    let mut world = World::new(offline_resolver()).await;
    let organizer = operator_token(&world, ORGANIZER).await;
    let other = operator_token(&world, OTHER).await;
    let admin = operator_token(&world, ADMIN).await;
    let mut uris = vec![];
    for (n, day) in ["01", "08", "15"].iter().enumerate() {
        let starts = format!("2026-12-{day}T18:00:00Z");
        uris.push(
            world
                .import_event_with(
                    ORGANIZER,
                    &format!("3meet{n}"),
                    &format!("Rust Meetup #{}", 12 + n),
                    json!({"startsAt": starts, "timezone": "Europe/Berlin"}),
                )
                .await,
        );
    }
    world.import_rsvp(GUEST, &uris[0]).await;
    world.reconcile().await;
    world.project().await;
    Setup {
        world,
        organizer,
        other,
        admin,
        uris,
    }
}

/// The organizer publishes the following week's meetup; detection and the
/// projections catch up.
async fn next_meetup(world: &mut World) {
    world
        .import_event_with(
            ORGANIZER,
            "3meet9",
            "Rust Meetup #15",
            json!({"startsAt": "2026-12-22T18:00:00Z", "timezone": "Europe/Berlin"}),
        )
        .await;
    world.reconcile().await;
    world.project().await;
}

async fn proposals(world: &World, token: &str, query: &str) -> (StatusCode, Value) {
    world
        .call(
            "GET",
            &format!("/api/series-proposals{query}"),
            Some(token),
            None,
        )
        .await
}

#[tokio::test]
async fn an_organizer_sees_their_proposals_with_the_explanation_and_no_one_elses() {
    let s = setup().await;
    let (status, mine) = proposals(&s.world, &s.organizer, "").await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let proposal = &mine[0];
    assert_eq!(proposal["organizer"], ORGANIZER);
    assert_eq!(proposal["status"], "proposed");
    assert_eq!(proposal["uris"], json!(s.uris));
    assert!(
        proposal["rrule"]
            .as_str()
            .unwrap()
            .contains("RRULE:FREQ=WEEKLY")
    );
    assert_eq!(proposal["explanation"]["series_name"], "rust meetup");
    let zone = proposal["explanation"]["zone"].as_str().unwrap();
    assert!(
        proposal["rrule"]
            .as_str()
            .unwrap()
            .starts_with(&format!("DTSTART;TZID={zone}:")),
        "{proposal}"
    );
    assert!(
        ["record", "offset", "location", "times", "unknown"]
            .contains(&proposal["explanation"]["zone_source"].as_str().unwrap()),
        "{proposal}"
    );
    assert!(
        proposal["explanation"]["pattern"]
            .as_str()
            .unwrap()
            .contains("weekly")
    );

    let (_, theirs) = proposals(&s.world, &s.other, "").await;
    assert_eq!(theirs, json!([]), "another user has none of their own");
    let (status, _) = proposals(&s.world, &s.other, &format!("?organizer={ORGANIZER}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, all) = proposals(&s.world, &s.admin, "").await;
    assert_eq!(all.as_array().unwrap().len(), 1, "administrators see all");
    let (status, _) = s
        .world
        .call("GET", "/api/series-proposals", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    s.world.clean().await;
}

#[tokio::test]
async fn accepting_creates_the_series_and_its_events_become_occurrences_keeping_refs_and_rsvps() {
    let mut s = setup().await;
    let (_, list) = proposals(&s.world, &s.organizer, "").await;
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let accept = format!("/api/series-proposals/{id}/accept");
    let (status, _) = s.world.call("POST", &accept, Some(&s.other), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the organizer answers");

    let (status, answer) = s
        .world
        .call("POST", &accept, Some(&s.organizer), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let slug = answer["series_slug"].as_str().unwrap().to_owned();
    s.world.project().await;
    let (status, series) = s
        .world
        .call("GET", &format!("/api/series/{slug}"), None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert_eq!(series["name"], "Rust Meetup");
    assert!(
        series["rrule"].as_str().unwrap().contains("FREQ=WEEKLY"),
        "{series}"
    );
    assert_eq!(series["time_zone"], "Europe/Berlin");
    let members: Vec<&str> = series["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        members, s.uris,
        "the events are its occurrences, with their external refs"
    );
    let first = s.world.event_slug(&s.uris[0]).await;
    let (_, attendees) = s
        .world
        .call("GET", &format!("/api/events/{first}/attendees"), None, None)
        .await;
    assert_eq!(attendees["items"][0]["did"], GUEST, "the RSVP stays");
    let (_, refs) = s
        .world
        .call(
            "GET",
            &format!("/api/external-refs?uri={}", s.uris[1]),
            None,
            None,
        )
        .await;
    assert_eq!(refs["kind"], "occurrence", "{refs}");

    let (_, list) = proposals(&s.world, &s.organizer, "").await;
    assert_eq!(
        (list[0]["status"].as_str(), list[0]["series_id"].as_str()),
        (Some("accepted"), answer["series_id"].as_str())
    );
    let (status, _) = s
        .world
        .call("POST", &accept, Some(&s.organizer), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "accepted once");

    next_meetup(&mut s.world).await;
    let (_, list) = proposals(&s.world, &s.organizer, "?status=proposed").await;
    assert_eq!(
        list,
        json!([]),
        "the members of the series are not proposed again"
    );
    s.world.clean().await;
}

#[tokio::test]
async fn an_adjustment_changes_the_rule_and_members_then_accepts_and_bad_ones_are_refused() {
    let s = setup().await;
    let (_, list) = proposals(&s.world, &s.organizer, "").await;
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let adjust = format!("/api/series-proposals/{id}/adjust");
    let call = |body: Value| {
        s.world
            .call("POST", &adjust, Some(&s.organizer), Some(body))
    };
    let (status, body) = call(json!({"rrule": "RRULE:FREQ=SOMETIMES"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let stranger = "at://did:plc:stranger/community.lexicon.calendar.event/3x";
    let (status, body) = call(json!({"add": [stranger]})).await;
    assert_eq!(
        (status, body["message"].as_str().unwrap().contains(stranger)),
        (StatusCode::BAD_REQUEST, true),
        "{body}"
    );
    let (status, body) = call(json!({"remove": [s.uris[0], s.uris[1]]})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "one event is no series: {body}"
    );

    let rule = "DTSTART;TZID=Europe/Berlin:20261208T190000\nRRULE:FREQ=WEEKLY;BYDAY=TU";
    let (status, answer) = call(json!({"rrule": rule, "remove": [s.uris[0]]})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    s.world.project().await;
    let slug = answer["series_slug"].as_str().unwrap();
    let (_, series) = s
        .world
        .call("GET", &format!("/api/series/{slug}"), None, None)
        .await;
    assert_eq!(series["occurrences"].as_array().unwrap().len(), 2);
    assert_eq!(series["starts_at"], "2026-12-08T18:00:00Z");
    assert_eq!(
        s.world.event_types(&format!("proposal-{id}")).await,
        [
            "SeriesProposed",
            "SeriesProposalAdjusted",
            "SeriesProposalAccepted"
        ]
    );
    s.world.clean().await;
}

#[tokio::test]
async fn a_rejected_group_is_proposed_again_only_when_a_new_event_joins_it() {
    let mut s = setup().await;
    let (_, list) = proposals(&s.world, &s.organizer, "").await;
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let (status, body) = s
        .world
        .call(
            "POST",
            &format!("/api/series-proposals/{id}/reject"),
            Some(&s.organizer),
            None,
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("rejected"))
    );
    s.world.reconcile().await;
    s.world.project().await;
    let (_, list) = proposals(&s.world, &s.organizer, "").await;
    assert_eq!(
        (list[0]["status"].as_str(), list[0]["version"].as_i64()),
        (Some("rejected"), Some(1))
    );

    next_meetup(&mut s.world).await;
    let (_, list) = proposals(&s.world, &s.organizer, "").await;
    assert_eq!(
        (
            list[0]["status"].as_str(),
            list[0]["version"].as_i64(),
            list[0]["uris"].as_array().unwrap().len()
        ),
        (Some("proposed"), Some(2), 4),
        "a new event joined"
    );
    s.world.clean().await;
}
