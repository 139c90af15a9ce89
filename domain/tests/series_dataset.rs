//! Series detection scored on labelled scenarios: pairwise precision,
//! recall and F1 over event pairs, and the share of true series whose rule
//! is inferred exactly. Two sets: `tests/data/series/` (records that name
//! their zone, `scripts/series-dataset.py`) and `tests/data/series-network/`
//! (records as the network writes them: UTC times, no zone,
//! `scripts/series-network-dataset.py`), whose `holdout-*` scenarios were
//! kept out of tuning and are scored apart. The floors are the issues'
//! goals.

use std::collections::BTreeSet;

use domain::series_detection::{Candidate, DetectionConfig, detect};
use serde_json::Value;

struct Scenario {
    name: String,
    candidates: Vec<Candidate>,
    expected: Vec<(Vec<String>, String)>,
}

/// The scenarios of `tests/data/{set}` whose file names pass `keep`.
fn scenarios(set: &str, keep: impl Fn(&str) -> bool) -> Vec<Scenario> {
    let dir = format!("{}/../tests/data/{set}", env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| keep(&path.file_name().unwrap().to_string_lossy()))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let candidates = doc["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|event| {
                    Candidate::from_record(event["uri"].as_str().unwrap(), &event.to_string())
                        .unwrap()
                })
                .collect();
            let expected = doc["expected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|series| {
                    let uris = series["uris"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|uri| uri.as_str().unwrap().to_owned())
                        .collect();
                    (uris, series["rrule"].as_str().unwrap().to_owned())
                })
                .collect();
            Scenario {
                name: doc["scenario"].as_str().unwrap().to_owned(),
                candidates,
                expected,
            }
        })
        .collect()
}

fn pairs(groups: &[Vec<String>]) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for group in groups {
        for (n, a) in group.iter().enumerate() {
            for b in &group[n + 1..] {
                pairs.insert((a.min(b).clone(), a.max(b).clone()));
            }
        }
    }
    pairs
}

/// A rule with its dates as UTC instants: a zone inferred from times alone
/// may be another zone with the same daylight-saving dates (Chicago for New
/// York when nothing says where), whose rule is the same rule. The RRULE
/// line must still match, so a weekday read in the wrong zone is a miss.
fn normalised(rule: &str) -> Vec<String> {
    rule.lines()
        .map(|line| {
            let Some((head, value)) = line.split_once(':') else {
                return line.to_owned();
            };
            let Some((kind, zone)) = head.split_once(";TZID=") else {
                return line.to_owned();
            };
            let zone: chrono_tz::Tz = zone.parse().unwrap();
            let instants: Vec<String> = value
                .split(',')
                .map(|local| {
                    let local =
                        chrono::NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").unwrap();
                    local
                        .and_local_timezone(zone)
                        .earliest()
                        .unwrap()
                        .to_utc()
                        .format("%Y%m%dT%H%M%SZ")
                        .to_string()
                })
                .collect();
            format!("{kind}:{}", instants.join(","))
        })
        .collect()
}

struct Score {
    precision: f64,
    recall: f64,
    f1: f64,
    exact: usize,
    series: usize,
    zones: usize,
    report: Vec<String>,
}

impl Score {
    fn exact_rate(&self) -> f64 {
        self.exact as f64 / self.series.max(1) as f64
    }

    fn line(&self, what: &str, scenarios: usize) -> String {
        format!(
            "series detection, {what}, {scenarios} scenarios: precision {:.3}, recall {:.3}, F1 {:.3}, rules exact {}/{} ({:.3}), zones named exactly {}/{}",
            self.precision,
            self.recall,
            self.f1,
            self.exact,
            self.series,
            self.exact_rate(),
            self.zones,
            self.series
        )
    }
}

fn score(scenarios: &[Scenario]) -> Score {
    let (mut true_pos, mut predicted, mut actual) = (0usize, 0usize, 0usize);
    let (mut exact, mut series, mut zones) = (0usize, 0usize, 0usize);
    let mut report = vec![];
    for scenario in scenarios {
        let proposals = detect(&scenario.candidates, &DetectionConfig::default());
        let found: Vec<Vec<String>> = proposals.iter().map(|p| p.uris.clone()).collect();
        let wanted: Vec<Vec<String>> = scenario
            .expected
            .iter()
            .map(|(uris, _)| uris.clone())
            .collect();
        let (found_pairs, wanted_pairs) = (pairs(&found), pairs(&wanted));
        true_pos += found_pairs.intersection(&wanted_pairs).count();
        predicted += found_pairs.len();
        actual += wanted_pairs.len();
        for (uris, rule) in &scenario.expected {
            series += 1;
            let same_members = proposals.iter().find(|p| p.uris == *uris);
            let hit = same_members.is_some_and(|p| normalised(&p.rrule) == normalised(rule));
            exact += usize::from(hit);
            zones += usize::from(same_members.is_some_and(|p| p.rrule == *rule));
            if !hit {
                report.push(format!(
                    "{}: expected {uris:?}\n{rule}\nfound {proposals:#?}",
                    scenario.name
                ));
            }
        }
        if found_pairs != wanted_pairs && scenario.expected.is_empty() {
            report.push(format!(
                "{}: expected nothing, found {proposals:#?}",
                scenario.name
            ));
        }
    }
    let precision = true_pos as f64 / predicted.max(1) as f64;
    let recall = true_pos as f64 / actual.max(1) as f64;
    Score {
        precision,
        recall,
        f1: 2.0 * precision * recall / (precision + recall).max(f64::EPSILON),
        exact,
        series,
        zones,
        report,
    }
}

/// Scores a set and holds it to F1 `f1` and `exact` of the rules exact.
fn assert_goals(
    set: &str,
    what: &str,
    keep: impl Fn(&str) -> bool,
    at_least: usize,
    (f1, exact): (f64, f64),
) {
    let scenarios = scenarios(set, keep);
    assert!(scenarios.len() >= at_least, "at least {at_least} scenarios");
    let score = score(&scenarios);
    println!("{}", score.line(what, scenarios.len()));
    assert!(
        score.f1 >= f1 && score.exact_rate() >= exact,
        "{}: below the floor:\n{}",
        score.line(what, scenarios.len()),
        score.report.join("\n\n")
    );
}

/// The goals: pairwise F1 0.95, rules exact 90 %.
const GOALS: (f64, f64) = (0.95, 0.9);

#[test]
fn detection_meets_its_goals_on_the_labelled_scenarios() {
    assert_goals("series", "records naming their zone", |_| true, 10, GOALS);
}

#[test]
fn detection_meets_its_goals_on_records_shaped_like_the_network() {
    assert_goals(
        "series-network",
        "UTC-only records, tuning set",
        |name| !name.starts_with("holdout-"),
        6,
        GOALS,
    );
}

/// Scored once, after the tuning: F1 1.000 and 3 of 4 rules exact. The
/// miss is a virtual weekly Saturday 10:00 in Auckland with no location:
/// Santiago ends its daylight saving on the same April date, so the times
/// alone fit both, and Friday 18:00 in Santiago came first. Held to the
/// F1 goal, and to the rules it met, so that it cannot fall back unseen.
#[test]
fn detection_on_held_out_records_shaped_like_the_network() {
    assert_goals(
        "series-network",
        "UTC-only records, held out",
        |name| name.starts_with("holdout-"),
        4,
        (0.95, 0.75),
    );
}
