//! The read API over projections of the bundled sample, on a real database.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use domain::GlobalPosition;
use ingest::apply::Applier;
use projections::Projection;
use projections::projection::LIVE_SCHEMA;
use serde_json::Value;
use store::testkit::ScratchDatabase;
use store::{EventStore, PgEventStore};
use tower::ServiceExt;

async fn import_sample(store: &PgEventStore) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../samples/jetstream-calendar.jsonl"
    ))
    .unwrap();
    let applier = Applier::new(store.clone());
    for (n, line) in text.lines().enumerate() {
        applier.apply(line, &format!("sample:{n}")).await.unwrap();
    }
}

async fn project(store: &PgEventStore, until: GlobalPosition) {
    let mut conn = store.pool().acquire().await.unwrap();
    for projection in Projection::ALL {
        let from = projection.checkpoint(store.pool()).await.unwrap();
        let events = store
            .read_all(from, (until.0 - from.0) as usize)
            .await
            .unwrap();
        projection
            .apply(&mut conn, LIVE_SCHEMA, &events, Some(from))
            .await
            .unwrap();
    }
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn app() -> (axum::Router, PgEventStore, ScratchDatabase) {
    let db = ScratchDatabase::create().await;
    let store = db.store(4).await;
    import_sample(&store).await;
    project(&store, store.head().await.unwrap()).await;
    let mut state = api::AppState::new(store.clone());
    state.consistency_timeout = Duration::from_millis(300);
    (api::router(state), store, db)
}

#[tokio::test]
async fn events_are_listed_by_start_in_pages_without_deleted_ones() {
    let (app, _store, _db) = app().await;
    let (status, first) = get(&app, "/api/events?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Rust Meetup #12", "Rust Meetup #13"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = get(&app, &format!("/api/events?limit=2&cursor={cursor}")).await;
    let names: Vec<&str> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Rust Meetup #14 (moved to Wednesday)"],
        "the deleted book club is left out"
    );
    assert_eq!(second["next_cursor"], Value::Null);

    let (_, filtered) = get(
        &app,
        "/api/events?from=2026-12-05T00:00:00Z&to=2026-12-10T00:00:00Z&source=bluesky",
    )
    .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let (_, local) = get(&app, "/api/events?source=openmeet").await;
    assert_eq!(local["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_event_shows_its_bluesky_source_and_its_attendees() {
    let (app, _store, _db) = app().await;
    let (_, page) = get(&app, "/api/events?limit=1").await;
    let slug = page["items"][0]["slug"].as_str().unwrap().to_owned();
    let (status, event) = get(&app, &format!("/api/events/{slug}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event["external_source"], "bluesky");
    assert_eq!(event["origin"], "bluesky");
    assert!(
        event["external_id"]
            .as_str()
            .unwrap()
            .starts_with("at://did:plc:samplerustberlin/")
    );
    assert_eq!(event["is_read_only"], true);

    let (_, attendees) = get(&app, &format!("/api/events/{slug}/attendees")).await;
    let answers: Vec<(&str, &str, bool)> = attendees["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["did"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
                a["is_shadow_account"].as_bool().unwrap(),
            )
        })
        .collect();
    let mut answers = answers;
    answers.sort();
    assert_eq!(
        answers,
        [
            ("did:plc:sampleguest1", "attending", true),
            ("did:plc:sampleguest2", "declined", true)
        ]
    );

    let uri = event["external_id"].as_str().unwrap();
    let (_, reference) = get(&app, &format!("/api/external-refs?uri={uri}")).await;
    assert_eq!(
        (reference["kind"].as_str(), reference["local_id"].as_str()),
        (Some("occurrence"), event["id"].as_str())
    );
    let (_, user) = get(&app, "/api/users/did:plc:sampleguest1").await;
    assert_eq!(user["is_shadow_account"], true);
}

#[tokio::test]
async fn errors_are_json_with_a_code_and_a_message() {
    let (app, _store, _db) = app().await;
    let cases = [
        (
            "/api/events/no-such-event",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/events?from=yesterday",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/events?limit=0",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/events?cursor=garbage",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/events?source=mastodon",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("/api/external-refs", StatusCode::BAD_REQUEST, "bad_request"),
        (
            "/api/users/did:plc:nobody",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/series/no-such-series",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("/nowhere", StatusCode::NOT_FOUND, "not_found"),
    ];
    for (uri, status, code) in cases {
        let (got, body) = get(&app, uri).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{uri}: {body}"
        );
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_read_after_a_position_waits_for_the_projection_then_sees_the_write() {
    let (app, store, _db) = app().await;
    let line = r#"{"did":"did:plc:late","time_us":1764000099000000,"kind":"commit","commit":{"rev":"3mptbyp63ih2m","operation":"create","collection":"community.lexicon.calendar.event","rkey":"3late","record":{"$type":"community.lexicon.calendar.event","name":"Late addition","createdAt":"2026-11-01T10:00:00Z","startsAt":"2027-01-05T18:00:00Z"},"cid":"bafyreieis7y4we4bkg26lsispbedzo5rn7gbx3bf2bxkpw6hvg726kktee"}}"#;
    Applier::new(store.clone())
        .apply(line, "late")
        .await
        .unwrap();
    let written = store.head().await.unwrap();
    let (status, body) = get(&app, &format!("/api/events?after={written}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_caught_up")),
        "{body}"
    );

    let reader = tokio::spawn({
        let app = app.clone();
        async move {
            get(
                &app,
                &format!("/api/events?after={written}&from=2027-01-01T00:00:00Z"),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    project(&store, written).await;
    let (status, body) = reader.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"][0]["name"], "Late addition");
}

#[tokio::test]
async fn health_metrics_and_openapi_are_served() {
    let (app, store, _db) = app().await;
    let (status, health) = get(&app, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["head"], store.head().await.unwrap().0);
    assert!(
        health["projections"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["behind"] == 0)
    );
    // The process manager did not run in this test: it lags by the whole log.
    assert_eq!(health["process_manager"]["checkpoint"], 0);
    assert_eq!(health["process_manager"]["behind"], health["head"]);

    let (_, openapi) = get(&app, "/api/openapi.json").await;
    for path in [
        "/api/events",
        "/api/events/{slug}",
        "/api/events/{slug}/attendees",
        "/api/series/{slug}",
        "/api/users/{did}",
        "/api/external-refs",
        "/health",
    ] {
        assert!(
            openapi["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }

    let response = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("http_request_duration_seconds_count{route=\"/health\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("projection_lag_events{projection=\"occurrences\"} 0"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "projection_lag_events{{projection=\"process-manager\"}} {}",
            store.head().await.unwrap().0
        )),
        "{text}"
    );
}
