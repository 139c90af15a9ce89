//! The process manager and `audit verify` over a generated log in which
//! decisions are frequent: imported events, a third of them edited in
//! OpenMeet and then changed on Bluesky (a conflict each), and answers
//! given on both platforms (a conflict each): its first run from position
//! 0, a restart from its snapshot to its first new decisions, a restart
//! without one (the state folded from 0), and `audit verify`.
//! `cargo bench --bench audit`; `BENCH_EVENTS` sets the size (default
//! 1,000,000).

mod support;

use std::time::Instant;

use domain::attendance::{AttendanceStatus, RsvpChanged};
use domain::identity::UserId;
use domain::occurrence::{
    EventChangedExternally, EventImported, OccurrenceEdited, OccurrenceId, details_of,
};
use domain::{DomainEvent, Origin, Timestamp};
use followers::SnapshotPolicy;
use projections::audit::verify::verify;
use store::testkit::ScratchDatabase;
use store::{EventStore, Snapshot};

fn record(n: usize, name: &str) -> String {
    format!(
        r#"{{"$type":"community.lexicon.calendar.event","name":"{name}","description":"Talks and pizza, every Tuesday.","createdAt":"2026-11-01T09:00:00.000Z","startsAt":"2026-12-01T18:00:00.000Z","endsAt":"2026-12-01T20:00:00.000Z","mode":"community.lexicon.calendar.event#inperson","locations":[{{"$type":"community.lexicon.location.address","country":"DE","locality":"Berlin","name":"c-base {n}"}}]}}"#
    )
}

fn uri(n: usize) -> String {
    format!(
        "at://did:plc:organizer{:05}/community.lexicon.calendar.event/3mbench{n:08}",
        n % 20_000
    )
}

fn answer(n: usize, origin: Origin, status: AttendanceStatus, at: Timestamp) -> DomainEvent {
    RsvpChanged {
        occurrence_id: OccurrenceId::for_record(&uri(n)),
        attendee_id: UserId::shadow_for(&format!("did:plc:guest{}", n % 5_000)),
        status,
        origin,
        changed_at: at,
        rsvp_uri: None,
        rsvp_cid: None,
    }
    .into()
}

/// Event `i` of the mix, in slots of 10 about occurrence `i / 10`:
/// imported, edited in OpenMeet, changed on Bluesky three times (two
/// conflicts each: name and description), answered on both platforms in
/// turn (a conflict each): ten decisions per ten events.
fn event(i: usize) -> DomainEvent {
    let n = i / 10;
    let at = Timestamp::from_unix_micros(1_764_000_000_000_000 + i as i64);
    let id = OccurrenceId::for_record(&uri(n));
    let version = |name: &str, v: usize| EventChangedExternally {
        occurrence_id: id,
        uri: uri(n),
        cid: format!("bafy{n}v{v}"),
        record: record(n, name),
        observed_at: at,
    };
    match i % 10 {
        0 => EventImported {
            occurrence_id: id,
            uri: uri(n),
            cid: format!("bafy{n}v0"),
            record: record(n, "Rust Meetup"),
            observed_at: at,
        }
        .into(),
        1 => {
            let mut details = details_of(&uri(n), &record(n, "Rust Meetup")).expect("maps");
            details.name = format!("Rust Meetup Berlin {n}");
            details.description = Some("Edited in OpenMeet".into());
            OccurrenceEdited {
                occurrence_id: id,
                details,
            }
            .into()
        }
        2 => version("Rust meetup #12", 1).into(),
        3 => answer(n, Origin::Bluesky, AttendanceStatus::Attending, at),
        4 => answer(n, Origin::OpenMeet, AttendanceStatus::Declined, at),
        5 => version("Rust meetup #13", 2).into(),
        6 => answer(n, Origin::Bluesky, AttendanceStatus::Interested, at),
        7 => version("Rust meetup #14", 3).into(),
        8 => answer(n, Origin::OpenMeet, AttendanceStatus::Attending, at),
        _ => answer(n, Origin::Bluesky, AttendanceStatus::Declined, at),
    }
}

/// Events appended after the first run, to be decided after a restart.
const LATE: usize = 1_000;

/// Snapshots left to the default policy (every 100,000 events or minute).
fn snapshots() -> SnapshotPolicy {
    SnapshotPolicy::default()
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let total = total.div_ceil(LATE) * LATE;
    let db = ScratchDatabase::create().await;
    let store = db.store(8).await;

    let start = Instant::now();
    support::append_generated(&store, total, event).await;
    eprintln!(
        "generated {total} events in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let (mut runner, _) = followers::process_manager::start(store.clone(), snapshots(), &|_, _| {})
        .await
        .expect("start");
    runner.until_idle().await.expect("run");
    let decide = start.elapsed().as_secs_f64();
    let decisions = runner.done().recorded;
    // One state in memory at a time, so the peak is one state's size.
    drop(runner);
    let head = store.head().await.expect("head").0;
    let snapshot = Snapshot::load(&store, followers::process_manager::NAME)
        .await
        .expect("snapshot")
        .expect("the first run stores snapshots");

    support::append_generated_from(&store, total, total + LATE, event).await;
    let start = Instant::now();
    let (mut restarted, started) =
        followers::process_manager::start(store.clone(), snapshots(), &|_, _| {})
            .await
            .expect("restart");
    let late = restarted
        .until_idle()
        .await
        .expect("run the late events")
        .recorded;
    let restart = start.elapsed().as_secs_f64();
    assert_eq!(
        started.from, snapshot.position,
        "restarted from the snapshot"
    );
    assert!(late > 0, "the late events call for decisions");
    drop(restarted);

    sqlx::query("DELETE FROM process.snapshots")
        .execute(store.pool())
        .await
        .expect("drop the snapshot");
    let start = Instant::now();
    let (refolded, started) =
        followers::process_manager::start(store.clone(), snapshots(), &|_, _| {})
            .await
            .expect("fold from 0");
    let fold = start.elapsed().as_secs_f64();
    assert_eq!(started.from.0, 0);
    let folded = refolded.position().0;
    drop(refolded);

    let start = Instant::now();
    let report = verify(&store, &|_, _| {}).await.expect("verify");
    let verified = start.elapsed().as_secs_f64();
    assert_eq!(report.findings, vec![], "a clean log verifies");
    assert_eq!(report.decisions_matched, decisions + late);

    println!("| what | events | decisions | seconds | events/s |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| process manager from position 0, decisions appended | {total} | {decisions} | {decide:.2} | {:.0} |",
        total as f64 / decide
    );
    println!(
        "| restart from its snapshot at {} ({} bytes), fold to the checkpoint {head}, decide {LATE} new events | {} | {late} | {restart:.2} | - |",
        snapshot.position,
        snapshot.state.len(),
        head - snapshot.position.0 + LATE as u64,
    );
    println!(
        "| restart without a snapshot: state folded from 0 to the checkpoint | {folded} | - | {fold:.2} | {:.0} |",
        folded as f64 / fold
    );
    println!(
        "| audit verify (replay, compare every decision, hash chain) | {folded} | {} | {verified:.2} | {:.0} |",
        report.decisions_matched,
        folded as f64 / verified
    );
}
