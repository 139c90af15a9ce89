//! Rebuild of every read model from a log of generated domain events (a
//! realistic mix: imports, external edits, RSVPs, shadow accounts, handle
//! changes). `cargo bench --bench rebuild`; `BENCH_EVENTS` sets the size
//! (default 1,000,000).

mod support;

use std::time::Instant;

use domain::attendance::{AttendanceStatus, RsvpChanged};
use domain::identity::{HandleChanged, ShadowAccountCreated, UserId};
use domain::occurrence::{EventChangedExternally, EventImported, OccurrenceId};
use domain::{DomainEvent, Origin, Timestamp};
use projections::Projection;
use projections::rebuild::rebuild;
use store::EventStore;
use store::testkit::ScratchDatabase;

fn record(n: usize, version: usize) -> String {
    format!(
        r#"{{"$type":"community.lexicon.calendar.event","name":"Rust Meetup #{n} v{version}","description":"Talks and pizza, every Tuesday.","createdAt":"2026-11-01T09:00:00.000Z","startsAt":"2026-12-01T18:00:00.000Z","endsAt":"2026-12-01T20:00:00.000Z","mode":"community.lexicon.calendar.event#inperson","status":"community.lexicon.calendar.event#scheduled","locations":[{{"$type":"community.lexicon.location.address","country":"DE","locality":"Berlin","name":"c-base"}}]}}"#
    )
}

fn uri(n: usize) -> String {
    format!(
        "at://did:plc:organizer{:05}/community.lexicon.calendar.event/3mbench{n:08}",
        n % 20_000
    )
}

/// Event `i` of the mix, in 20 slots: 6 imports, 2 edits, 8 RSVPs,
/// 3 new shadow accounts, 1 handle change.
fn event(i: usize) -> DomainEvent {
    let round = i / 20;
    let at = Timestamp::from_unix_micros(1_764_000_000_000_000 + i as i64);
    let imported = |k: usize| round * 6 + k;
    let user = |k: usize| round * 3 + k;
    match i % 20 {
        slot @ 0..=5 => {
            let n = imported(slot);
            EventImported {
                occurrence_id: OccurrenceId::for_record(&uri(n)),
                uri: uri(n),
                cid: format!("bafy{n}v0"),
                record: record(n, 0),
                observed_at: at,
            }
            .into()
        }
        slot @ 6..=7 => {
            let n = (round * 7 + slot) % (imported(0) + 1);
            EventChangedExternally {
                occurrence_id: OccurrenceId::for_record(&uri(n)),
                uri: uri(n),
                cid: format!("bafy{n}v{i}"),
                record: record(n, i),
                observed_at: at,
            }
            .into()
        }
        slot @ 8..=15 => {
            let occurrence = (round * 13 + slot * 7) % (imported(0) + 1);
            let attendee = (round * 5 + slot) % (user(0) + 1);
            RsvpChanged {
                occurrence_id: OccurrenceId::for_record(&uri(occurrence)),
                attendee_id: UserId::shadow_for(&format!("did:plc:user{attendee}")),
                status: [
                    AttendanceStatus::Attending,
                    AttendanceStatus::Interested,
                    AttendanceStatus::Declined,
                ][i % 3],
                origin: Origin::Bluesky,
                changed_at: at,
                rsvp_uri: Some(format!(
                    "at://did:plc:user{attendee}/community.lexicon.calendar.rsvp/3r{occurrence}"
                )),
                rsvp_cid: Some(format!("bafyrsvp{i}")),
            }
            .into()
        }
        slot @ 16..=18 => {
            let did = format!("did:plc:user{}", user(slot - 16));
            ShadowAccountCreated {
                user_id: UserId::shadow_for(&did),
                did,
                handle: None,
                display_name: None,
            }
            .into()
        }
        _ => HandleChanged {
            did: format!("did:plc:user{}", round * 3),
            handle: format!("user{i}.bsky.social"),
        }
        .into(),
    }
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let db = ScratchDatabase::create().await;
    let store = db.store(12).await;

    let start = Instant::now();
    support::append_generated(&store, total, event).await;
    eprintln!(
        "generated {total} events in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    if std::env::var_os("BENCH_EACH").is_some() {
        for projection in Projection::ALL {
            let start = Instant::now();
            rebuild(&store, &[projection], false, &|_, _| {})
                .await
                .expect("rebuild");
            eprintln!("{projection} alone: {:.2} s", start.elapsed().as_secs_f64());
        }
    }
    let start = Instant::now();
    let reports = rebuild(&store, &Projection::ALL, false, &|_, _| {})
        .await
        .expect("rebuild");
    let elapsed = start.elapsed().as_secs_f64();
    let head = store.head().await.expect("head").0;
    let mut rows = Vec::new();
    for table in [
        "series",
        "occurrences",
        "attendees",
        "users",
        "external_refs",
    ] {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM read.{table}"
        )))
        .fetch_one(store.pool())
        .await
        .expect("count");
        rows.push(format!("{table} {count}"));
    }
    assert!(reports.iter().all(|report| report.position.0 == head));
    println!("| events | projections | seconds | events/s | rows |");
    println!("|---:|---:|---:|---:|---|");
    println!(
        "| {head} | {} | {elapsed:.2} | {:.0} | {} |",
        reports.len(),
        head as f64 / elapsed,
        rows.join(", ")
    );
}
