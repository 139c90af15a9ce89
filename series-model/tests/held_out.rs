//! Series detection scored on 1,000 scenarios drawn from the seeds held
//! out of tuning (issue 42's goals): pairwise F1 at least 0.97, rules
//! exact at least 0.93, and each perturbation's recall at least 0.9.
//! `cargo run -p series-model --release --bin series-score` prints the
//! tables of `docs/series-detection.md`.

use domain::series_detection::{Candidate, DetectionConfig, detect};
use series_model::{is_held_out, scenario, score};

#[test]
fn detection_meets_the_goals_on_held_out_seeds() {
    let scenarios: Vec<_> = (0..)
        .filter(|seed| is_held_out(*seed))
        .take(1000)
        .map(scenario)
        .collect();
    let mut proposals = vec![];
    for scenario in &scenarios {
        let candidates: Vec<Candidate> = scenario
            .records
            .iter()
            .map(|record| Candidate::from_record(&record.uri, &record.json).unwrap())
            .collect();
        proposals.extend(detect(&candidates, &DetectionConfig::default()));
    }
    let report = score(&scenarios, &proposals);
    eprintln!("{}", report.markdown());
    assert!(report.f1() >= 0.97, "F1 {:.3}", report.f1());
    assert!(
        report.all.rules() >= 0.93,
        "rules exact {:.3}",
        report.all.rules()
    );
    for ((by, name), tally) in &report.by {
        if *by == "perturbation" {
            assert!(
                tally.recall() >= 0.9,
                "{name}: recall {:.3}",
                tally.recall()
            );
        }
    }
}
