//! Series detection on a real calendar: the machBar makerspace's Google
//! Calendar export (Potsdam, 2018–2019), expanded into 519 standalone
//! records with UTC times and no zone, as a Bluesky client would publish
//! each occurrence, labelled by their source UIDs (13 series). The data is
//! reference data beside the project (`../shared/real-calendars/`, or
//! `OPENMEET_REAL_CALENDARS`), not part of it. Under `CI=true` a missing
//! file fails the test, naming the folder; elsewhere the test says on
//! stderr that it checked nothing, and passes.
//!
//! Same-name events the source entered one by one
//! (`candidate_series_from_separate_one_offs`, unlabelled) count neither
//! way.
//!
//! And a real feed of one-offs: 100 Dutch data-science events (Meetup.com
//! groups and a university's feed, `ds_calendar/events.json`), published
//! the same way, one organizer per group, must give no series.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use domain::series_detection::{Candidate, DetectionConfig, detect};
use serde_json::Value;

/// A file of the real calendars, when they are beside the project.
fn data(file: &str) -> Option<Value> {
    let dir = std::env::var_os("OPENMEET_REAL_CALENDARS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/real-calendars")
        });
    let path = dir.join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        let missing = format!(
            "{} is not here: the real calendars live in {} (set OPENMEET_REAL_CALENDARS to another folder)",
            path.display(),
            dir.display()
        );
        assert!(!in_ci(), "{missing}");
        // Straight to stderr: libtest hides a passing test's printed output.
        let _ = writeln!(std::io::stderr(), "skipped, nothing checked: {missing}");
        return None;
    };
    Some(serde_json::from_str(&text).unwrap_or_else(|err| panic!("{file}: {err}")))
}

/// Whether this run is CI's, where reference data must be present.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        )
    })
}

fn pairs<'a>(
    groups: impl Iterator<Item = Vec<&'a str>>,
    neutral: &BTreeSet<&str>,
) -> BTreeSet<(&'a str, &'a str)> {
    let mut pairs = BTreeSet::new();
    for group in groups {
        let group: Vec<&str> = group
            .into_iter()
            .filter(|uri| !neutral.contains(uri))
            .collect();
        for (n, a) in group.iter().enumerate() {
            for b in &group[n + 1..] {
                pairs.insert((*a.min(b), *a.max(b)));
            }
        }
    }
    pairs
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

#[test]
fn detection_on_a_real_calendar_published_as_utc_only_records() {
    let Some(data) = data("machbar-expanded.json") else {
        return;
    };
    let candidates: Vec<Candidate> = data["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            // The expansion wrote no `createdAt`, which the lexicon requires
            // and every client writes.
            let mut record = event.clone();
            record["createdAt"] = record["startsAt"].clone();
            Candidate::from_record(event["uri"].as_str().unwrap(), &record.to_string()).unwrap()
        })
        .collect();
    assert!(candidates.iter().all(|c| c.time_zone.is_none()));
    let neutral: BTreeSet<&str> = data["candidate_series_from_separate_one_offs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|series| strings(&series["uris"]))
        .collect();
    let proposals = detect(&candidates, &DetectionConfig::default());
    let found = pairs(
        proposals
            .iter()
            .map(|p| p.uris.iter().map(String::as_str).collect()),
        &neutral,
    );
    let labelled = data["series_by_uid_root"].as_array().unwrap();
    let wanted = pairs(labelled.iter().map(|s| strings(&s["uris"])), &neutral);
    let true_pos = found.intersection(&wanted).count();
    let precision = true_pos as f64 / found.len().max(1) as f64;
    let recall = true_pos as f64 / wanted.len().max(1) as f64;
    let f1 = 2.0 * precision * recall / (precision + recall).max(f64::EPSILON);
    let berlin = proposals
        .iter()
        .filter(|p| p.explanation.zone == "Europe/Berlin")
        .count();
    println!(
        "series detection on the machBar calendar ({} records, {} labelled series): {} proposals, {berlin} in Europe/Berlin; pairwise precision {precision:.3}, recall {recall:.3}, F1 {f1:.3}",
        candidates.len(),
        labelled.len(),
        proposals.len()
    );
    for proposal in &proposals {
        println!(
            "  {} × {:?}: {} ({})",
            proposal.uris.len(),
            proposal.explanation.series_name,
            proposal.explanation.pattern,
            proposal.confidence
        );
    }
    assert_eq!(berlin, proposals.len(), "every address is in Germany");
    assert!(f1 >= 0.8, "F1 {f1:.3} on the real calendar");
}

#[test]
fn a_real_feed_of_one_offs_gives_no_series() {
    let Some(data) = data("ds_calendar/events.json") else {
        return;
    };
    let events = data["events"].as_array().unwrap();
    let candidates: Vec<Candidate> = events
        .iter()
        .enumerate()
        .map(|(n, event)| {
            let zone: chrono_tz::Tz = event["dtstart_params"]
                .as_str()
                .unwrap()
                .trim_start_matches("TZID=")
                .parse()
                .unwrap();
            let local = chrono::NaiveDateTime::parse_from_str(
                event["dtstart"].as_str().unwrap(),
                "%Y%m%dT%H%M%S",
            )
            .unwrap();
            let starts = local.and_local_timezone(zone).earliest().unwrap().to_utc();
            let uri = format!(
                "at://did:web:{}.example/community.lexicon.calendar.event/{n}",
                event["group"].as_str().unwrap()
            );
            let record = serde_json::json!({
                "$type": "community.lexicon.calendar.event",
                "name": event["summary"],
                "createdAt": "2022-12-01T00:00:00.000Z",
                "startsAt": starts.format("%Y-%m-%dT%H:%M:%S.000Z").to_string(),
            });
            Candidate::from_record(&uri, &record.to_string()).unwrap()
        })
        .collect();
    let proposals = detect(&candidates, &DetectionConfig::default());
    println!(
        "series detection on a real feed of one-offs ({} records): {} proposals",
        candidates.len(),
        proposals.len()
    );
    // data-drinks' last Thursdays (three of its four events) are a series
    // its README leaves unlabelled; nothing else is one.
    let elsewhere: Vec<_> = proposals
        .iter()
        .filter(|p| p.organizer != "did:web:data-drinks.example")
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:#?}");
}
