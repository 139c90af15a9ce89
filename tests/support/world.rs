//! One scratch database, a Redis key prefix and the API over them, with
//! the few steps tests take on them: ingest a message, project, call the
//! API, log in.

use std::time::Duration;

use api::Auth;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use ingest::apply::{Applier, Outcome};
use projections::Projection;
use projections::projection::LIVE_SCHEMA;
use publish::{CredentialStore, OAuth, OAuthClient, Resolver};
use serde_json::{Value, json};
use store::testkit::ScratchDatabase;
use store::{EventStore, PgEventStore};
use tower::ServiceExt;
use uuid::Uuid;

use crate::capture::{EVENT, RSVP, commit, event_record, rsvp_record};

pub const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
pub const ADMIN: &str = "did:web:admin.openmeet.test";
/// Where the API of a world says it is served, for its loopback OAuth
/// client (requests reach it through the router, not this address).
pub const LOOPBACK: &str = "http://127.0.0.1:8080";

/// One scratch database, a Redis key prefix, and the API over them.
pub struct World {
    pub db: ScratchDatabase,
    pub store: PgEventStore,
    pub app: axum::Router,
    pub redis: redis::aio::ConnectionManager,
    pub prefix: String,
    pub seq: i64,
}

impl World {
    /// A world whose logins resolve identities with `resolver`.
    pub async fn new(resolver: Resolver) -> World {
        let db = ScratchDatabase::create().await;
        let store = db.store(4).await;
        let prefix = format!("test:{}:", Uuid::new_v4().simple());
        let redis = redis::aio::ConnectionManager::new(
            redis::Client::open("redis://127.0.0.1:6379").unwrap(),
        )
        .await
        .unwrap();
        let mut state = api::AppState::new(store.clone());
        state.consistency_timeout = Duration::from_secs(5);
        let credentials = CredentialStore::new(redis.clone(), KEY, &prefix).unwrap();
        let oauth = OAuth::new(
            OAuthClient::loopback(LOOPBACK).unwrap(),
            resolver.clone(),
            credentials.clone(),
        );
        let state = state.with_auth(Auth {
            resolver,
            credentials: Some(credentials),
            session_ttl: chrono::Duration::hours(1),
            admins: std::sync::Arc::new([ADMIN.to_owned()].into()),
            oauth: Some(oauth),
            throttle: api::auth::throttle::Throttle::new(
                redis.clone(),
                &prefix,
                domain::login_limits::LoginLimits::default(),
            ),
        });
        World {
            app: api::router(state),
            db,
            store,
            redis,
            prefix,
            seq: 1_764_000_000_000_000,
        }
    }

    /// A standalone OpenMeet event named `name` (Thursday 10 December 2026,
    /// 19:00 to 23:00 in Berlin), put in through `POST /api/events` for the
    /// owner `did` and shared on Bluesky, each with `token` (the owner's
    /// session): its id and slug.
    pub async fn shared_openmeet_event(
        &self,
        name: &str,
        did: &str,
        token: &str,
    ) -> (domain::occurrence::OccurrenceId, String) {
        let event = json!({
            "id": format!("om-event-{}", Uuid::new_v4()),
            "ownerDid": did,
            "name": name,
            "timeZone": "Europe/Berlin",
            "startDate": "2026-12-10T19:00:00",
            "endDate": "2026-12-10T23:00:00",
            "type": "in-person"
        });
        let (status, created) = self
            .call("POST", "/api/events", Some(token), Some(event))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        self.project().await;
        let id = Uuid::parse_str(created["occurrenceId"].as_str().unwrap()).unwrap();
        let slug = created["slug"].as_str().unwrap().to_owned();
        let (status, body) = self
            .call(
                "POST",
                &format!("/api/events/{slug}/bluesky-settings"),
                Some(token),
                Some(json!({"enabled": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (domain::occurrence::OccurrenceId(id), slug)
    }

    /// Runs the process manager over the log (detection, conflicts).
    pub async fn reconcile(&self) {
        let (mut runner, _) = followers::process_manager::start(
            self.store.clone(),
            followers::SnapshotPolicy::default(),
            &|_, _| {},
        )
        .await
        .unwrap();
        runner.until_idle().await.unwrap();
    }

    /// Runs the publishing scheduler over the log, and records what is due
    /// at `at`; returns how many decisions.
    pub async fn schedule(&self, at: &str) -> usize {
        let (mut scheduler, _) = followers::scheduler::start(
            self.store.clone(),
            "https://openmeet.test",
            followers::SnapshotPolicy::default(),
        )
        .await
        .unwrap();
        scheduler
            .tick(domain::Timestamp::parse_rfc3339(at).unwrap())
            .await
            .unwrap()
    }

    /// Runs one Jetstream message through the ingest processor.
    pub async fn ingest(&mut self, line: String) -> Outcome {
        self.seq += 1;
        Applier::new(self.store.clone())
            .apply(&line, &format!("test:{}", self.seq))
            .await
            .unwrap()
    }

    pub async fn import_event(&mut self, did: &str, rkey: &str, name: &str) -> String {
        self.import_event_with(did, rkey, name, json!({})).await
    }

    /// Imports `did`'s event `rkey` named `name`, with `extra` fields.
    pub async fn import_event_with(
        &mut self,
        did: &str,
        rkey: &str,
        name: &str,
        extra: Value,
    ) -> String {
        let seq = self.seq + 1;
        let outcome = self
            .ingest(commit(
                did,
                seq,
                "create",
                EVENT,
                rkey,
                Some(event_record(name, extra)),
            ))
            .await;
        assert!(matches!(outcome, Outcome::Applied(_)), "{outcome:?}");
        format!("at://{did}/{EVENT}/{rkey}")
    }

    pub async fn import_rsvp(&mut self, did: &str, subject: &str) {
        let seq = self.seq + 1;
        let outcome = self
            .ingest(commit(
                did,
                seq,
                "create",
                RSVP,
                "rsvp1",
                Some(rsvp_record(subject, "going")),
            ))
            .await;
        assert!(matches!(outcome, Outcome::Applied(_)), "{outcome:?}");
    }

    pub async fn account_status(&mut self, did: &str, active: bool, status: &str) {
        let seq = self.seq + 1;
        let line = json!({"did": did, "time_us": seq, "kind": "account",
            "account": {"active": active, "did": did, "seq": seq, "status": status, "time": "2026-12-01T10:00:00Z"}});
        let outcome = self.ingest(line.to_string()).await;
        assert!(matches!(outcome, Outcome::Applied(_)), "{outcome:?}");
    }

    /// Applies the whole log to every projection.
    pub async fn project(&self) {
        let mut conn = self.store.pool().acquire().await.unwrap();
        for projection in Projection::ALL {
            let mut checkpoint = projection.checkpoint(self.store.pool()).await.unwrap();
            loop {
                let events = self.store.read_all(checkpoint, 500).await.unwrap();
                let Some(last) = events.last() else { break };
                projection
                    .apply(&mut conn, LIVE_SCHEMA, &events, Some(checkpoint))
                    .await
                    .unwrap();
                checkpoint = last.global_position;
            }
        }
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// A GET or POST without a body: the status, the `Location` header and
    /// the body as text.
    pub async fn raw(&self, method: &str, uri: &str) -> (StatusCode, Option<String>, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned());
        let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (
            status,
            location,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    pub async fn log_in(&self, identifier: &str, password: &str) -> (StatusCode, Value) {
        self.call(
            "POST",
            "/api/auth/bluesky/app-password",
            None,
            Some(json!({"identifier": identifier, "password": password})),
        )
        .await
    }

    pub async fn event_slug(&self, uri: &str) -> String {
        sqlx::query_scalar("SELECT slug FROM read.occurrences WHERE external_id = $1")
            .bind(uri)
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }

    pub async fn event_types(&self, stream_prefix: &str) -> Vec<String> {
        let all = self
            .store
            .read_all(domain::GlobalPosition(0), 100_000)
            .await
            .unwrap();
        all.iter()
            .filter(|e| e.stream_id.to_string().starts_with(stream_prefix))
            .map(|e| e.payload.event_type.clone())
            .collect()
    }

    pub async fn clean(self) {
        let mut redis = self.redis.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut redis)
            .await
            .unwrap();
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut redis)
                .await
                .unwrap();
        }
        drop(self.db);
    }
}

/// A resolver for worlds that never log in through a PDS.
#[allow(dead_code)]
pub fn offline_resolver() -> Resolver {
    Resolver::new(&publish::ResolverConfig {
        timeout: Duration::from_secs(1),
        ..publish::ResolverConfig::local("http://127.0.0.1:9", "http://127.0.0.1:9")
    })
    .unwrap()
}

/// A session for `did` as an operator issues it (registers the DID).
#[allow(dead_code)]
pub async fn operator_token(world: &World, did: &str) -> String {
    api::auth::operator_session(&world.store, did, chrono::Duration::hours(1))
        .await
        .unwrap()
        .0
}

/// The guarded client of outbound calls, allowed to call this machine (the
/// test PDS listens on loopback).
#[allow(dead_code)]
pub fn local_http() -> publish::GuardedClient {
    publish::GuardedClient::new(Duration::from_secs(5), publish::Reach::Anywhere, Vec::new())
        .unwrap()
}
