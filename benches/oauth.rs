//! What an OAuth session costs against the local reference PDS, next to an
//! app-password one: a login (the pushed authorization request, and the
//! callback's exchange and checks; the user's sign-in at the provider is
//! not ours and not counted), a refresh, and a record write with a fresh
//! client per write as the publishers make them (the PDS asks every new
//! DPoP client for a nonce first) and with one client kept.
//!
//! `cargo bench --bench oauth`; `BENCH_ROUNDS=5` for a quick run.

use std::time::{Duration, Instant};

use publish::oauth::SCOPE;
use publish::{
    CredentialStore, OAuth, OAuthClient, RepoClient, Resolver, ResolverConfig, StoredSession,
};
use serde_json::json;

#[path = "../tests/support/browser.rs"]
mod browser;
#[path = "../tests/support/pds.rs"]
mod pds;

const EVENT: &str = "community.lexicon.calendar.event";
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index].as_secs_f64() * 1000.0
}

fn report(what: &str, samples: &mut [Duration]) {
    println!(
        "{what:<48} p50 {:>7.2} ms   p90 {:>7.2} ms   ({} rounds)",
        percentile(samples, 0.5),
        percentile(samples, 0.9),
        samples.len()
    );
}

async fn timed<T>(samples: &mut Vec<Duration>, call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let value = call.await;
    samples.push(started.elapsed());
    value
}

fn event(n: usize) -> serde_json::Value {
    json!({
        "$type": EVENT, "name": format!("Bench meetup {n}"),
        "createdAt": "2026-12-01T10:00:00.000Z", "startsAt": "2027-01-05T18:00:00.000Z",
        "mode": "community.lexicon.calendar.event#inperson",
        "status": "community.lexicon.calendar.event#scheduled",
    })
}

fn rkey(prefix: &str, n: usize) -> String {
    format!("3k{prefix}{n:0>9}")
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let pds = pds::Pds::start();
    let resolver =
        Resolver::new(&ResolverConfig::local(&pds.plc, &pds.url)).expect("a guarded client");
    let redis =
        redis::aio::ConnectionManager::new(redis::Client::open("redis://127.0.0.1:6379").unwrap())
            .await
            .unwrap();
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
    let store = CredentialStore::new(redis, KEY, &prefix).unwrap();
    let oauth = OAuth::new(
        OAuthClient::loopback("http://127.0.0.1:8080").unwrap(),
        resolver.clone(),
        store,
    );
    let account = pds.create_account("bench", "a-good-password").await;

    let (mut begins, mut completes) = (Vec::new(), Vec::new());
    let mut session: Option<StoredSession> = None;
    for _ in 0..rounds {
        let url = timed(&mut begins, oauth.begin(&account.handle))
            .await
            .unwrap();
        let callback = browser::Browser::new()
            .authorize(&url, &account.handle, &account.password, SCOPE)
            .await
            .unwrap();
        let query = callback_of(&callback);
        let done = timed(&mut completes, oauth.complete(query)).await.unwrap();
        if let Some(old) = session.replace(done) {
            oauth.revoke(&old).await.unwrap();
        }
    }
    let mut session = session.unwrap();

    let mut refreshes = Vec::new();
    for _ in 0..rounds {
        session = timed(&mut refreshes, oauth.refresh(&session))
            .await
            .unwrap();
    }

    let http = resolver.http().clone();
    let mut fresh_client = Vec::new();
    for n in 0..rounds {
        let repo = RepoClient::for_session(http.clone(), &session).unwrap();
        timed(
            &mut fresh_client,
            repo.put(EVENT, &rkey("a", n), &event(n), None),
        )
        .await
        .unwrap();
    }
    let kept = RepoClient::for_session(http.clone(), &session).unwrap();
    let mut kept_client = Vec::new();
    for n in 0..rounds {
        timed(
            &mut kept_client,
            kept.put(EVENT, &rkey("b", n), &event(n), None),
        )
        .await
        .unwrap();
    }
    let bearer = RepoClient::new(http.clone(), &pds.url, &account.did, &account.access_jwt);
    let mut app_password = Vec::new();
    for n in 0..rounds {
        timed(
            &mut app_password,
            bearer.put(EVENT, &rkey("c", n), &event(n), None),
        )
        .await
        .unwrap();
    }

    report("login: pushed authorization request", &mut begins);
    report(
        "login: callback (exchange, sub and issuer checks)",
        &mut completes,
    );
    report("refresh (issuer check and token request)", &mut refreshes);
    report(
        "putRecord, OAuth, a new client per write",
        &mut fresh_client,
    );
    report("putRecord, OAuth, one client kept", &mut kept_client);
    report("putRecord, app password", &mut app_password);
}

/// The callback's query as the API receives it.
fn callback_of(callback: &url::Url) -> publish::Callback {
    let pairs: std::collections::HashMap<String, String> =
        callback.query_pairs().into_owned().collect();
    publish::Callback {
        code: pairs.get("code").cloned(),
        state: pairs.get("state").cloned(),
        iss: pairs.get("iss").cloned(),
        error: pairs.get("error").cloned(),
        error_description: pairs.get("error_description").cloned(),
    }
}
