//! Peak memory of `import-jetstream`, `rebuild` and `project` on a log that
//! holds rejected huge records, against the same log without them. Each
//! command runs as its own process; its peak RSS is what the kernel reports
//! for it when it ends (`wait4`).
//!
//! Three logs: `clean` (a busy capture imported), `rejected` (the same
//! capture with `BENCH_REJECTED` 2 MB lines spread through it, default
//! 1,000: each a `RecordRejected` keeping 256 bytes), and `legacy` (the
//! clean log plus as many version 1 rejections, each holding its 2 MB
//! input whole, as logs written before version 2 do).
//! `cargo bench --bench rejected_memory`; `BENCH_ORGANIZERS` sets the size
//! of the capture (default 250: 5,000 messages, 9,000 events).

#[path = "../tests/support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/child.rs"]
mod child;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use child::{Run, wait_measured};

use domain::rejection::RecordRejectedV1;
use domain::{DomainEvent, EncodedPayload};
use store::EventStore;
use store::testkit::ScratchDatabase;

const HUGE: usize = 2_000_000;

fn binary(db: &ScratchDatabase, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"));
    command
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn run(db: &ScratchDatabase, args: &[&str]) -> Run {
    let child = binary(db, args).spawn().expect("the binary runs");
    wait_measured(child, &args.join(" "))
}

/// `project` runs until stopped: it is stopped (SIGINT) once every
/// projection has caught up with the head of the log.
async fn project(db: &ScratchDatabase) -> Run {
    let store = db.store(2).await;
    let head = store.head().await.expect("head");
    let child = binary(db, &["project"]).spawn().expect("the binary runs");
    let pool = sqlx::PgPool::connect(&db.url()).await.expect("connect");
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let failed: Vec<(String, String)> =
            sqlx::query_as("SELECT projection, reason FROM projections.failures")
                .fetch_all(&pool)
                .await
                .expect("failures");
        assert!(failed.is_empty(), "a projection stopped: {failed:?}");
        let lags = projections::runner::lag(&pool, head).await.expect("lag");
        if !lags.is_empty() && lags.iter().all(|lag| lag.behind == 0) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "project did not catch up"
        );
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let mut run = wait_measured(child, "project");
    run.seconds = started.elapsed().as_secs_f64();
    run
}

fn write_capture(path: &Path, lines: &[String], huge_every: Option<usize>) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create capture"));
    let huge = format!(
        "{{\"did\":\"did:plc:huge\",\"junk\":\"{}\"}}",
        "x".repeat(HUGE)
    );
    for (i, line) in lines.iter().enumerate() {
        if huge_every.is_some_and(|every| i % every == 0) {
            writeln!(file, "{huge}").expect("write");
        }
        writeln!(file, "{line}").expect("write");
    }
    file.flush().expect("flush");
}

async fn append_legacy(db: &ScratchDatabase, count: usize) {
    let store = db.store(2).await;
    let raw = "x".repeat(HUGE);
    for i in 0..count {
        let v1 = RecordRejectedV1 {
            subject: format!("legacy.jsonl:{i}"),
            reason: "record of 2000000 bytes exceeds the 65536-byte limit".into(),
            raw: raw.clone(),
        };
        let payload = EncodedPayload {
            event_type: "RecordRejected".into(),
            schema_version: 1,
            bytes: postcard::to_stdvec(&v1).expect("encode"),
        };
        assert!(DomainEvent::decode(&payload).is_ok());
        store
            .append(
                &domain::rejection::rejection_stream(&format!("legacy{i}")),
                store::ExpectedVersion::NoStream,
                vec![domain::NewEvent {
                    metadata: domain::EventMetadata {
                        event_id: domain::EventId(uuid::Uuid::new_v4()),
                        causation_id: None,
                        correlation_id: None,
                        origin: domain::Origin::Bluesky,
                        actor: domain::Actor::system("bench"),
                    },
                    payload,
                }],
            )
            .await
            .expect("append");
    }
}

struct Figures {
    name: &'static str,
    import: Option<Run>,
    rebuild: Run,
    project: Run,
}

async fn measure(name: &'static str, capture: &Path, legacy: usize) -> Figures {
    let db = ScratchDatabase::create().await;
    run(&db, &["migrate"]);
    let import = run(&db, &["import-jetstream", &capture.display().to_string()]);
    let import = if legacy > 0 {
        append_legacy(&db, legacy).await;
        None
    } else {
        Some(import)
    };
    let project = project(&db).await;
    let rebuild = run(&db, &["rebuild"]);
    Figures {
        name,
        import,
        rebuild,
        project,
    }
}

#[tokio::main]
async fn main() {
    let rejected: usize = std::env::var("BENCH_REJECTED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let organizers: usize = std::env::var("BENCH_ORGANIZERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(250);
    let lines = capture::busy_capture(organizers);
    let dir = std::env::temp_dir().join(format!("rejected-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (clean, with_huge) = (dir.join("clean.jsonl"), dir.join("huge.jsonl"));
    write_capture(&clean, &lines, None);
    write_capture(&with_huge, &lines, Some(lines.len().div_ceil(rejected)));
    eprintln!(
        "{} messages; {rejected} lines of 2 MB among them ({:.1} GB)",
        lines.len(),
        std::fs::metadata(&with_huge).map_or(0, |m| m.len()) as f64 / 1e9
    );

    let mut all = vec![];
    for (name, capture, legacy) in [
        ("clean", &clean, 0),
        ("rejected", &with_huge, 0),
        ("legacy", &clean, rejected),
    ] {
        all.push(measure(name, capture, legacy).await);
    }
    std::fs::remove_dir_all(&dir).ok();

    let base = &all[0];
    println!("| log | import peak | project peak | rebuild peak | rebuild time |");
    println!("|---|---|---|---|---|");
    for figures in &all {
        let ratio = |run: &Run, base: &Run| {
            format!(
                "{:.0} MiB ({:+.0} %)",
                run.peak_mib,
                (run.peak_mib / base.peak_mib - 1.0) * 100.0
            )
        };
        println!(
            "| {} | {} | {} | {} | {:.1} s |",
            figures.name,
            match (&figures.import, &base.import) {
                (Some(run), Some(base)) => ratio(run, base),
                _ => "appended directly".into(),
            },
            ratio(&figures.project, &base.project),
            ratio(&figures.rebuild, &base.rebuild),
            figures.rebuild.seconds,
        );
    }
}
