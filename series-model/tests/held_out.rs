//! Series detection scored on 1,000 scenarios drawn from the seeds held
//! out of tuning (issue 42's goals): pairwise F1 at least 0.97, rules
//! exact at least 0.93, and each perturbation's recall at least 0.9.
//! `cargo run -p series-model --release --bin series-score` prints the
//! tables of `docs/series-detection.md`.

#[test]
fn detection_meets_the_goals_on_held_out_seeds() {
    let report = series_model::evaluate(true, 1000).unwrap();
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
