//! Series detection over many imported events: 5,000 organizers with 20
//! events each (a weekly series, a monthly one with a skipped month, a
//! renamed biweekly one, and one-offs), each with a venue and a blurb, on
//! one thread. Twice: with each record naming its zone, and shaped like
//! the network's records (no zone: Berlin organizers give an address, New
//! York ones coordinates, the others nothing), so that the zone is
//! inferred for every group, from the times where nothing else tells.
//! Then as many of the series model's scenarios (`series-model`: one
//! series each, perturbed, among noise from several DIDs) as make 100,000
//! records.
//!
//! `cargo bench --bench series`; `BENCH_SCALE=0.1` for a quick run.

use std::time::Instant;

use chrono::{Duration, NaiveDate, TimeZone};
use domain::Timestamp;
use domain::occurrence::Place;
use domain::series_detection::{Candidate, DetectionConfig, detect};

const ZONES: &[&str] = &["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"];

fn event(
    organizer: usize,
    rkey: String,
    name: String,
    local: chrono::NaiveDateTime,
    zone: &str,
) -> Candidate {
    let tz = domain::recurrence::time_zone(zone).unwrap();
    let starts_at =
        Timestamp::from_datetime(tz.from_local_datetime(&local).earliest().unwrap().to_utc());
    Candidate {
        uri: format!("at://did:plc:org{organizer}/community.lexicon.calendar.event/{rkey}"),
        description: Some(format!("{name}: talks and pizza, bring a friend.")),
        name,
        starts_at,
        time_zone: Some(zone.to_owned()),
        utc_offset: None,
        places: vec![Place::Address {
            country: "DE".into(),
            postal_code: None,
            region: None,
            locality: Some("Berlin".into()),
            street: Some(format!("Rungestraße {}", organizer % 50)),
            name: None,
        }],
    }
}

fn organizer_events(organizer: usize) -> Vec<Candidate> {
    let zone = ZONES[organizer % ZONES.len()];
    let base =
        NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() + Duration::days((organizer % 7) as i64);
    let mut events = vec![];
    for week in 0..8 {
        let at = (base + Duration::weeks(week))
            .and_hms_opt(18, 0, 0)
            .unwrap();
        events.push(event(
            organizer,
            format!("w{week}"),
            format!("Meetup {organizer} #{week}"),
            at,
            zone,
        ));
    }
    for month in 0..6u32 {
        if month == 3 {
            continue;
        }
        let at = NaiveDate::from_ymd_opt(2026, 2 + month, 10)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        events.push(event(
            organizer,
            format!("m{month}"),
            format!("Lunch talk {organizer} – month {month}"),
            at,
            zone,
        ));
    }
    for fortnight in 0..4 {
        let at = (base + Duration::weeks(2 * fortnight) + Duration::days(2))
            .and_hms_opt(20, 30, 0)
            .unwrap();
        events.push(event(
            organizer,
            format!("b{fortnight}"),
            format!("Board games {organizer} (round {fortnight})"),
            at,
            zone,
        ));
    }
    for one_off in 0..3 {
        let at = (base + Duration::days(11 * one_off + 3))
            .and_hms_opt(9 + one_off as u32, 0, 0)
            .unwrap();
        events.push(event(
            organizer,
            format!("o{one_off}"),
            format!("Special {one_off} at {organizer}"),
            at,
            zone,
        ));
    }
    events
}

/// The event as a network record: no zone, and a place only where the
/// organizer gives one.
fn network_shaped(mut event: Candidate) -> Candidate {
    event.places = match event.time_zone.as_deref() {
        Some("Europe/Berlin") => event.places,
        Some("America/New_York") => vec![Place::Geo {
            latitude: "40.7128".into(),
            longitude: "-74.0060".into(),
            altitude: None,
            name: None,
        }],
        _ => vec![],
    };
    event.time_zone = None;
    event
}

fn main() {
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let organizers = ((5_000.0 * scale) as usize).max(10);
    let named: Vec<Candidate> = (0..organizers).flat_map(organizer_events).collect();
    let network: Vec<Candidate> = named.iter().cloned().map(network_shaped).collect();
    for (what, candidates) in [("records naming their zone", named), ("no zone", network)] {
        run(what, &candidates, organizers, Some(organizers * 3));
    }
    let mut model = vec![];
    for seed in 0.. {
        if model.len() as f64 >= 100_000.0 * scale {
            break;
        }
        let scenario = series_model::scenario(seed);
        model.extend(
            scenario
                .records
                .iter()
                .map(|record| Candidate::from_record(&record.uri, &record.json).unwrap()),
        );
    }
    let dids: std::collections::BTreeSet<&str> = model
        .iter()
        .map(|event| domain::series_detection::organizer_of(&event.uri))
        .collect();
    run("the series model's scenarios", &model, dids.len(), None);
}

fn run(what: &str, candidates: &[Candidate], organizers: usize, series: Option<usize>) {
    let config = DetectionConfig::default();
    println!(
        "== series detection, {} events from {organizers} organizers, {what}, one thread",
        candidates.len()
    );
    for run in 1..=3 {
        let start = Instant::now();
        let proposals = detect(candidates, &config);
        let elapsed = start.elapsed();
        println!(
            "run {run}: {} proposals in {:.3} s = {:.0} events/s",
            proposals.len(),
            elapsed.as_secs_f64(),
            candidates.len() as f64 / elapsed.as_secs_f64()
        );
        if let Some(series) = series {
            assert_eq!(proposals.len(), series, "three series per organizer");
        }
    }
}
