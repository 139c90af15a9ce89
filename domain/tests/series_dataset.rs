//! Series detection scored on the labelled scenarios of
//! `tests/data/series/` (written by `scripts/series-dataset.py`): pairwise
//! precision, recall and F1 over event pairs, and the share of true series
//! whose rule is inferred exactly. The floors are the goals.

use std::collections::BTreeSet;

use domain::series_detection::{Candidate, DetectionConfig, detect};
use serde_json::Value;

struct Scenario {
    name: String,
    candidates: Vec<Candidate>,
    expected: Vec<(Vec<String>, String)>,
}

fn scenarios() -> Vec<Scenario> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/series");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
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

#[test]
fn detection_meets_its_goals_on_the_labelled_scenarios() {
    let scenarios = scenarios();
    assert!(scenarios.len() >= 10, "at least 10 scenarios");
    let (mut true_pos, mut predicted, mut actual) = (0usize, 0usize, 0usize);
    let (mut exact, mut series) = (0usize, 0usize);
    let mut report = vec![];
    for scenario in &scenarios {
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
            let hit = proposals
                .iter()
                .any(|p| p.uris == *uris && p.rrule == *rule);
            exact += usize::from(hit);
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
    let f1 = 2.0 * precision * recall / (precision + recall).max(f64::EPSILON);
    let exact_rate = exact as f64 / series.max(1) as f64;
    println!(
        "series detection on {} scenarios: precision {precision:.3}, recall {recall:.3}, F1 {f1:.3}, rules exact {exact}/{series} ({exact_rate:.3})",
        scenarios.len()
    );
    assert!(
        f1 >= 0.95 && exact_rate >= 0.9,
        "below the floor:\n{}",
        report.join("\n\n")
    );
}
