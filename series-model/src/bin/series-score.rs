//! `cargo run -p series-model --release --bin series-score -- [held-out|tuning] [SERIES] [--misses]`:
//! draws SERIES scenarios (1,000 by default) from the seeds held out of
//! tuning (or the others), runs detection over their records and prints
//! the scores per perturbation, rule shape and place, in Markdown.

use domain::series_detection::{Candidate, DetectionConfig, detect};
use series_model::{is_held_out, scenario, score};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let held_out = !args.iter().any(|arg| arg == "tuning");
    let count: usize = match args.iter().find(|arg| arg.parse::<usize>().is_ok()) {
        Some(count) => count.parse()?,
        None => 1000,
    };
    let scenarios: Vec<_> = (0..)
        .filter(|seed| is_held_out(*seed) == held_out)
        .take(count)
        .map(scenario)
        .collect();
    let mut proposals = vec![];
    for scenario in &scenarios {
        let candidates: Vec<Candidate> = scenario
            .records
            .iter()
            .map(|record| Candidate::from_record(&record.uri, &record.json))
            .collect::<Result<_, _>>()
            .map_err(anyhow::Error::msg)?;
        proposals.extend(detect(&candidates, &DetectionConfig::default()));
    }
    let report = score(&scenarios, &proposals);
    println!(
        "## {} seeds\n\n{}",
        if held_out { "Held-out" } else { "Tuning" },
        report.markdown()
    );
    if args.iter().any(|arg| arg == "--misses") {
        for miss in &report.misses {
            println!("{miss}");
        }
    }
    Ok(())
}
