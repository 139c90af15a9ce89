//! OpenMeet's platform putting its own series in (issue 41):
//!
//! - `POST /api/series` on loopback: requests per second and latency
//!   percentiles, with `BENCH_CLIENTS` concurrent clients (default 8), each
//!   creating distinct weekly series as the owner's session, for
//!   `BENCH_SECONDS` (default 10);
//! - `openmeet-sync import-openmeet` of an export of `BENCH_SERIES` series
//!   (default 10,000) of 52 weekly occurrences each, as its own process:
//!   lines per second and peak resident memory, then the same file again
//!   (a rerun adds nothing).
//!
//! `cargo bench --bench platform`.

#[path = "support/child.rs"]
mod child;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::testkit::ScratchDatabase;

const OWNERS: usize = 50;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn owner(n: usize) -> String {
    format!("did:plc:benchowner{:014}", n % OWNERS)
}

/// The `n`th weekly series, 52 occurrences, as OpenMeet sends it.
fn series(prefix: &str, n: usize) -> Value {
    json!({
        "id": format!("{prefix}-{n}"),
        "ownerDid": owner(n),
        "name": format!("Meetup {n}"),
        "description": "Talks and pizza, every week.",
        "timeZone": "Europe/Berlin",
        "recurrenceRule": {"frequency": "WEEKLY", "count": 52, "byweekday": ["TU"]},
        "templateStartDate": "2027-01-05T19:00:00",
        "templateEndDate": "2027-01-05T21:00:00",
        "templateType": "hybrid",
        "templateLocation": "c-base, Berlin",
        "templateLocationOnline": "https://meet.example/weekly"
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

async fn through_the_api(db: &ScratchDatabase) {
    let clients = env_number("BENCH_CLIENTS", 8);
    let seconds = env_number("BENCH_SECONDS", 10) as u64;
    let store = db.store(16).await;
    let mut tokens = Vec::new();
    for n in 0..OWNERS {
        let (token, _) = api::auth::operator_session(&store, &owner(n), chrono::Duration::hours(2))
            .await
            .expect("a session");
        tokens.push(token);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let address = listener.local_addr().expect("address");
    let app = api::router(api::AppState::new(store));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{address}/api/series");
    let http = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(tokens);
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (http, url, next, tokens) =
                (http.clone(), url.clone(), next.clone(), tokens.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    let response = http
                        .post(&url)
                        .bearer_auth(&tokens[n % OWNERS])
                        .json(&series("api", n))
                        .send()
                        .await
                        .expect("the API answers");
                    let status = response.status();
                    assert_eq!(
                        status,
                        reqwest::StatusCode::CREATED,
                        "{}",
                        response.text().await.unwrap_or_default()
                    );
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a client"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    println!("| clients | series created | requests/s | p50 | p99 | max |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {clients} | {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms |",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
}

fn import(db: &ScratchDatabase, file: &std::path::Path) -> child::Run {
    let child = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .args(["import-openmeet", &file.display().to_string()])
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary runs");
    child::wait_measured(child, "import-openmeet")
}

async fn import_openmeet(db: &ScratchDatabase) {
    let count = env_number("BENCH_SERIES", 10_000);
    let store = db.store(2).await;
    for n in 0..OWNERS {
        api::auth::operator_session(&store, &owner(n), chrono::Duration::hours(2))
            .await
            .expect("an account");
    }
    let path = std::env::temp_dir().join(format!("openmeet-export-{}.jsonl", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create export"));
    for n in 0..count {
        writeln!(file, "{}", series("import", n)).expect("write");
    }
    file.flush().expect("flush");
    drop(file);
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!();
    println!(
        "import-openmeet of {count} series × 52 occurrences ({:.1} MB):",
        bytes as f64 / 1e6
    );
    println!("| run | lines | seconds | lines/s | peak memory |");
    println!("|---|---:|---:|---:|---:|");
    for run in ["first", "again (adds nothing)"] {
        let measured = import(db, &path);
        println!(
            "| {run} | {count} | {:.1} | {:.0} | {:.1} MiB |",
            measured.seconds,
            count as f64 / measured.seconds,
            measured.peak_mib
        );
    }
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM eventstore.events WHERE event_type = 'SeriesCreated'",
    )
    .fetch_one(store.pool())
    .await
    .expect("count");
    println!(
        "series in the log: {created} (of which {} through the API above)",
        created as usize - count
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::main]
async fn main() {
    let db = ScratchDatabase::create().await;
    through_the_api(&db).await;
    import_openmeet(&db).await;
}
