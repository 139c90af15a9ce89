//! `GET /api/rejections`: what intake rejected, for administrators, paged
//! in the order it was recorded, with the reason, the input's first bytes,
//! its size and its digest.

use axum::http::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use capture::{EVENT, RSVP, commit, event_record, rsvp_record};
use world::{ADMIN, World, offline_resolver, operator_token};

const GUEST: &str = "did:plc:rejectionsguest00000000000";

#[tokio::test]
async fn administrators_page_through_the_rejections_and_no_one_else_reads_them() {
    let mut world = World::new(offline_resolver()).await;
    let maybe = commit(
        GUEST,
        10,
        "create",
        RSVP,
        "3maybe",
        Some(rsvp_record(&format!("at://{GUEST}/{EVENT}/e"), "maybe")),
    );
    let long = commit(
        GUEST,
        20,
        "create",
        EVENT,
        "3long",
        Some(event_record(
            "Long",
            json!({"description": "z".repeat(70_000)}),
        )),
    );
    for line in [&maybe, &long] {
        world.ingest(line.clone()).await;
    }
    let admin = operator_token(&world, ADMIN).await;
    let guest = operator_token(&world, GUEST).await;

    let (status, first) = world
        .call("GET", "/api/rejections?limit=1", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let item = &first["items"][0];
    assert_eq!(item["subject"], format!("at://{GUEST}/{RSVP}/3maybe"));
    assert_eq!(
        item["reason"],
        "status \"community.lexicon.calendar.rsvp#maybe\" is not a known RSVP status"
    );
    assert_eq!(item["raw"], maybe);
    assert_eq!(item["size"], maybe.len());
    assert_eq!(
        item["sha256"],
        format!("{:x}", Sha256::digest(maybe.as_bytes()))
    );
    let next = first["next_from"].as_u64().expect("a second page");

    let (status, second) = world
        .call(
            "GET",
            &format!("/api/rejections?from={next}&limit=1"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let item = &second["items"][0];
    assert_eq!(item["subject"], format!("at://{GUEST}/{EVENT}/3long"));
    assert_eq!(item["size"], long.len());
    assert_eq!(item["raw"].as_str().unwrap().len(), 4 * 1024);
    assert!(second["next_from"].is_null(), "{second}");
    assert!(item["position"].as_u64().unwrap() > first["items"][0]["position"].as_u64().unwrap());

    let (status, _) = world
        .call("GET", "/api/rejections", Some(&guest), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = world.call("GET", "/api/rejections", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = world
        .call("GET", "/api/rejections?limit=0", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    world.clean().await;
}
