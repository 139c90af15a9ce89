//! Every operation of `/api/openapi.json` has a row in the access table
//! (`api::audience::ROUTES`), every row an operation, and each answers an
//! anonymous caller, an ordinary user and an administrator as its row says:
//! 401 without a session, 403 with the wrong one, each with the JSON error
//! body. A route added without a rule fails here.

use axum::http::{Method, StatusCode};
use serde_json::Value;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use api::audience::{Audience, ROUTES};
use world::{ADMIN, World, offline_resolver, operator_token};

const ORDINARY: &str = "did:plc:ordinaryuser00000000000";

/// `path` with each `{parameter}` filled with a value naming nothing.
fn filled(path: &str) -> String {
    path.replace("{slug}", "no-such-event")
        .replace("{did}", "did:plc:nobodyhere0000000000000")
        .replace("{id}", "00000000-0000-4000-8000-000000000000")
}

/// The operations the document lists, as (method, path, whether the body
/// is JSON when it takes one).
fn operations(document: &Value) -> Vec<(Method, String, Option<bool>)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (name, operation) in item.as_object().unwrap() {
            let Ok(method) = Method::from_bytes(name.to_uppercase().as_bytes()) else {
                continue;
            };
            let body = operation["requestBody"]["content"]
                .as_object()
                .map(|content| content.contains_key("application/json"));
            found.push((method, path.clone(), body));
        }
    }
    found
}

/// What `token` (or no one) gets from `method` on `path`: the status and
/// the body, which must be the JSON error body when it refuses.
async fn answer(
    world: &World,
    method: &Method,
    path: &str,
    json_body: Option<bool>,
    token: Option<&str>,
) -> StatusCode {
    let body = match json_body {
        Some(true) => Some(serde_json::json!({})),
        Some(false) | None => None,
    };
    let (status, value) = world
        .call(method.as_str(), &filled(path), token, body)
        .await;
    if status.is_client_error() || status.is_server_error() {
        assert!(
            value["code"].is_string() && value["message"].is_string(),
            "{method} {path} answered {status} without the JSON error body: {value}"
        );
    }
    status
}

#[tokio::test]
async fn every_route_answers_anonymous_callers_users_and_administrators_as_its_row_says() {
    let world = World::new(offline_resolver()).await;
    let (status, document) = world.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let operations = operations(&document);

    let unruled: Vec<String> = operations
        .iter()
        .filter(|(method, path, _)| api::audience::of(method, path).is_none())
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    assert!(
        unruled.is_empty(),
        "routes without a row in api::audience::ROUTES: {unruled:?}"
    );
    let undocumented: Vec<String> = ROUTES
        .iter()
        .filter(|(method, path, _)| !operations.iter().any(|(m, p, _)| m == method && p == path))
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    assert!(
        undocumented.is_empty(),
        "rows of the access table the document does not list: {undocumented:?}"
    );

    for (method, path, body) in &operations {
        let audience = api::audience::of(method, path).unwrap();
        // Fresh sessions for each route: one of them is logout.
        let user = operator_token(&world, ORDINARY).await;
        let admin = operator_token(&world, ADMIN).await;
        let anonymous = answer(&world, method, path, *body, None).await;
        let as_user = answer(&world, method, path, *body, Some(&user)).await;
        let as_admin = answer(&world, method, path, *body, Some(&admin)).await;
        let route = format!("{method} {path} ({audience:?})");
        let refused = [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN];
        match audience {
            Audience::Anyone => {
                assert!(
                    !refused.contains(&anonymous),
                    "{route}: anonymous got {anonymous}"
                );
                assert!(!refused.contains(&as_user), "{route}: a user got {as_user}");
            }
            Audience::Session => {
                assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{route}: anonymous");
                assert_ne!(as_user, StatusCode::UNAUTHORIZED, "{route}: a user");
            }
            Audience::Administrators => {
                assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{route}: anonymous");
                assert_eq!(as_user, StatusCode::FORBIDDEN, "{route}: a user");
                assert!(
                    !refused.contains(&as_admin),
                    "{route}: an administrator got {as_admin}"
                );
            }
        }
        assert_ne!(
            as_admin,
            StatusCode::UNAUTHORIZED,
            "{route}: an administrator"
        );
    }
    world.clean().await;
}

#[tokio::test]
async fn a_method_a_path_does_not_answer_is_refused_with_its_allowed_methods_and_head_follows_get()
{
    let world = World::new(offline_resolver()).await;
    let (status, body) = world.call("PUT", "/api/users", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["code"], "method_not_allowed");
    assert_eq!(body["message"], "/api/users answers only GET");
    let (status, _) = world.call("HEAD", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "HEAD is answered where GET is");
    world.clean().await;
}
