//! Logging in with ATProto OAuth against the real PDS (its own OAuth
//! provider, signed in to without a browser) and real Redis: the whole
//! flow to a published record, refresh, logout, and the callbacks that
//! must be refused without leaving a session anywhere.

use std::time::Duration;

use axum::http::StatusCode;
use domain::identity::UserId;
use publish::oauth::SCOPE;
use publish::{
    CredentialStore, OAuth, OAuthClient, OAuthError, RepoClient, Resolver, ResolverConfig,
    SessionError, SessionKeeper, SessionKind, StoredSession,
};
use redis::AsyncCommands;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

#[path = "support/browser.rs"]
mod browser;
#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/pds.rs"]
mod pds;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use browser::Browser;
use pds::{Account, Pds};
use world::{KEY, LOOPBACK, World};

const EVENT: &str = "community.lexicon.calendar.event";

fn resolver(pds: &Pds) -> Resolver {
    Resolver::new(&ResolverConfig {
        plc_url: pds.plc.clone(),
        handle_resolver_url: pds.url.clone(),
        timeout: Duration::from_secs(5),
    })
}

fn credentials(world: &World) -> CredentialStore {
    CredentialStore::new(world.redis.clone(), KEY, &world.prefix).unwrap()
}

fn oauth(world: &World, pds: &Pds) -> OAuth {
    OAuth::new(
        OAuthClient::loopback(LOOPBACK).unwrap(),
        resolver(pds),
        credentials(world),
    )
}

fn keeper(world: &World, pds: &Pds) -> SessionKeeper {
    SessionKeeper::new(
        credentials(world),
        world.store.clone(),
        reqwest::Client::new(),
    )
    .with_oauth(oauth(world, pds))
}

/// Starts a login of `handle` through the API: the authorization URL it
/// redirects to.
async fn start(world: &World, handle: &str) -> String {
    let response = world
        .raw("GET", &format!("/api/auth/bluesky/login?handle={handle}"))
        .await;
    assert_eq!(response.0, StatusCode::SEE_OTHER, "{}", response.2);
    response.1.expect("a Location header")
}

/// The callback URL as the API is asked it (path and query).
fn local(callback: &Url) -> String {
    format!(
        "{}?{}",
        callback.path(),
        callback.query().unwrap_or_default()
    )
}

/// Starts a login of `account` and signs in as `signer` at the server: the
/// callback URL the server sends the browser to.
async fn authorized(world: &World, account: &Account, signer: &Account) -> Url {
    let authorize = start(world, &account.handle).await;
    Browser::new()
        .authorize(&authorize, &signer.handle, &signer.password, SCOPE)
        .await
        .unwrap()
}

async fn log_in(world: &World, account: &Account) -> Value {
    let callback = authorized(world, account, account).await;
    let (status, session) = world.call("GET", &local(&callback), None, None).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    session
}

fn user(session: &Value) -> UserId {
    UserId(Uuid::parse_str(session["user_id"].as_str().unwrap()).unwrap())
}

/// What is left of logins: API sessions and stored Bluesky sessions.
async fn sessions_left(world: &World) -> (i64, usize) {
    let api: i64 = sqlx::query_scalar("select count(*) from auth.sessions")
        .fetch_one(world.store.pool())
        .await
        .unwrap();
    let mut redis = world.redis.clone();
    let stored: Vec<String> = redis
        .keys(format!("{}bluesky:credentials:*", world.prefix))
        .await
        .unwrap();
    (api, stored.len())
}

fn event(name: &str) -> Value {
    json!({
        "$type": EVENT,
        "name": name,
        "createdAt": "2026-12-01T10:00:00.000Z",
        "startsAt": "2027-01-05T18:00:00.000Z",
        "mode": "community.lexicon.calendar.event#inperson",
        "status": "community.lexicon.calendar.event#scheduled",
    })
}

#[tokio::test]
async fn against_the_real_pds_and_redis() {
    let pds = Pds::start();
    the_whole_flow_claims_the_shadow_and_publishes_with_dpop(&pds).await;
}

async fn the_whole_flow_claims_the_shadow_and_publishes_with_dpop(pds: &Pds) {
    let mut world = World::new(resolver(pds)).await;
    let account = pds.create_account("oauth", "a-good-password").await;
    world
        .import_event(&account.did, "3kshadow0000a", "Their own meetup")
        .await;
    world.project().await;
    let (_, shadow) = world
        .call("GET", &format!("/api/users/{}", account.did), None, None)
        .await;

    let session = log_in(&world, &account).await;
    assert_eq!(session["did"], account.did.as_str());
    assert_eq!(session["claimed_shadow"], true, "{session}");
    assert_eq!(shadow["is_shadow_account"], true, "{shadow}");
    assert_eq!(session["user_id"], shadow["id"], "{shadow}");
    let (status, me) = world
        .call("GET", "/api/auth/session", session["token"].as_str(), None)
        .await;
    assert_eq!(
        (status, me["did"].clone()),
        (StatusCode::OK, json!(account.did))
    );

    let stored = credentials(&world)
        .get(user(&session))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.kind, SessionKind::Oauth);
    assert_eq!(stored.handle, account.handle);
    assert!(stored.oauth.is_some());

    let keeper = keeper(&world, pds);
    let written = keeper
        .with_session(user(&session), &account.did, |session| async move {
            RepoClient::for_session(reqwest::Client::new(), &session)?
                .put(EVENT, "3kdpop00000aa", &event("Published with OAuth"), None)
                .await
        })
        .await
        .unwrap();
    assert_eq!(
        written.uri,
        format!("at://{}/{EVENT}/3kdpop00000aa", account.did)
    );
    let listed = pds.list_records(&account.did, EVENT).await;
    assert!(
        listed
            .iter()
            .any(|r| r["value"]["name"] == "Published with OAuth"),
        "{listed:?}"
    );
    world.clean().await;
}
