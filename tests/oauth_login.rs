//! Logging in with ATProto OAuth against the real PDS (its own OAuth
//! provider, signed in to without a browser) and real Redis: the whole
//! flow to a published record, refresh, logout, and the callbacks that
//! must be refused without leaving a session anywhere.

use std::time::Duration;

use axum::http::StatusCode;
use domain::identity::UserId;
use publish::oauth::SCOPE;
use publish::occurrences::OccurrencePublisher;
use publish::{
    CredentialStore, OAuth, OAuthClient, OAuthError, Reach, RepoClient, ResolveError, Resolver,
    ResolverConfig, SessionError, SessionKeeper, SessionKind, StoredSession,
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
use world::{ADMIN, KEY, LOOPBACK, World, local_http, operator_token};

const EVENT: &str = "community.lexicon.calendar.event";

fn resolver(pds: &Pds) -> Resolver {
    Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).unwrap()
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
    SessionKeeper::new(credentials(world), world.store.clone(), local_http())
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
    refresh_spends_the_old_token_once_for_concurrent_callers(&pds).await;
    an_invalid_token_answer_is_refreshed_and_the_call_retried(&pds).await;
    logout_revokes_the_session_at_the_server(&pds).await;
    a_session_revoked_elsewhere_asks_for_a_new_login(&pds).await;
    an_expired_session_asks_for_a_new_login(&pds).await;
    callbacks_that_must_be_refused_leave_no_session(&pds).await;
    a_code_is_exchanged_once(&pds).await;
    the_tokens_of_another_did_are_refused(&pds).await;
    a_pds_at_a_private_address_is_refused_on_the_network(&pds).await;
}

#[tokio::test]
async fn the_client_metadata_document_describes_the_loopback_client() {
    let world = World::new(world::offline_resolver()).await;
    let (status, metadata) = world
        .call("GET", "/oauth/client-metadata.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let client = OAuthClient::loopback(LOOPBACK).unwrap();
    assert_eq!(metadata, client.metadata());
    assert_eq!(
        metadata["redirect_uris"][0],
        format!("{LOOPBACK}/api/auth/bluesky/callback")
    );
    assert_eq!(metadata["dpop_bound_access_tokens"], true);
    world.clean().await;
}

async fn the_whole_flow_claims_the_shadow_and_publishes_with_dpop(pds: &Pds) {
    let mut world = World::new(resolver(pds)).await;
    let account = pds.create_account("oauth", "a-good-password").await;
    world
        .import_event(&account.did, "3kshadow0000a", "Their own meetup")
        .await;
    world.project().await;
    let (_, shadow) = world
        .call(
            "GET",
            &format!("/api/users/{}", account.did),
            Some(&operator_token(&world, ADMIN).await),
            None,
        )
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

    // An OpenMeet event of theirs, shared: the publisher writes it with
    // the OAuth session (DPoP-bound tokens) like any other.
    let (party, _) = world
        .shared_openmeet_event(
            "Launch party",
            &account.did,
            session["token"].as_str().unwrap(),
        )
        .await;
    world.schedule("2026-11-20T10:00:00Z").await;
    let mut publisher =
        OccurrencePublisher::start(world.store.clone(), keeper(&world, pds), local_http())
            .await
            .unwrap();
    assert_eq!(publisher.run_until_idle().await.unwrap(), 1);
    let listed = pds.list_records(&account.did, EVENT).await;
    assert_eq!(
        (listed.len(), listed[0]["value"]["name"].as_str()),
        (1, Some("Launch party")),
        "{listed:?}"
    );
    let types = world.event_types(&party.stream().to_string()).await;
    assert!(
        types.iter().any(|t| t == "OccurrencePublished"),
        "{types:?}"
    );

    // The scope covers calendar events and RSVPs, nothing else.
    let post = json!({"$type": "app.bsky.feed.post", "text": "not ours to write",
        "createdAt": "2026-12-01T10:00:00.000Z"});
    let outside = RepoClient::for_session(local_http(), &stored)
        .unwrap()
        .put("app.bsky.feed.post", "3kpost000000a", &post, None)
        .await;
    assert!(
        matches!(&outside, Err(publish::PublishError::Unauthorized(why)) if why.to_lowercase().contains("scope")),
        "{outside:?}"
    );
    assert!(
        pds.list_records(&account.did, "app.bsky.feed.post")
            .await
            .is_empty()
    );
    world.clean().await;
}

/// A world with `name` logged in with OAuth: the account, its user and
/// the API session.
async fn logged_in(pds: &Pds, name: &str) -> (World, Account, UserId, Value) {
    let world = World::new(resolver(pds)).await;
    let account = pds.create_account(name, "a-good-password").await;
    let session = log_in(&world, &account).await;
    let user = user(&session);
    (world, account, user, session)
}

async fn put_event(
    keeper: &SessionKeeper,
    user: UserId,
    did: &str,
    rkey: &str,
) -> Result<String, SessionError> {
    keeper
        .with_session(user, did, |session| async move {
            RepoClient::for_session(local_http(), &session)?
                .put(EVENT, rkey, &event("Published with OAuth"), None)
                .await
        })
        .await
        .map(|written| written.uri)
}

async fn stored(world: &World, user: UserId) -> Option<StoredSession> {
    credentials(world).get(user).await.unwrap()
}

async fn refresh_spends_the_old_token_once_for_concurrent_callers(pds: &Pds) {
    let (world, account, user, _) = logged_in(pds, "refresh").await;
    let old = stored(&world, user).await.unwrap();
    let mut aged = old.clone();
    aged.access_expires_at = Some(chrono::Utc::now() + chrono::Duration::seconds(30));
    credentials(&world)
        .put(user, &aged, chrono::Utc::now(), 3600)
        .await
        .unwrap();
    let keeper = keeper(&world, pds);
    let callers: Vec<_> = (0..5)
        .map(|_| {
            let keeper = keeper.clone();
            let did = account.did.clone();
            tokio::spawn(async move { keeper.current(user, &did, chrono::Utc::now()).await })
        })
        .collect();
    let mut refresh_tokens = Vec::new();
    for caller in callers {
        refresh_tokens.push(caller.await.unwrap().unwrap().refresh_jwt);
    }
    refresh_tokens.dedup();
    assert_eq!(refresh_tokens.len(), 1, "one refresh for all callers");
    assert_ne!(refresh_tokens[0], old.refresh_jwt);
    let fresh = stored(&world, user).await.unwrap();
    assert_eq!(fresh.refresh_jwt, refresh_tokens[0]);
    assert!(fresh.access_expires_at > aged.access_expires_at);

    let uri = put_event(&keeper, user, &account.did, "3krefresh000a")
        .await
        .unwrap();
    assert!(uri.ends_with("/3krefresh000a"));

    let spent = oauth(&world, pds).refresh(&old).await.unwrap_err();
    assert!(
        matches!(&spent, OAuthError::Refused { error, .. } if error == "invalid_grant"),
        "{spent}"
    );
    assert!(spent.ends_session());
    // The server takes a spent refresh token shown again for a stolen one
    // and ends the whole session: publishing asks for a new login.
    let after = put_event(&keeper, user, &account.did, "3krefresh000b").await;
    assert!(
        matches!(after, Err(SessionError::LoginRequired { .. })),
        "{after:?}"
    );
    world.clean().await;
}

async fn an_invalid_token_answer_is_refreshed_and_the_call_retried(pds: &Pds) {
    let (world, account, user, _) = logged_in(pds, "invalid").await;
    let mut broken = stored(&world, user).await.unwrap();
    let refresh = broken.refresh_jwt.clone();
    broken.access_jwt = "not-a-token-the-pds-issued".into();
    credentials(&world)
        .put(user, &broken, chrono::Utc::now(), 3600)
        .await
        .unwrap();
    let direct = RepoClient::for_session(local_http(), &broken)
        .unwrap()
        .put(EVENT, "3kinvalid000a", &event("x"), None)
        .await;
    assert!(
        matches!(direct, Err(publish::PublishError::Unauthorized(_))),
        "{direct:?}"
    );

    let keeper = keeper(&world, pds);
    let uri = put_event(&keeper, user, &account.did, "3kinvalid000b")
        .await
        .unwrap();
    assert!(uri.ends_with("/3kinvalid000b"));
    let now = stored(&world, user).await.unwrap();
    assert_ne!(now.refresh_jwt, refresh, "refreshed once");
    assert_ne!(now.access_jwt, broken.access_jwt);
    world.clean().await;
}

async fn logout_revokes_the_session_at_the_server(pds: &Pds) {
    let (world, account, user, session) = logged_in(pds, "logout").await;
    let before = stored(&world, user).await.unwrap();
    let (status, body) = world
        .call("POST", "/api/auth/logout", session["token"].as_str(), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(sessions_left(&world).await, (0, 0));

    let at_pds = RepoClient::for_session(local_http(), &before)
        .unwrap()
        .put(EVENT, "3klogout0000a", &event("after logout"), None)
        .await;
    assert!(
        matches!(at_pds, Err(publish::PublishError::Unauthorized(_))),
        "{at_pds:?}"
    );
    let refreshed = oauth(&world, pds).refresh(&before).await;
    assert!(
        matches!(refreshed, Err(ref err) if err.ends_session()),
        "{refreshed:?}"
    );

    let publishing = put_event(&keeper(&world, pds), user, &account.did, "3klogout0000b").await;
    assert!(
        matches!(publishing, Err(SessionError::LoginRequired { .. })),
        "{publishing:?}"
    );
    let stream = domain::identity::identity_stream(&account.did).to_string();
    let types = world.event_types(&stream).await;
    assert!(
        types.iter().any(|t| t == "BlueskyLoginRequired"),
        "{types:?}"
    );
    world.clean().await;
}

async fn a_session_revoked_elsewhere_asks_for_a_new_login(pds: &Pds) {
    let (world, account, user, _) = logged_in(pds, "revoked").await;
    let session = stored(&world, user).await.unwrap();
    oauth(&world, pds).revoke(&session).await.unwrap();
    let publishing = put_event(&keeper(&world, pds), user, &account.did, "3krevoked000a").await;
    assert!(
        matches!(&publishing, Err(SessionError::LoginRequired { reason, .. }) if reason.contains("invalid_grant")),
        "{publishing:?}"
    );
    assert!(
        stored(&world, user).await.is_none(),
        "the dead session is forgotten"
    );
    world.clean().await;
}

async fn an_expired_session_asks_for_a_new_login(pds: &Pds) {
    let (world, account, user, _) = logged_in(pds, "expired").await;
    let key = credentials(&world).key(user);
    let mut redis = world.redis.clone();
    let ttl: i64 = redis.ttl(&key).await.unwrap();
    assert!(
        ttl > 13 * 24 * 3600,
        "a loopback session is kept 14 days, not {ttl} s"
    );
    // The server's session limit passes: the entry expires with it.
    let _: () = redis.pexpire(&key, 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let publishing = put_event(&keeper(&world, pds), user, &account.did, "3kexpired000a").await;
    assert!(
        matches!(&publishing, Err(SessionError::LoginRequired { reason, .. }) if reason.contains("no Bluesky session")),
        "{publishing:?}"
    );
    world.clean().await;
}

/// Asserts that `callback` is refused with `status` and a message
/// containing `says`.
async fn refused(world: &World, callback: &str, status: StatusCode, says: &str) {
    let (got, body) = world.call("GET", callback, None, None).await;
    assert_eq!(got, status, "{callback}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{callback}: {message}");
}

/// The value of `name` in the query of `callback`.
fn param(callback: &Url, name: &str) -> String {
    callback
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("{callback} has no {name}"))
}

fn with(callback: &Url, name: &str, value: &str) -> String {
    let mut changed = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .into_owned()
        .filter(|(key, _)| key != name)
        .collect();
    changed
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(name, value);
    local(&changed)
}

async fn callbacks_that_must_be_refused_leave_no_session(pds: &Pds) {
    let world = World::new(resolver(pds)).await;
    let account = pds.create_account("refuse", "a-good-password").await;
    refused(
        &world,
        "/api/auth/bluesky/callback?code=x",
        StatusCode::BAD_REQUEST,
        "no state",
    )
    .await;
    refused(
        &world,
        "/api/auth/bluesky/callback?code=x&state=AAAAAAAAAAAAAAAAAAAAAA&iss=http://localhost",
        StatusCode::UNAUTHORIZED,
        "no pending login",
    )
    .await;

    let callback = authorized(&world, &account, &account).await;
    let mut wrong = Url::parse("http://127.0.0.1/api/auth/bluesky/callback").unwrap();
    wrong
        .query_pairs_mut()
        .append_pair("state", &"B".repeat(22))
        .append_pair("code", "x")
        .append_pair("iss", "http://localhost");
    refused(
        &world,
        &local(&wrong),
        StatusCode::UNAUTHORIZED,
        "no pending login",
    )
    .await;
    refused(
        &world,
        &with(&callback, "iss", "http://evil.example"),
        StatusCode::UNAUTHORIZED,
        "http://evil.example",
    )
    .await;
    // The wrong issuer used the login up: the real answer finds nothing.
    refused(
        &world,
        &local(&callback),
        StatusCode::UNAUTHORIZED,
        "no pending login",
    )
    .await;

    let callback = authorized(&world, &account, &account).await;
    let declined = format!(
        "/api/auth/bluesky/callback?state={}&iss={}&error=access_denied&error_description=no",
        param(&callback, "state"),
        param(&callback, "iss"),
    );
    refused(&world, &declined, StatusCode::UNAUTHORIZED, "access_denied").await;
    assert_eq!(sessions_left(&world).await, (0, 0));
    world.clean().await;
}

async fn a_code_is_exchanged_once(pds: &Pds) {
    let world = World::new(resolver(pds)).await;
    let account = pds.create_account("replay", "a-good-password").await;
    let first = authorized(&world, &account, &account).await;
    let (status, _) = world.call("GET", &local(&first), None, None).await;
    assert_eq!(status, StatusCode::OK);
    refused(
        &world,
        &local(&first),
        StatusCode::UNAUTHORIZED,
        "no pending login",
    )
    .await;

    // The old code under a new login's state: the server refuses it, and
    // atrium-oauth's panic on a refused exchange is not ours.
    let second = authorized(&world, &account, &account).await;
    let code = param(&first, "code");
    refused(
        &world,
        &with(&second, "code", &code),
        StatusCode::UNAUTHORIZED,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        sessions_left(&world).await,
        (1, 1),
        "only the first login's"
    );
    world.clean().await;
}

async fn the_tokens_of_another_did_are_refused(pds: &Pds) {
    let world = World::new(resolver(pds)).await;
    let asked = pds.create_account("asked", "a-good-password").await;
    let other = pds.create_account("other", "another-password").await;
    let callback = authorized(&world, &asked, &other).await;
    refused(
        &world,
        &local(&callback),
        StatusCode::UNAUTHORIZED,
        &other.did,
    )
    .await;
    assert_eq!(sessions_left(&world).await, (0, 0));
    world.clean().await;
}

/// The test PDS listens on loopback: configured for the network, the DID
/// document that names it is believed, but the PDS is never called.
async fn a_pds_at_a_private_address_is_refused_on_the_network(pds: &Pds) {
    let world = World::new(resolver(pds)).await;
    let account = pds.create_account("private", "hunter22").await;
    let network = Resolver::new(&ResolverConfig {
        reach: Reach::PublicOnly,
        ..ResolverConfig::local(&pds.plc, &pds.url)
    })
    .unwrap();
    let oauth = OAuth::new(
        OAuthClient::loopback(LOOPBACK).unwrap(),
        network,
        credentials(&world),
    );
    match oauth.begin(&account.handle).await {
        Err(OAuthError::Resolve(ResolveError::Refused {
            identifier,
            refused,
        })) => {
            assert_eq!(identifier, account.did);
            // The test PDS names itself by `localhost` in its DID documents.
            assert_eq!(refused.url, pds.url.replace("127.0.0.1", "localhost"));
            let reason = &refused.reason;
            assert!(reason.starts_with("localhost resolves to "), "{reason}");
            assert!(reason.ends_with(", not a public address"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    world.clean().await;
}
