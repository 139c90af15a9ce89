//! Bluesky sessions kept usable, against the real PDS and real Redis:
//! refreshed when about to expire, once for many concurrent callers, and a
//! revoked or lost session turned into `BlueskyLoginRequired`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::StatusCode;
use domain::identity::UserId;
use publish::{CredentialStore, RepoClient, Resolver, ResolverConfig, SessionError, SessionKeeper};
use serde_json::json;
use uuid::Uuid;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/pds.rs"]
mod pds;
#[path = "support/world.rs"]
#[allow(dead_code)]
mod world;

use pds::Pds;
use world::{ADMIN, KEY, World, local_http, operator_token};

fn resolver(pds: &Pds) -> Resolver {
    Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).unwrap()
}

/// A world with `name` logged in; its user id and keeper.
async fn logged_in(
    pds: &Pds,
    name: &str,
) -> (World, pds::Account, UserId, SessionKeeper, CredentialStore) {
    let world = World::new(resolver(pds)).await;
    let account = pds.create_account(name, "a-good-app-password").await;
    let (status, login) = world.log_in(&account.handle, &account.password).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let user = UserId(Uuid::parse_str(login["user_id"].as_str().unwrap()).unwrap());
    let credentials = CredentialStore::new(world.redis.clone(), KEY, &world.prefix).unwrap();
    let keeper = SessionKeeper::new(credentials.clone(), world.store.clone(), local_http());
    (world, account, user, keeper, credentials)
}

/// Makes the stored access token look about to expire; returns the
/// refresh token it was stored with.
async fn age(credentials: &CredentialStore, user: UserId) -> String {
    let mut session = credentials.get(user).await.unwrap().unwrap();
    session.access_expires_at = Some(chrono::Utc::now() + chrono::Duration::seconds(30));
    credentials
        .put(user, &session, chrono::Utc::now(), 3600)
        .await
        .unwrap();
    session.access_jwt
}

#[tokio::test]
async fn against_the_real_pds_and_redis() {
    let pds = Pds::start();
    a_session_about_to_expire_is_refreshed_once_for_concurrent_callers(&pds).await;
    an_expired_token_answer_is_refreshed_once_and_the_call_retried(&pds).await;
    a_revoked_session_asks_for_a_new_login(&pds).await;
    a_session_lost_with_a_redis_restart_asks_for_a_new_login(&pds).await;
}

async fn a_session_about_to_expire_is_refreshed_once_for_concurrent_callers(pds: &Pds) {
    let (world, account, user, keeper, credentials) = logged_in(pds, "fresh").await;
    let old = age(&credentials, user).await;
    let callers: Vec<_> = (0..6)
        .map(|_| {
            let keeper = keeper.clone();
            let did = account.did.clone();
            tokio::spawn(async move { keeper.current(user, &did, chrono::Utc::now()).await })
        })
        .collect();
    let mut tokens = vec![];
    for caller in callers {
        let session = caller.await.unwrap().unwrap_or_else(|err| panic!("{err}"));
        tokens.push(session.refresh_jwt);
    }
    tokens.dedup();
    assert_eq!(
        tokens.len(),
        1,
        "one refresh served every caller (the PDS rotates refresh tokens, so a second refresh would have failed)"
    );
    assert_ne!(tokens[0], old);
    let session = credentials.get(user).await.unwrap().unwrap();
    let repo = RepoClient::new(
        local_http(),
        &session.pds,
        &account.did,
        &session.access_jwt,
    );
    let record = json!({"$type": "community.lexicon.calendar.event", "name": "After refresh",
        "createdAt": "2026-12-01T10:00:00Z"});
    repo.put(
        "community.lexicon.calendar.event",
        "3mrefreshed22",
        &record,
        None,
    )
    .await
    .unwrap();
    let written = keeper
        .with_session(user, &account.did, |session| {
            let record = record.clone();
            let did = account.did.clone();
            async move {
                RepoClient::new(local_http(), &session.pds, &did, &session.access_jwt)
                    .get("community.lexicon.calendar.event", "3mrefreshed22")
                    .await
                    .map(|(written, _)| written)
                    .map(|written| (written, record))
            }
        })
        .await
        .unwrap();
    assert!(written.0.uri.ends_with("/3mrefreshed22"));
    let stored = world
        .event_types(&format!("identity-{}", account.did))
        .await;
    assert_eq!(
        stored
            .iter()
            .filter(|t| *t == "BlueskyCredentialsStored")
            .count(),
        2,
        "the login and the one refresh: {stored:?}"
    );
    world.clean().await;
}

async fn an_expired_token_answer_is_refreshed_once_and_the_call_retried(pds: &Pds) {
    let (world, account, user, keeper, credentials) = logged_in(pds, "expired").await;
    let mut session = credentials.get(user).await.unwrap().unwrap();
    // Our clock thinks the token is good; the PDS knows better.
    session.access_jwt = pds.expired_access_token(&account.did);
    session.access_expires_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    credentials
        .put(user, &session, chrono::Utc::now(), 3600)
        .await
        .unwrap();
    let probe = json!({"$type": "community.lexicon.calendar.event", "name": "Probe",
        "createdAt": "2026-12-01T10:00:00Z"});
    let direct = RepoClient::new(
        local_http(),
        &session.pds,
        &account.did,
        &session.access_jwt,
    )
    .put(
        "community.lexicon.calendar.event",
        "3mprobe222222",
        &probe,
        None,
    )
    .await;
    assert_eq!(
        direct.unwrap_err(),
        publish::PublishError::ExpiredToken,
        "the PDS refuses the token as expired"
    );
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let record = json!({"$type": "community.lexicon.calendar.event", "name": "Retried",
        "createdAt": "2026-12-01T10:00:00Z"});
    let written = keeper
        .with_session(user, &account.did, |session| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (did, record) = (account.did.clone(), record.clone());
            async move {
                RepoClient::new(local_http(), &session.pds, &did, &session.access_jwt)
                    .put(
                        "community.lexicon.calendar.event",
                        "3mretried2222",
                        &record,
                        None,
                    )
                    .await
            }
        })
        .await
        .unwrap();
    assert!(written.uri.ends_with("/3mretried2222"));
    assert_eq!(calls.into_inner(), 2, "refused once, refreshed, done");
    world.clean().await;
}

async fn a_revoked_session_asks_for_a_new_login(pds: &Pds) {
    let (world, account, user, keeper, credentials) = logged_in(pds, "revoked").await;
    let session = credentials.get(user).await.unwrap().unwrap();
    let revoked = reqwest::Client::new()
        .post(format!("{}/xrpc/com.atproto.server.deleteSession", pds.url))
        .bearer_auth(&session.refresh_jwt)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{:?}", revoked.text().await);
    age(&credentials, user).await;
    let refused = keeper.current(user, &account.did, chrono::Utc::now()).await;
    assert!(
        matches!(refused, Err(SessionError::LoginRequired { .. })),
        "{refused:?}"
    );
    assert!(
        credentials.get(user).await.unwrap().is_none(),
        "the dead session is removed"
    );
    assert_eq!(
        world
            .event_types(&format!("identity-{}", account.did))
            .await
            .last()
            .map(String::as_str),
        Some("BlueskyLoginRequired")
    );
    world.project().await;
    let (_, row) = world
        .call(
            "GET",
            &format!("/api/users/{}", account.did),
            Some(&operator_token(&world, ADMIN).await),
            None,
        )
        .await;
    assert_eq!(row["bluesky_token_expiry"], serde_json::Value::Null);
    world.clean().await;
}

/// A Redis of our own, keeping nothing on disk, on a free port.
fn redis_on(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server runs");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

async fn a_session_lost_with_a_redis_restart_asks_for_a_new_login(pds: &Pds) {
    let (world, account, user, _, shared) = logged_in(pds, "restart").await;
    let session = shared.get(user).await.unwrap().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = redis_on(port);
    let manager = redis::aio::ConnectionManager::new(
        redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap(),
    )
    .await
    .unwrap();
    let own = CredentialStore::new(manager, KEY, "").unwrap();
    own.put(user, &session, chrono::Utc::now(), 3600)
        .await
        .unwrap();
    let keeper = SessionKeeper::new(own.clone(), world.store.clone(), local_http());
    assert!(
        keeper
            .current(user, &account.did, chrono::Utc::now())
            .await
            .is_ok()
    );
    redis.kill().unwrap();
    redis.wait().unwrap();
    let down = keeper.current(user, &account.did, chrono::Utc::now()).await;
    assert!(
        matches!(down, Err(SessionError::Unavailable { .. })),
        "Redis down is a pause, not a lost login: {down:?}"
    );
    let mut redis = redis_on(port);
    let mut after = keeper.current(user, &account.did, chrono::Utc::now()).await;
    for _ in 0..20 {
        if !matches!(after, Err(SessionError::Unavailable { .. })) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = keeper.current(user, &account.did, chrono::Utc::now()).await;
    }
    assert!(
        matches!(after, Err(SessionError::LoginRequired { .. })),
        "{after:?}"
    );
    redis.kill().unwrap();
    redis.wait().unwrap();
    world.clean().await;
}
