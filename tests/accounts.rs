//! Shadow accounts, claiming, sessions and authorization, against the real
//! PDS (accounts created there, logins through it), the real Postgres and
//! the real Redis.

use axum::http::StatusCode;
use domain::identity::UserId;
use ingest::apply::{Applier, Outcome};
use publish::enrich::Enricher;
use publish::{CredentialStore, Resolver, ResolverConfig};
use serde_json::{Value, json};
use store::EventStore;
use uuid::Uuid;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/pds.rs"]
mod pds;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use capture::{EVENT, commit, event_record};
use pds::{Account, Pds};
use world::{ADMIN, KEY, World, offline_resolver, operator_token};

async fn session_of(world: &World, account: &Account) -> (String, Value) {
    let (status, body) = world.log_in(&account.handle, &account.password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (body["token"].as_str().unwrap().to_owned(), body)
}

fn resolver(pds: &Pds) -> Resolver {
    Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).unwrap()
}

/// What the PDS answers a refresh with `refresh_jwt`.
async fn refresh(pds: &Pds, refresh_jwt: &str) -> StatusCode {
    let status = reqwest::Client::new()
        .post(format!(
            "{}/xrpc/com.atproto.server.refreshSession",
            pds.url
        ))
        .bearer_auth(refresh_jwt)
        .send()
        .await
        .unwrap()
        .status();
    StatusCode::from_u16(status.as_u16()).unwrap()
}

/// An app-password login: its status, `Retry-After` and body.
async fn log_in_raw(
    world: &World,
    identifier: &str,
    password: &str,
) -> (StatusCode, Option<u64>, Value) {
    use tower::ServiceExt;
    let request = axum::http::Request::post("/api/auth/bluesky/app-password")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"identifier": identifier, "password": password}).to_string(),
        ))
        .unwrap();
    let response = world.app.clone().oneshot(request).await.unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().parse().unwrap());
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, retry_after, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn against_the_real_pds() {
    let pds = Pds::start();
    a_login_claims_the_shadow_of_its_did_and_everything_stays_attached(&pds).await;
    a_user_cannot_act_as_another_did(&pds).await;
    a_new_account_with_a_shadows_handle_gets_nothing_of_the_shadow(&pds).await;
    a_handle_that_failed_too_often_waits_out_its_window(&pds).await;
}

async fn a_handle_that_failed_too_often_waits_out_its_window(pds: &Pds) {
    use domain::login_limits::{Count, handle};
    let world = World::new(resolver(pds)).await;
    let carol = pds.create_account("carol", "carol-app-password").await;
    let dave = pds.create_account("dave", "dave-app-password").await;
    for attempt in 1..=5 {
        let (status, body) = world.log_in(&carol.handle, "not-her-password").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {body}"
        );
    }
    let (status, retry_after, body) =
        log_in_raw(&world, &carol.handle.to_uppercase(), &carol.password).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")),
        "even the right password waits: {body}"
    );
    let retry_after = retry_after.expect("a Retry-After header");
    assert!((800..=900).contains(&retry_after), "{retry_after}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("failed logins for {}", carol.handle)),
        "{body}"
    );
    let (status, body) = world.log_in(&dave.handle, &dave.password).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "another account from the same address: {body}"
    );

    let counter = format!(
        "{}{}",
        world.prefix,
        handle(&carol.handle).key(Count::Failures)
    );
    let _: () = redis::cmd("PEXPIRE")
        .arg(&counter)
        .arg(200)
        .query_async(&mut world.redis.clone())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, body) = world.log_in(&carol.handle, &carol.password).await;
    assert_eq!(status, StatusCode::OK, "after the window: {body}");
    world.clean().await;
}

async fn a_login_claims_the_shadow_of_its_did_and_everything_stays_attached(pds: &Pds) {
    let mut world = World::new(resolver(pds)).await;
    let alice = pds.create_account("alice", "alice-app-password").await;
    pds.put_record(
        &alice,
        "app.bsky.actor.profile",
        "self",
        json!({"$type": "app.bsky.actor.profile", "displayName": "Alice Liddell"}),
    )
    .await;
    let guest = pds.create_account("guest", "guest-app-password").await;
    let uri = world
        .import_event(&alice.did, "3meetup1", "Rust Meetup")
        .await;
    world.import_rsvp(&alice.did, &uri).await;
    world.import_rsvp(&guest.did, &uri).await;

    let mut enricher = Enricher::start(world.store.clone(), resolver(pds))
        .await
        .unwrap();
    assert_eq!(
        enricher.run_until_idle().await.unwrap(),
        3,
        "both handles from the DID documents, alice's display name from her profile (the guest has none)"
    );
    assert_eq!(enricher.run_until_idle().await.unwrap(), 0, "nothing twice");
    world.project().await;
    let (_, shadow) = world
        .call("GET", &format!("/api/users/{}", alice.did), None, None)
        .await;
    assert_eq!(
        (
            shadow["bluesky_handle"].as_str(),
            shadow["display_name"].as_str(),
            shadow["is_shadow_account"].as_bool()
        ),
        (
            Some(alice.handle.as_str()),
            Some("Alice Liddell"),
            Some(true)
        )
    );

    let (token, login) = session_of(&world, &alice).await;
    let shadow_id = UserId::shadow_for(&alice.did).0.to_string();
    assert_eq!(
        (
            login["claimed_shadow"].as_bool(),
            login["registered"].as_bool(),
            login["user_id"].as_str()
        ),
        (Some(true), Some(false), Some(shadow_id.as_str()))
    );
    world.project().await;
    let (_, user) = world
        .call(
            "GET",
            &format!("/api/users/{}", alice.did),
            Some(&operator_token(&world, ADMIN).await),
            None,
        )
        .await;
    assert_eq!(
        (user["id"].as_str(), user["is_shadow_account"].as_bool()),
        (Some(shadow_id.as_str()), Some(false))
    );
    let slug = world.event_slug(&uri).await;
    let (_, event) = world
        .call("GET", &format!("/api/events/{slug}"), None, None)
        .await;
    assert_eq!(
        (
            event["organizer_id"].as_str(),
            event["organizer_is_shadow_account"].as_bool(),
            event["external_source"].as_str()
        ),
        (Some(shadow_id.as_str()), Some(false), Some("bluesky"))
    );
    let (_, attendees) = world
        .call("GET", &format!("/api/events/{slug}/attendees"), None, None)
        .await;
    let mut who: Vec<(String, bool)> = attendees["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["did"].as_str().unwrap().to_owned(),
                a["is_shadow_account"].as_bool().unwrap(),
            )
        })
        .collect();
    who.sort();
    let mut expected = vec![(alice.did.clone(), false), (guest.did.clone(), true)];
    expected.sort();
    assert_eq!(
        who, expected,
        "the claimed account keeps its RSVP; the guest is still a shadow"
    );

    let (status, body) = world
        .call(
            "PATCH",
            &format!("/api/events/{slug}"),
            Some(&token),
            Some(json!({"name": "Rust Meetup Berlin"})),
        )
        .await;
    assert_eq!(
        (status, body["recorded"].clone()),
        (StatusCode::OK, json!(["OccurrenceEdited"])),
        "{body}"
    );

    let credentials = CredentialStore::new(world.redis.clone(), KEY, &world.prefix).unwrap();
    let first = credentials
        .get(UserId(Uuid::parse_str(&shadow_id).unwrap()))
        .await
        .unwrap()
        .unwrap();
    let (again_token, again) = session_of(&world, &alice).await;
    assert!(
        refresh(pds, &first.refresh_jwt).await.is_client_error(),
        "a new login ends the Bluesky session it replaces"
    );
    assert_eq!(
        (
            again["claimed_shadow"].as_bool(),
            again["registered"].as_bool(),
            again["user_id"].as_str()
        ),
        (Some(false), Some(false), Some(shadow_id.as_str())),
        "claiming twice is a no-op"
    );
    assert_eq!(
        world.event_types(&format!("identity-{}", alice.did)).await,
        [
            "ShadowAccountCreated",
            "HandleChanged",
            "DisplayNameChanged",
            "ShadowClaimed",
            "BlueskyCredentialsStored",
            "BlueskyCredentialsStored"
        ],
        "each login keeps its session for publishing, and says so without the tokens"
    );
    world.project().await;
    let (_, user) = world
        .call(
            "GET",
            &format!("/api/users/{}", alice.did),
            Some(&operator_token(&world, ADMIN).await),
            None,
        )
        .await;
    let expiry = user["bluesky_token_expiry"]
        .as_str()
        .unwrap_or_else(|| panic!("{user}"));
    assert!(
        expiry > "2027-01-01",
        "the refresh token's expiry, 90 days on: {expiry}"
    );

    let mut redis = world.redis.clone();
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(format!("{}bluesky:credentials:{shadow_id}", world.prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{}bluesky:credentials:{shadow_id}", world.prefix))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        !stored.is_empty() && ttl > 3600,
        "stored with the refresh token's expiry (ttl {ttl})"
    );
    assert!(
        !String::from_utf8_lossy(&stored).contains("eyJ")
            && !String::from_utf8_lossy(&stored).contains(&alice.did),
        "tokens are encrypted at rest"
    );
    let store = CredentialStore::new(world.redis.clone(), KEY, &world.prefix).unwrap();
    let session = store
        .get(UserId::shadow_for(&alice.did))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (session.did.as_str(), session.handle.as_str()),
        (alice.did.as_str(), alice.handle.as_str())
    );
    let log = world
        .store
        .read_all(domain::GlobalPosition(0), 100_000)
        .await
        .unwrap();
    assert!(
        log.iter()
            .all(|e| !String::from_utf8_lossy(&e.payload.bytes).contains(&session.access_jwt)),
        "no token reaches the event log"
    );

    let (status, _) = world
        .call("POST", "/api/auth/logout", Some(&again_token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        store
            .get(UserId::shadow_for(&alice.did))
            .await
            .unwrap()
            .is_none(),
        "logging out forgets the Bluesky session"
    );
    let refreshed = refresh(pds, &session.refresh_jwt).await;
    assert!(
        refreshed.is_client_error(),
        "and ends it on the PDS ({refreshed})"
    );
    let (status, _) = world
        .call("GET", "/api/auth/session", Some(&again_token), None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a logged-out session is refused"
    );
    let (status, me) = world
        .call("GET", "/api/auth/session", Some(&token), None)
        .await;
    assert_eq!(
        (status, me["did"].as_str()),
        (StatusCode::OK, Some(alice.did.as_str()))
    );
    world.clean().await;
}

async fn a_user_cannot_act_as_another_did(pds: &Pds) {
    let mut world = World::new(resolver(pds)).await;
    let carol = pds.create_account("carol", "carol-app-password").await;
    let mallory = pds.create_account("mallory", "mallory-app-pass").await;
    let uri = world
        .import_event(&carol.did, "3carols", "Carol's Book Club")
        .await;
    world.project().await;
    let slug = world.event_slug(&uri).await;
    let (token, _) = session_of(&world, &mallory).await;
    let (status, _) = world.log_in(&carol.handle, &mallory.password).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "mallory's password does not open carol's DID"
    );
    let (status, _) = world.log_in(&carol.did, &mallory.password).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = world.log_in("nobody.test", "whatever").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        world.event_types(&format!("identity-{}", carol.did)).await,
        ["ShadowAccountCreated"],
        "carol's shadow is still unclaimed"
    );

    let rsvp = |attendee: Option<&str>| json!({"status": "attending", "attendee": attendee});
    let (status, body) = world
        .call(
            "POST",
            &format!("/api/events/{slug}/rsvp"),
            Some(&token),
            Some(rsvp(Some(&carol.did))),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "RSVP as carol: {body}"
    );
    let (status, body) = world
        .call(
            "PATCH",
            &format!("/api/events/{slug}"),
            Some(&token),
            Some(json!({"name": "Mallory's Club"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "editing carol's event: {body}"
    );
    let (status, _) = world
        .call(
            "POST",
            "/api/bluesky/events/process",
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admin endpoints");
    let (status, body) = world
        .call(
            "POST",
            &format!("/api/events/{slug}/rsvp"),
            Some(&token),
            Some(rsvp(None)),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("attending")),
        "{body}"
    );

    for (name, token) in [
        (
            "forged",
            Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        ("missing", None),
    ] {
        let (status, body) = world
            .call(
                "POST",
                &format!("/api/events/{slug}/rsvp"),
                token,
                Some(rsvp(None)),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{name} token"
        );
    }
    let (expired, _) = api::auth::sessions::issue(
        world.store.pool(),
        UserId(
            Uuid::parse_str(
                world
                    .call("GET", "/api/auth/session", Some(&token), None)
                    .await
                    .1["user_id"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
        ),
        &mallory.did,
        chrono::Duration::seconds(-1),
    )
    .await
    .unwrap();
    let (status, _) = world
        .call("GET", "/api/auth/session", Some(&expired), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an expired session");
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM auth.sessions WHERE expires_at <= now()")
            .fetch_one(world.store.pool())
            .await
            .unwrap();
    assert_eq!(left, 0, "an expired session is removed when met");
    let hashed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM auth.sessions WHERE token_hash = convert_to($1, 'UTF8')",
    )
    .bind(&token)
    .fetch_one(world.store.pool())
    .await
    .unwrap();
    assert_eq!(hashed, 0, "tokens are stored hashed");
    world.clean().await;
}

async fn a_new_account_with_a_shadows_handle_gets_nothing_of_the_shadow(pds: &Pds) {
    let mut world = World::new(resolver(pds)).await;
    let dave = pds.create_account("dave", "dave-app-password").await;
    let lookalike = "did:plc:lookalikeshadow0000000000";
    world.import_event(lookalike, "3dave", "Dave's Jam").await;
    let seq = world.seq + 1;
    let identity = json!({"did": lookalike, "time_us": seq, "kind": "identity",
        "identity": {"did": lookalike, "handle": dave.handle, "seq": seq, "time": "2026-12-01T10:00:00Z"}});
    world.ingest(identity.to_string()).await;
    let (_, login) = session_of(&world, &dave).await;
    assert_eq!(
        (
            login["registered"].as_bool(),
            login["claimed_shadow"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_ne!(
        login["user_id"].as_str().unwrap(),
        UserId::shadow_for(lookalike).0.to_string()
    );
    world.project().await;
    let (_, shadow) = world
        .call("GET", &format!("/api/users/{lookalike}"), None, None)
        .await;
    assert_eq!(
        (
            shadow["is_shadow_account"].as_bool(),
            shadow["bluesky_handle"].as_str()
        ),
        (Some(true), Some(dave.handle.as_str())),
        "the shadow keeps its events and stays a shadow"
    );
    let (status, body) = world
        .call(
            "POST",
            "/api/auth/bluesky/app-password",
            None,
            Some(json!({"identifier": lookalike, "password": dave.password})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "its DID has no account on any PDS here: {body}"
    );
    world.clean().await;
}

#[tokio::test]
async fn concurrent_processors_create_exactly_one_shadow_per_did() {
    let mut world = World::new(offline_resolver()).await;
    let did = "did:plc:concurrentorganizer000000";
    let lines: Vec<String> = (0..8)
        .map(|n| {
            commit(
                did,
                world.seq + n,
                "create",
                EVENT,
                &format!("3ev{n}"),
                Some(event_record(&format!("Event {n}"), json!({}))),
            )
        })
        .collect();
    let tasks: Vec<_> = lines
        .into_iter()
        .enumerate()
        .map(|(n, line)| {
            let applier = Applier::new(world.store.clone());
            tokio::spawn(async move { applier.apply(&line, &format!("race:{n}")).await.unwrap() })
        })
        .collect();
    for task in tasks {
        assert!(matches!(task.await.unwrap(), Outcome::Applied(_)));
    }
    assert_eq!(
        world.event_types(&format!("identity-{did}")).await,
        ["ShadowAccountCreated"]
    );
    assert_eq!(world.event_types("occurrence-").await.len(), 8);
    world.seq += 8;
    world.clean().await;
}

#[tokio::test]
async fn an_inactive_accounts_events_and_rsvps_are_hidden_until_it_is_active_again() {
    let mut world = World::new(offline_resolver()).await;
    let organizer = "did:plc:hiddenorganizer00000000000";
    let guest = "did:plc:hiddenguest000000000000000";
    let uri = world
        .import_event(organizer, "3hidden", "Quiet Meetup")
        .await;
    world
        .import_event("did:plc:otherorganizer0000000000", "3other", "Other Meetup")
        .await;
    world.import_rsvp(guest, &uri).await;
    world.project().await;
    let slug = world.event_slug(&uri).await;
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let attendees = |page: &Value| page["items"].as_array().unwrap().len();

    world.account_status(organizer, false, "deactivated").await;
    world.account_status(guest, false, "takendown").await;
    world.project().await;
    let (_, page) = world.call("GET", "/api/events", None, None).await;
    assert_eq!(names(&page), ["Other Meetup"]);
    let (status, _) = world
        .call("GET", &format!("/api/events/{slug}"), None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    world.account_status(organizer, true, "active").await;
    world.project().await;
    let (_, page) = world.call("GET", "/api/events", None, None).await;
    assert_eq!(names(&page).len(), 2, "reactivated: shown again");
    let (_, list) = world
        .call("GET", &format!("/api/events/{slug}/attendees"), None, None)
        .await;
    assert_eq!(
        attendees(&list),
        0,
        "the taken-down guest's RSVP stays hidden"
    );
    world.account_status(guest, true, "active").await;
    world.project().await;
    let (_, list) = world
        .call("GET", &format!("/api/events/{slug}/attendees"), None, None)
        .await;
    assert_eq!(attendees(&list), 1);

    world.account_status(organizer, false, "deleted").await;
    world.project().await;
    let left: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM read.occurrences WHERE starts_with(external_id, $1)), \
                (SELECT count(*) FROM read.users WHERE bluesky_did = $2 AND bluesky_handle IS NULL AND account_status = 'deleted')",
    )
    .bind(format!("at://{organizer}/"))
    .bind(organizer)
    .fetch_one(world.store.pool())
    .await
    .unwrap();
    assert_eq!(
        left,
        (0, 1),
        "a deleted account's events are erased and its user row scrubbed"
    );
    world.clean().await;
}

#[tokio::test]
async fn a_shadow_account_cannot_be_given_a_session() {
    let mut world = World::new(offline_resolver()).await;
    let did = "did:plc:shadowonly00000000000000";
    world.import_event(did, "3s", "Shadow Event").await;
    let refused = api::auth::operator_session(&world.store, did, chrono::Duration::hours(1)).await;
    assert!(
        matches!(refused, Err(api::ApiError::Conflict(_))),
        "{:?}",
        refused.map(|_| ())
    );
    world.clean().await;
}

#[tokio::test]
async fn the_bluesky_rsvp_of_a_user_who_registered_first_is_attached_to_their_account() {
    let mut world = World::new(offline_resolver()).await;
    let member = "did:plc:registeredfirst000000000";
    world::operator_token(&world, member).await;
    let uri = world
        .import_event("did:plc:someorganizer000000000", "3ev", "Book Club")
        .await;
    world.import_rsvp(member, &uri).await;
    world.project().await;
    let slug = world.event_slug(&uri).await;
    let (_, user) = world
        .call(
            "GET",
            &format!("/api/users/{member}"),
            Some(&operator_token(&world, ADMIN).await),
            None,
        )
        .await;
    let (_, attendees) = world
        .call("GET", &format!("/api/events/{slug}/attendees"), None, None)
        .await;
    assert_eq!(attendees["items"][0]["user_id"], user["id"]);
    assert_eq!(attendees["items"][0]["did"], member);
    assert_ne!(
        user["id"].as_str().unwrap(),
        UserId::shadow_for(member).0.to_string(),
        "an account of its own, not a shadow's"
    );
    world.clean().await;
}
