//! `GET /api/users`: every account by DID, whatever its status, filtered
//! by status and by shadow, in keyset pages, for administrators; and
//! `GET /api/users/{did}`: what the network publishes to anyone, the local
//! id and token expiry to the account itself and administrators.

use axum::http::StatusCode;
use serde_json::Value;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use world::{ADMIN, World, offline_resolver, operator_token};

const DIDS: [&str; 3] = [
    "did:plc:userslista000000000000000",
    "did:plc:userslistb000000000000000",
    "did:plc:userslistc000000000000000",
];

fn dids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["bluesky_did"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_account_is_listed_whatever_its_status_and_filters_and_pages_hold() {
    let mut world = World::new(offline_resolver()).await;
    for (n, did) in DIDS.iter().enumerate() {
        world.import_event(did, &format!("3ul{n}"), "Meetup").await;
    }
    world.account_status(DIDS[1], false, "deactivated").await;
    let admin = operator_token(&world, ADMIN).await;
    world.project().await;

    let get = |query: String| {
        let (world, admin) = (&world, &admin);
        async move {
            world
                .call("GET", &format!("/api/users{query}"), Some(admin), None)
                .await
        }
    };
    let (status, all) = get("?shadow=true".into()).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(dids(&all), DIDS);
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["is_shadow_account"] == true)
    );

    let (_, everyone) = get(String::new()).await;
    assert_eq!(dids(&everyone), [DIDS[0], DIDS[1], DIDS[2], ADMIN]);
    let (_, deactivated) = get("?status=deactivated".into()).await;
    assert_eq!(dids(&deactivated), [DIDS[1]]);
    assert_eq!(deactivated["items"][0]["account_status"], "deactivated");
    let (_, full) = get("?shadow=false".into()).await;
    assert_eq!(dids(&full), [ADMIN]);

    let (_, first) = get("?shadow=true&limit=2".into()).await;
    assert_eq!(dids(&first), &DIDS[..2]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = get(format!("?shadow=true&limit=2&cursor={cursor}")).await;
    assert_eq!(dids(&rest), &DIDS[2..]);
    assert!(rest["next_cursor"].is_null());

    let (status, _) = get("?limit=0".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    world.clean().await;
}

/// Whether `GET /api/users/{did}` shows the caller holding `token` the
/// account's local id.
async fn local_id_seen(world: &World, did: &str, token: Option<&str>) -> bool {
    let (status, user) = world
        .call("GET", &format!("/api/users/{did}"), token, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["bluesky_did"], did);
    user.get("id").is_some()
}

#[tokio::test]
async fn only_administrators_list_accounts_and_only_an_account_and_administrators_see_its_local_id()
{
    let mut world = World::new(offline_resolver()).await;
    world.import_event(DIDS[0], "3ulx", "Meetup").await;
    let admin = operator_token(&world, ADMIN).await;
    let alice = operator_token(&world, DIDS[1]).await;
    world.project().await;

    let (status, body) = world.call("GET", "/api/users", None, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized")),
        "{body}"
    );
    let (status, body) = world.call("GET", "/api/users", Some(&alice), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "{body}"
    );

    assert!(
        !local_id_seen(&world, DIDS[0], None).await,
        "anonymous sees no local id"
    );
    assert!(
        !local_id_seen(&world, DIDS[0], Some(&alice)).await,
        "another user sees none"
    );
    assert!(
        local_id_seen(&world, DIDS[0], Some(&admin)).await,
        "an administrator does"
    );
    assert!(
        local_id_seen(&world, DIDS[1], Some(&alice)).await,
        "the account itself does"
    );
    assert!(!local_id_seen(&world, DIDS[1], None).await);

    let (status, body) = world
        .call(
            "GET",
            &format!("/api/users/{}", DIDS[0]),
            Some("forged"),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a forged session is refused, not ignored: {body}"
    );
    world.clean().await;
}
