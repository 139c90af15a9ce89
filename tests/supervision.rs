//! `serve`'s background tasks under one supervision rule: the process
//! manager fails on an event no build decodes, `/health` answers 503 and
//! names the task, its failures and its last error; once an operator
//! records skips of that event, every task runs again and `/health` says
//! ok, without restarting `serve`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use domain::StreamId;
use serde_json::Value;
use store::testkit::ScratchDatabase;

#[path = "support/faults.rs"]
mod faults;

use faults::{binary, garbage, legacy};

/// `serve` on `db`, listening on a free loopback port; killed on drop.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(db: &ScratchDatabase) -> Serve {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
            .arg("serve")
            .env("DATABASE_URL", db.url())
            .env("LISTEN", format!("127.0.0.1:{port}"))
            .env("NO_IDENTITY_ENRICHMENT", "1")
            .env("REDIS_KEY_PREFIX", format!("test:supervision:{port}:"))
            .env("RESTART_BACKOFF_CAP_SECS", "1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        Serve {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// `/health`: its status code and body, once `serve` answers.
    async fn health(&self) -> (u16, Value) {
        for _ in 0..100 {
            if let Ok(response) = reqwest::get(format!("{}/health", self.url)).await {
                let status = response.status().as_u16();
                return (status, response.json().await.unwrap());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("serve never answered");
    }

    /// `/health` once `wanted` holds of it, or the last one seen.
    async fn health_until(&self, wanted: impl Fn(u16, &Value) -> bool) -> (u16, Value) {
        let mut last = self.health().await;
        for _ in 0..100 {
            if wanted(last.0, &last.1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            last = self.health().await;
        }
        last
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn task<'a>(health: &'a Value, name: &str) -> &'a Value {
    health["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|task| task["name"] == name)
        .unwrap_or_else(|| panic!("no task {name}: {health}"))
}

#[tokio::test]
async fn a_failing_process_manager_shows_on_health_and_recovers_once_its_cause_is_gone() {
    let db = ScratchDatabase::create().await;
    let store = db.store(4).await;
    let position = legacy(
        &store,
        StreamId::new("occurrence", "garbage"),
        "garbage",
        garbage(),
    )
    .await;
    let serve = Serve::start(&db);

    let (status, health) = serve
        .health_until(|_, health| {
            health["tasks"]
                .as_array()
                .and_then(|tasks| tasks.iter().find(|t| t["name"] == "process-manager"))
                .is_some_and(|t| t["failures"].as_u64() >= Some(2))
        })
        .await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["status"], "degraded");
    let manager = task(&health, "process-manager");
    assert_eq!(manager["state"], "restarting", "{health}");
    assert!(
        manager["last_error"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "process-manager stopped at position {position} (EventImported"
            )),
        "{manager}"
    );
    assert!(manager["retry_at"].is_string() && manager["since"].is_string());

    let mut skipped: Vec<&str> = projections::Projection::ALL
        .iter()
        .map(|projection| projection.name())
        .collect();
    skipped.push("process-manager");
    for name in skipped {
        let (ok, out) = binary(
            &db,
            &[
                "skip-event",
                "--projection",
                name,
                "--position",
                &position.to_string(),
                "--reason",
                "written by a broken build",
            ],
        );
        assert!(ok, "{out}");
    }

    let (status, health) = serve
        .health_until(|status, health| status == 200 && health["process_manager"]["behind"] == 0)
        .await;
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("ok")),
        "{health}"
    );
    let tasks = health["tasks"].as_array().unwrap();
    assert!(
        tasks.iter().all(|task| task["state"] == "running"),
        "{health}"
    );
    assert!(
        tasks.len() > projections::Projection::ALL.len(),
        "the projections, the process manager and the sweeper: {health}"
    );
    assert_eq!(health["process_manager"]["behind"], 0, "{health}");
}
