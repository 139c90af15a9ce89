//! `POST /api/series`, `POST /api/events` and `import-openmeet`: OpenMeet's
//! platform puts its own series and events in. A retry finds the first one,
//! other content under the same id or slug is a conflict, each bad field is
//! refused by name, and a refusal appends nothing.

use axum::http::StatusCode;
use serde_json::{Value, json};

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/faults.rs"]
#[allow(dead_code)]
mod faults;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use faults::binary;
use world::{ADMIN, World, offline_resolver, operator_token};

const OWNER: &str = "did:plc:seriesowner000000000000";

fn meetup(id: &str) -> Value {
    json!({
        "id": id,
        "ownerDid": OWNER,
        "name": "Rust Meetup Berlin",
        "description": "Talks and pizza",
        "timeZone": "Europe/Berlin",
        "recurrenceRule": {"frequency": "WEEKLY", "byweekday": ["TU"]},
        "templateStartDate": "2026-12-01T18:00:00",
        "templateEndDate": "2026-12-01T20:00:00",
        "templateType": "in-person",
        "templateLocation": "c-base, Berlin"
    })
}

/// A standalone launch party in Berlin, as OpenMeet creates it.
fn launch_party(id: &str) -> Value {
    json!({
        "id": id,
        "ownerDid": OWNER,
        "name": "Launch party",
        "timeZone": "Europe/Berlin",
        "startDate": "2026-12-10T19:00:00",
        "endDate": "2026-12-10T23:00:00",
        "type": "in-person",
        "location": "c-base",
        "lat": 52.513,
        "lon": 13.42,
        "status": "published"
    })
}

/// `PATCH path` with `body`, as `token`, sending `If-Match: if_match`: the
/// status, the `ETag` and the body.
async fn patch_if_match(
    world: &World,
    path: &str,
    token: &str,
    if_match: &str,
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    call_if_match(world, "PATCH", path, token, if_match, Some(body)).await
}

/// `method path` with `body`, as `token`, sending `If-Match: if_match`:
/// the status, the `ETag` and the body.
async fn call_if_match(
    world: &World,
    method: &str,
    path: &str,
    token: &str,
    if_match: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("if-match", if_match)
        .body(axum::body::Body::from(
            body.map(|body| body.to_string()).unwrap_or_default(),
        ))
        .unwrap();
    let response = world.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, etag, serde_json::from_slice(&bytes).unwrap())
}

async fn head(world: &World) -> u64 {
    store::EventStore::head(&world.store).await.unwrap().0
}

#[tokio::test]
async fn an_openmeet_series_is_created_once_under_its_id_and_read_back() {
    let world = World::new(offline_resolver()).await;
    let owner = operator_token(&world, OWNER).await;
    let (status, created) = world
        .call("POST", "/api/series", Some(&owner), Some(meetup("om-1")))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let slug = created["slug"].as_str().unwrap().to_owned();
    assert!(slug.starts_with("rust-meetup-berlin-"), "{created}");
    let position = created["position"].as_u64().unwrap();
    world.project().await;

    let (status, series) = world
        .call(
            "GET",
            &format!("/api/series/{slug}?after={position}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert_eq!(series["rrule"], "FREQ=WEEKLY;BYDAY=TU");
    assert_eq!(series["time_zone"], "Europe/Berlin");
    assert_eq!(series["origin"], "openmeet");
    assert_eq!(series["starts_at"], "2026-12-01T17:00:00Z");
    let (status, by_id) = world
        .call("GET", "/api/series/openmeet/om-1", None, None)
        .await;
    assert_eq!(
        (status, &by_id),
        (StatusCode::OK, &series),
        "read by OpenMeet's id"
    );

    let before = head(&world).await;
    let (status, again) = world
        .call("POST", "/api/series", Some(&owner), Some(meetup("om-1")))
        .await;
    assert_eq!(status, StatusCode::OK, "a retry: {again}");
    assert_eq!(again, created, "the first result");
    assert_eq!(head(&world).await, before, "nothing recorded twice");

    let mut other = meetup("om-1");
    other["name"] = json!("Rust Meetup Potsdam");
    let (status, body) = world
        .call("POST", "/api/series", Some(&owner), Some(other))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("id: "),
        "{body}"
    );

    let mut same_slug = meetup("om-2");
    same_slug["slug"] = json!(slug);
    let (status, body) = world
        .call("POST", "/api/series", Some(&owner), Some(same_slug))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("slug: "),
        "{body}"
    );
    assert_eq!(head(&world).await, before, "refusals record nothing");
    world.clean().await;
}

#[tokio::test]
async fn only_the_owner_or_the_platform_puts_a_series_in_for_an_owner_with_an_account() {
    let world = World::new(offline_resolver()).await;
    let stranger = operator_token(&world, "did:plc:stranger00000000000000000").await;
    let admin = operator_token(&world, ADMIN).await;
    let (status, body) = world
        .call("POST", "/api/series", Some(&stranger), Some(meetup("om-3")))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = world
        .call("POST", "/api/series", Some(&admin), Some(meetup("om-3")))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the owner has no account yet: {body}"
    );
    assert!(
        body["message"].as_str().unwrap().starts_with("ownerDid: "),
        "{body}"
    );
    operator_token(&world, OWNER).await;
    let (status, body) = world
        .call("POST", "/api/series", Some(&admin), Some(meetup("om-3")))
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the platform, for the owner: {body}"
    );
    world.clean().await;
}

#[tokio::test]
async fn each_bad_field_is_a_400_naming_it_and_records_nothing() {
    let world = World::new(offline_resolver()).await;
    let owner = operator_token(&world, OWNER).await;
    let before = head(&world).await;
    let cases = [
        ("timeZone", json!("Mars/Olympus")),
        ("templateStartDate", json!("soon")),
        ("templateEndDate", json!("2026-12-01T17:00:00")),
        ("description", json!("x".repeat(1 << 20))),
    ];
    for (field, value) in cases {
        let mut draft = meetup("om-4");
        draft[field] = value;
        let (status, body) = world
            .call("POST", "/api/series", Some(&owner), Some(draft))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}: ")),
            "{field}: {body}"
        );
    }
    let mut nul = meetup("om-4");
    nul["name"] = json!("Rust\u{0}Meetup");
    let (status, body) = world
        .call("POST", "/api/series", Some(&owner), Some(nul))
        .await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("body/name holds U+0000")
        ),
        "U+0000 in any text of a body: {body}"
    );
    let rules = [
        (
            "recurrenceRule.byweekday[0]",
            json!({"frequency": "WEEKLY", "byweekday": ["XX"]}),
        ),
        (
            "recurrenceRule.until",
            json!({"frequency": "WEEKLY", "until": "2026-11-01"}),
        ),
        (
            "recurrenceRule",
            json!({"frequency": "DAILY", "until": "2060-01-01"}),
        ),
    ];
    for (field, rule) in rules {
        let mut draft = meetup("om-4");
        draft["recurrenceRule"] = rule;
        let (status, body) = world
            .call("POST", "/api/series", Some(&owner), Some(draft))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}: ")),
            "{field}: {body}"
        );
    }
    assert_eq!(head(&world).await, before, "nothing appended");
    world.clean().await;
}

#[tokio::test]
async fn a_standalone_openmeet_event_is_created_once_under_its_id_with_its_coordinates() {
    let world = World::new(offline_resolver()).await;
    let owner = operator_token(&world, OWNER).await;
    let party = launch_party("om-event-1");
    let (status, created) = world
        .call("POST", "/api/events", Some(&owner), Some(party.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    world.project().await;
    let slug = created["slug"].as_str().unwrap();
    let (status, event) = world
        .call("GET", &format!("/api/events/{slug}"), None, None)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the slug it answered is the read model's: {event}"
    );
    assert_eq!(event["starts_at"], "2026-12-10T18:00:00Z");
    assert_eq!(event["origin"], "openmeet");
    assert_eq!(event["places"][0]["Geo"]["latitude"], "52.513");
    let (status, by_id) = world
        .call("GET", "/api/events/openmeet/om-event-1", None, None)
        .await;
    assert_eq!(
        (status, &by_id),
        (StatusCode::OK, &event),
        "read by OpenMeet's id"
    );

    let before = head(&world).await;
    let (status, again) = world
        .call("POST", "/api/events", Some(&owner), Some(party.clone()))
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &created));
    let mut moved = party;
    moved["lat"] = json!(91);
    let (status, body) = world
        .call("POST", "/api/events", Some(&owner), Some(moved))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("lat: "),
        "{body}"
    );
    assert_eq!(head(&world).await, before);
    world.clean().await;
}

#[tokio::test]
async fn import_openmeet_puts_an_export_in_once_and_names_each_line_it_rejects() {
    let world = World::new(offline_resolver()).await;
    operator_token(&world, OWNER).await;
    let mut party = json!({
        "id": "om-event-9", "ownerDid": OWNER, "name": "Launch party",
        "startDate": "2026-12-10T19:00:00Z", "type": "online",
        "locationOnline": "https://meet.example/launch"
    });
    let mut strangers = meetup("om-9");
    strangers["ownerDid"] = json!("did:plc:nobodyhere0000000000000");
    let mut off_the_map = party.clone();
    off_the_map["id"] = json!("om-event-10");
    off_the_map["lat"] = json!(91);
    off_the_map["lon"] = json!(0);
    let lines = [
        meetup("om-8").to_string(),
        String::new(),
        "{not json".to_owned(),
        party.to_string(),
        strangers.to_string(),
        off_the_map.to_string(),
    ];
    let file = std::env::temp_dir().join(format!("openmeet-export-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(&file, lines.join("\n")).unwrap();
    let path = file.to_str().unwrap();

    let (ok, first) = binary(&world.db, &["import-openmeet", path]);
    assert!(!ok, "rejected lines fail the run: {first}");
    assert!(
        first.contains(
            "1 series and 1 events created, 0 series and 0 events there already, 3 lines rejected"
        ),
        "{first}"
    );
    for (line, reason) in [(3, "not JSON"), (5, "ownerDid: "), (6, "lat: ")] {
        assert!(
            first.contains(&format!("{path}:{line}: {reason}")),
            "line {line}: {first}"
        );
    }
    let before = head(&world).await;
    let (_, again) = binary(&world.db, &["import-openmeet", path]);
    assert!(
        again.contains(
            "0 series and 0 events created, 1 series and 1 events there already, 3 lines rejected"
        ),
        "{again}"
    );
    assert_eq!(head(&world).await, before, "a second run adds nothing");
    party["name"] = json!("Launch party, moved");
    std::fs::write(&file, party.to_string()).unwrap();
    let (ok, changed) = binary(&world.db, &["import-openmeet", path]);
    assert!(
        !ok && changed.contains(&format!("{path}:1: id: ")),
        "{changed}"
    );
    std::fs::remove_file(&file).unwrap();
    world.clean().await;
}

#[tokio::test]
async fn a_series_is_edited_by_its_owner_against_the_version_it_saw() {
    let world = World::new(offline_resolver()).await;
    let owner = operator_token(&world, OWNER).await;
    let stranger = operator_token(&world, "did:plc:stranger00000000000000000").await;
    let (_, created) = world
        .call("POST", "/api/series", Some(&owner), Some(meetup("om-edit")))
        .await;
    world.project().await;
    let path = format!("/api/series/{}", created["slug"].as_str().unwrap());

    let rename = json!({"name": "Rust Meetup Mitte"});
    let (status, body) = world
        .call("PATCH", &path, Some(&stranger), Some(rename.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, renamed) = world
        .call("PATCH", &path, Some(&owner), Some(rename.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["recorded"], json!(["SeriesEdited"]));
    let (_, again) = world.call("PATCH", &path, Some(&owner), Some(rename)).await;
    assert_eq!(
        again["recorded"],
        json!([]),
        "nothing changed, nothing recorded"
    );

    let every_other_week = json!({
        "recurrenceRule": {"frequency": "WEEKLY", "interval": 2, "byweekday": ["TU"]}
    });
    let version = renamed["version"].as_u64().unwrap();
    let (status, etag, changed) = patch_if_match(
        &world,
        &path,
        &owner,
        &format!("\"{version}\""),
        every_other_week.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["recorded"], json!(["RecurrenceChanged"]));
    assert_eq!(etag.as_deref(), Some((version + 1).to_string().as_str()));
    let (status, _, body) = patch_if_match(
        &world,
        &path,
        &owner,
        &version.to_string(),
        every_other_week,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("is at version {}", version + 1)),
        "{body}"
    );
    world.project().await;
    let (_, series) = world.call("GET", &path, None, None).await;
    assert_eq!(series["rrule"], "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU");
    assert_eq!(series["name"], "Rust Meetup Mitte");
    world.clean().await;
}

#[tokio::test]
async fn two_edits_racing_against_the_same_version_record_one() {
    let world = World::new(offline_resolver()).await;
    let owner = operator_token(&world, OWNER).await;
    let (_, created) = world
        .call("POST", "/api/series", Some(&owner), Some(meetup("om-race")))
        .await;
    world.project().await;
    let path = format!("/api/series/{}", created["slug"].as_str().unwrap());
    let (_, seen) = world
        .call("PATCH", &path, Some(&owner), Some(json!({})))
        .await;
    let version = seen["version"].as_u64().unwrap();
    let before = head(&world).await;
    let if_match = version.to_string();
    let (first, second) = tokio::join!(
        patch_if_match(
            &world,
            &path,
            &owner,
            &if_match,
            json!({"name": "Rust Meetup A"})
        ),
        patch_if_match(
            &world,
            &path,
            &owner,
            &if_match,
            json!({"name": "Rust Meetup B"})
        ),
    );
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    assert_eq!(head(&world).await, before + 1, "one SeriesEdited");
    world.clean().await;
}

/// Creates `meetup(id)` as `owner`, projected: its path.
async fn created_series(world: &World, owner: &str, body: Value) -> String {
    let (status, created) = world
        .call("POST", "/api/series", Some(owner), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    world.project().await;
    format!("/api/series/{}", created["slug"].as_str().unwrap())
}

#[tokio::test]
async fn one_occurrence_is_cancelled_or_moved_alone_named_by_its_start_in_the_rule() {
    let world = World::new(offline_resolver()).await;
    let owner = operator_token(&world, OWNER).await;
    let stranger = operator_token(&world, "did:plc:stranger00000000000000000").await;
    let path = created_series(&world, &owner, meetup("om-one")).await;
    let second = format!("{path}/occurrences/2026-12-08T18:00:00");

    let reason = json!({"reason": "venue closed"});
    let (status, body) = world
        .call(
            "POST",
            &format!("{second}/cancel"),
            Some(&stranger),
            Some(reason.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = world
        .call(
            "POST",
            &format!("{path}/occurrences/2026-12-09T18:00:00/cancel"),
            Some(&owner),
            Some(reason.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("start: "),
        "{body}"
    );
    let (status, cancelled) = world
        .call(
            "POST",
            &format!("{second}/cancel"),
            Some(&owner),
            Some(reason),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(
        cancelled["recorded"],
        json!(["OccurrenceScheduled", "OccurrenceCancelled"])
    );
    assert_eq!(cancelled["version"], 2);

    let third = format!("{path}/occurrences/2026-12-15T17:00:00Z/move");
    let thursday = json!({"startDate": "2026-12-17T19:00:00"});
    let (status, _, body) =
        call_if_match(&world, "POST", &third, &owner, "1", Some(thursday.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "a stale version: {body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("is at version 0"),
        "{body}"
    );
    let (status, etag, moved) =
        call_if_match(&world, "POST", &third, &owner, "0", Some(thursday)).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(
        moved["recorded"],
        json!(["OccurrenceScheduled", "OccurrenceEdited"])
    );
    assert_eq!(etag.as_deref(), Some("2"));
    world.project().await;
    let (_, series) = world.call("GET", &path, None, None).await;
    let occurrences = series["occurrences"].as_array().unwrap();
    let by_start = |start: &str| {
        occurrences
            .iter()
            .find(|o| o["starts_at"] == start)
            .unwrap_or_else(|| panic!("{start} in {series}"))
            .clone()
    };
    assert_eq!(by_start("2026-12-08T17:00:00Z")["state"], "cancelled");
    let moved = by_start("2026-12-17T18:00:00Z");
    assert_eq!(
        moved["ends_at"], "2026-12-17T20:00:00Z",
        "as long as it was"
    );
    assert_eq!(
        series["rrule"], "FREQ=WEEKLY;BYDAY=TU",
        "the rule unchanged"
    );
    world.clean().await;
}

#[tokio::test]
async fn a_series_is_deleted_with_the_occurrences_scheduled_of_it() {
    let world = World::new(offline_resolver()).await;
    let owner = operator_token(&world, OWNER).await;
    let path = created_series(&world, &owner, meetup("om-gone")).await;
    let (status, _) = world
        .call(
            "POST",
            &format!("{path}/occurrences/2026-12-08T18:00:00/cancel"),
            Some(&owner),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    world.project().await;
    let (status, _, body) = call_if_match(&world, "DELETE", &path, &owner, "7", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, etag, deleted) = call_if_match(&world, "DELETE", &path, &owner, "2", None).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(
        deleted["recorded"],
        json!(["SeriesDeleted", "OccurrenceDeleted"])
    );
    assert_eq!(etag.as_deref(), Some("3"));
    world.project().await;
    let (status, _) = world.call("GET", &path, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = world
        .call("GET", "/api/series/openmeet/om-gone", None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = world
        .call("POST", "/api/series", Some(&owner), Some(meetup("om-gone")))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "its id stays taken: {body}");
    world.clean().await;
}

#[tokio::test]
async fn a_standalone_event_is_edited_in_its_times_place_mode_links_and_status() {
    let world = World::new(offline_resolver()).await;
    let owner = operator_token(&world, OWNER).await;
    let (status, created) = world
        .call(
            "POST",
            "/api/events",
            Some(&owner),
            Some(launch_party("om-event-edit")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    world.project().await;
    let path = format!("/api/events/{}", created["slug"].as_str().unwrap());
    let bad = json!({"lat": 91, "lon": 0});
    let before = head(&world).await;
    let (status, body) = world.call("PATCH", &path, Some(&owner), Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("lat: "),
        "{body}"
    );
    assert_eq!(head(&world).await, before, "nothing recorded");
    let change = json!({
        "startDate": "2026-12-11T19:00:00", "endDate": "2026-12-11T22:00:00",
        "type": "online", "locationOnline": "https://meet.example/party",
        "links": [{"uri": "https://openmeet.test/e/party", "name": "Tickets"}],
        "status": "cancelled"
    });
    let (status, etag, edited) = patch_if_match(&world, &path, &owner, "2", change).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(
        edited["recorded"],
        json!(["OccurrenceEdited", "OccurrenceCancelled"])
    );
    assert_eq!(etag.as_deref(), Some("4"));
    world.project().await;
    let (_, event) = world.call("GET", &path, None, None).await;
    assert_eq!(event["starts_at"], "2026-12-11T18:00:00Z", "{event}");
    assert_eq!(event["state"], "cancelled", "{event}");
    world.clean().await;
}

#[tokio::test]
async fn only_a_public_series_may_be_shared() {
    let world = World::new(offline_resolver()).await;
    let owner = operator_token(&world, OWNER).await;
    let mut members_only = meetup("om-private");
    members_only["visibility"] = json!("authenticated");
    let path = created_series(&world, &owner, members_only).await;
    let slug = path.trim_start_matches("/api/series/");
    let settings = format!("/api/events/{slug}/bluesky-settings");
    let share = || {
        world.call(
            "POST",
            &settings,
            Some(&owner),
            Some(json!({"enabled": true})),
        )
    };
    let before = head(&world).await;
    let (status, body) = share().await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("visibility: "),
        "{body}"
    );
    assert_eq!(head(&world).await, before, "nothing recorded");
    let (status, made_public) = world
        .call(
            "PATCH",
            &path,
            Some(&owner),
            Some(json!({"visibility": "public"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made_public}");
    assert_eq!(made_public["recorded"], json!(["VisibilityChanged"]));
    let (status, body) = share().await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("no Bluesky session"),
        "public now, the rule lets it through to the next check: {body}"
    );
    world.clean().await;
}
