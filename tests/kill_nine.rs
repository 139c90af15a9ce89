//! `project` (the projections and the process manager) killed with
//! SIGKILL at points drawn from a seeded generator, then run to the head:
//! the log holds exactly the decisions a run never killed records, the
//! read models equal a rebuild from the log, and `audit verify` is clean.
//! Nothing is lost or decided twice across a kill -9 (part of issue 23;
//! `kill_nine_publishing.rs` does the same to the scheduler and the
//! occurrence publisher).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use store::EventStore;
use store::testkit::ScratchDatabase;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/faults.rs"]
#[allow(dead_code)]
mod faults;

use faults::binary;

/// A busy capture (updates, deletions, answers) among which `organizers`
/// accounts each post four weekly meetups, later renamed: the process
/// manager proposes a series for each, again as it grows.
fn weekly_organizers(organizers: usize) -> Vec<String> {
    let busy = capture::busy_capture(organizers);
    let mut tick = capture::clock();
    let mut weekly = vec![];
    for week in 0..4 {
        for o in 0..organizers {
            let record = capture::event_record(
                &format!("Rust Meetup #{}", 10 + week),
                serde_json::json!({"startsAt": format!("2026-12-{:02}T18:00:00Z", 1 + 7 * week)}),
            );
            weekly.push(capture::commit(
                &format!("did:plc:weekly{o}"),
                tick(),
                "create",
                capture::EVENT,
                &format!("week{week}"),
                Some(record),
            ));
        }
    }
    // Interleaved, each in its own order: decisions all along the log.
    let every = busy.len().div_ceil(weekly.len()).max(1);
    let mut lines = Vec::with_capacity(busy.len() + weekly.len());
    let mut busy = busy.into_iter();
    for line in weekly {
        lines.extend(busy.by_ref().take(every));
        lines.push(line);
    }
    lines.extend(busy);
    lines
}

fn project(db: &ScratchDatabase) -> Child {
    Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .arg("project")
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("project starts")
}

/// A database holding the same imported capture as every other.
async fn imported(capture: &std::path::Path) -> ScratchDatabase {
    let db = ScratchDatabase::create().await;
    let path = capture.display().to_string();
    let (ok, out) = binary(&db, &["import-jetstream", &path]);
    assert!(ok, "{out}");
    db
}

/// Runs `project` until every projection and the process manager have
/// reached the head, then stops it.
async fn to_the_head(db: &ScratchDatabase) {
    let store = db.store(2).await;
    let mut child = project(db);
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let head = store.head().await.unwrap();
        let lags = projections::runner::lag(store.pool(), head).await.unwrap();
        let decided = store.checkpoint(domain::sync::ACTOR).await.unwrap();
        // The process manager's own decisions move the head: caught up
        // when nothing moved between two looks.
        if !lags.is_empty()
            && lags.iter().all(|lag| lag.behind == 0)
            && decided == head
            && store.head().await.unwrap() == head
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "project did not reach the head"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Every event the process manager recorded, by type, with its id.
async fn decisions(db: &ScratchDatabase) -> BTreeMap<String, Vec<uuid::Uuid>> {
    let store = db.store(2).await;
    let rows: Vec<(String, uuid::Uuid)> = sqlx::query_as(
        "SELECT event_type, event_id FROM eventstore.events WHERE actor = $1 ORDER BY event_id",
    )
    .bind(domain::Actor::system(domain::sync::ACTOR).0)
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut by_type: BTreeMap<String, Vec<uuid::Uuid>> = BTreeMap::new();
    for (event_type, id) in rows {
        by_type.entry(event_type).or_default().push(id);
    }
    by_type
}

#[tokio::test]
async fn project_killed_at_random_points_ends_as_a_run_never_killed() {
    let dir = std::env::temp_dir().join(format!("kill-nine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("capture.jsonl");
    std::fs::write(&capture, weekly_organizers(40).join("\n")).unwrap();

    let clean = imported(&capture).await;
    to_the_head(&clean).await;
    let expected = decisions(&clean).await;
    assert!(
        expected.values().map(Vec::len).sum::<usize>() > 10,
        "the capture makes the process manager decide: {expected:?}"
    );

    let seed: u64 = std::env::var("KILL_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(7);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let killed = imported(&capture).await;
    let store = killed.store(2).await;
    for _ in 0..5 {
        // Killed once the process manager has carried out decisions up to
        // a point drawn at random past where it stands, a few milliseconds
        // after it passes it.
        let from = store.checkpoint(domain::sync::ACTOR).await.unwrap().0;
        let head = store.head().await.unwrap().0;
        if from + 1 >= head {
            break;
        }
        let target = rng.random_range(from + 1..head);
        let mut child = project(&killed);
        let started = Instant::now();
        while store.checkpoint(domain::sync::ACTOR).await.unwrap().0 < target
            && started.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let before_the_last_run: usize = decisions(&killed).await.values().map(Vec::len).sum();
    eprintln!(
        "KILL_SEED={seed}: {before_the_last_run} of {} decisions recorded by the killed runs",
        expected.values().map(Vec::len).sum::<usize>()
    );
    to_the_head(&killed).await;

    assert_eq!(
        decisions(&killed).await,
        expected,
        "the same decisions, none twice (KILL_SEED={seed})"
    );
    let (ok, out) = binary(&killed, &["audit", "verify"]);
    assert!(ok, "audit verify (KILL_SEED={seed}): {out}");
    let (ok, out) = binary(&killed, &["rebuild", "--verify"]);
    assert!(
        ok,
        "the read models equal a rebuild (KILL_SEED={seed}): {out}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
