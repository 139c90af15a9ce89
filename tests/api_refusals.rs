//! Every refusal of the API has the JSON error body, axum's own extractor
//! refusals included, and each answers with the status the document lists:
//! a query that does not parse, a body that is not JSON, not sent as JSON,
//! or not an object of the documented shape, NUL in a path, and a position
//! beyond the log's head.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use world::{World, offline_resolver, operator_token};

/// Sends `method` `uri` with `body` as `content_type`: the status and the
/// body, which must be JSON.
async fn send(
    world: &World,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: &str,
    token: &str,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = world
        .app
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{method} {uri}"
    );
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn every_refusal_is_json_with_the_status_the_document_lists() {
    let mut world = World::new(offline_resolver()).await;
    let uri = world
        .import_event("did:plc:refusals00000000000000", "3ref", "Meetup")
        .await;
    let token = operator_token(&world, "did:plc:refusalsuser0000000000").await;
    world.project().await;
    let slug = world.event_slug(&uri).await;
    let rsvp = format!("/api/events/{slug}/rsvp");
    let json = Some("application/json");
    let cases = [
        (
            "GET",
            "/api/events?limit=many".to_owned(),
            None,
            "",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "GET",
            "/api/events/a%00b".to_owned(),
            None,
            "",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "POST",
            rsvp.clone(),
            json,
            "{not json",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "POST",
            rsvp.clone(),
            None,
            r#"{"status":"attending"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "POST",
            rsvp.clone(),
            json,
            r#"["attending", null]"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        ),
        (
            "POST",
            rsvp.clone(),
            json,
            r#"{"status":"perhaps"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
        ),
        (
            "GET",
            "/api/events?after=1000000".to_owned(),
            None,
            "",
            StatusCode::CONFLICT,
            "conflict",
        ),
    ];
    for (method, uri, content_type, body, status, code) in cases {
        let (got, answer) = send(&world, method, &uri, content_type, body, &token).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{method} {uri} {body}: {answer}"
        );
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    let (_, beyond) = send(&world, "GET", "/api/events?after=1000000", None, "", &token).await;
    let head = store::EventStore::head(&world.store).await.unwrap();
    assert!(
        beyond["message"]
            .as_str()
            .unwrap()
            .contains(&format!("beyond the log's head, position {head}")),
        "{beyond}"
    );
    let (status, _) = send(
        &world,
        "POST",
        &rsvp,
        json,
        r#"{"status":"attending"}"#,
        &token,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same request, well formed, is answered"
    );
    world.clean().await;
}
