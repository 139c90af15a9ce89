//! `GET /api/events/{slug}` latency under `wrk` on loopback, against read
//! models of 50,000 imported events with 100,000 RSVPs.
//! `cargo bench --bench api` (needs `wrk`: `apt-get install wrk`).

mod support;

use std::process::Command;
use std::time::Duration;

use domain::attendance::{AttendanceStatus, RsvpChanged};
use domain::identity::UserId;
use domain::occurrence::{EventImported, OccurrenceId};
use domain::{DomainEvent, Origin, Timestamp};
use projections::Projection;
use projections::rebuild::rebuild;
use store::testkit::ScratchDatabase;

const EVENTS: usize = 50_000;

fn uri(n: usize) -> String {
    format!(
        "at://did:plc:organizer{:04}/community.lexicon.calendar.event/3mapi{n:08}",
        n % 5_000
    )
}

fn event(i: usize) -> DomainEvent {
    let at = Timestamp::from_unix_micros(1_764_000_000_000_000 + i as i64);
    if i.is_multiple_of(3) {
        let n = i / 3;
        let record = format!(
            r#"{{"$type":"community.lexicon.calendar.event","name":"Meetup {n}","description":"Talks and pizza.","createdAt":"2026-11-01T09:00:00.000Z","startsAt":"2026-12-01T18:00:00.000Z","mode":"community.lexicon.calendar.event#inperson"}}"#
        );
        EventImported {
            occurrence_id: OccurrenceId::for_record(&uri(n)),
            uri: uri(n),
            cid: format!("bafy{n}"),
            record,
            observed_at: at,
        }
        .into()
    } else {
        let n = (i / 3) % (EVENTS / 3 + 1);
        RsvpChanged {
            occurrence_id: OccurrenceId::for_record(&uri(n)),
            attendee_id: UserId::shadow_for(&format!("did:plc:user{}", i % 7_000)),
            status: AttendanceStatus::Attending,
            origin: Origin::Bluesky,
            changed_at: at,
            rsvp_uri: None,
            rsvp_cid: None,
        }
        .into()
    }
}

fn wrk_p99_ms(output: &str) -> Option<f64> {
    let line = output
        .lines()
        .find(|line| line.trim_start().starts_with("99%"))?;
    let value = line.split_whitespace().nth(1)?;
    let (number, unit) = value.split_at(value.find(|c: char| c.is_alphabetic())?);
    let number: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        _ => return None,
    })
}

#[tokio::main]
async fn main() {
    let db = ScratchDatabase::create().await;
    let store = db.store(16).await;
    support::append_generated(&store, EVENTS, event).await;
    rebuild(&store, &Projection::ALL, false, &|_, _| {})
        .await
        .expect("rebuild");
    let slug: String =
        sqlx::query_scalar("SELECT slug FROM read.occurrences ORDER BY id OFFSET 777 LIMIT 1")
            .fetch_one(store.pool())
            .await
            .expect("a slug");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let address = listener.local_addr().expect("address");
    tokio::spawn(
        async move { axum::serve(listener, api::router(api::AppState::new(store))).await },
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let url = format!("http://{address}/api/events/{slug}");

    println!("| connections | requests/s | p50 | p99 |");
    println!("|---:|---:|---:|---:|");
    for connections in ["4", "8", "16"] {
        let output = Command::new("wrk")
            .args(["-t2", "-c", connections, "-d10s", "--latency", &url])
            .output()
            .expect("wrk runs (apt-get install wrk)");
        let text = String::from_utf8_lossy(&output.stdout);
        let rps = text
            .lines()
            .find(|l| l.starts_with("Requests/sec:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?");
        let p50 = text
            .lines()
            .find(|l| l.trim_start().starts_with("50%"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?");
        let p99 = wrk_p99_ms(&text)
            .map(|ms| format!("{ms:.2} ms"))
            .unwrap_or_else(|| "?".into());
        println!("| {connections} | {rps} | {p50} | {p99} |");
    }
}
