//! `GET /api/users`: every account by DID, whatever its status, filtered
//! by status and by shadow, in keyset pages.

use axum::http::StatusCode;
use serde_json::Value;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use world::{World, offline_resolver};

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
    world.project().await;

    let get = |query: String| {
        let world = &world;
        async move {
            world
                .call("GET", &format!("/api/users{query}"), None, None)
                .await
        }
    };
    let (status, all) = get(String::new()).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(dids(&all), DIDS);
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["is_shadow_account"] == true)
    );

    let (_, deactivated) = get("?status=deactivated".into()).await;
    assert_eq!(dids(&deactivated), [DIDS[1]]);
    assert_eq!(deactivated["items"][0]["account_status"], "deactivated");
    let (_, full) = get("?shadow=false".into()).await;
    assert_eq!(dids(&full), Vec::<&str>::new());

    let (_, first) = get("?limit=2".into()).await;
    assert_eq!(dids(&first), &DIDS[..2]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = get(format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(dids(&rest), &DIDS[2..]);
    assert!(rest["next_cursor"].is_null());

    let (status, _) = get("?limit=0".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    world.clean().await;
}
