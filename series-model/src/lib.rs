//! A seeded model of the series people keep on Bluesky, with ground truth,
//! to score series detection on cases no one wrote by hand (issue 42).
//!
//! Each seed draws one organizer's series: a rule (weekly, every 2–4
//! weeks, monthly on the n-th or last weekday, monthly on a day), a real
//! place (zones of both hemispheres, countries with several zones, with and
//! without a region), a local time (late evenings change the UTC day), a
//! length, then perturbations (skipped dates, holidays, a moved occurrence,
//! a moved and a cancelled one, a late start, name variants, rewritten
//! descriptions, a changed venue, only three events) and noise (one-offs
//! and specials by the same organizer, the same name from another DID, a
//! busy feed of unrelated events). Records are written as a Bluesky client
//! writes them: UTC `startsAt`, no zone, an address, a coordinate or
//! nothing. [`score`] compares what detection proposes with the truth,
//! pairwise and rule by rule, per perturbation.
//!
//! Seeds whose remainder by 3 is 0 are held out of tuning
//! ([`is_held_out`]).

mod generate;
mod places;
mod score;

pub use generate::{Perturbation, Record, RuleKind, Scenario, TrueSeries, scenario};
pub use places::PlaceMode;
pub use score::{Report, Tally, score};

use domain::series_detection::{Candidate, DetectionConfig, detect};

/// Whether `seed` belongs to the third of the seeds kept out of tuning.
pub fn is_held_out(seed: u64) -> bool {
    seed.is_multiple_of(3)
}

/// Draws `count` scenarios from the held-out seeds (or the others), runs
/// detection over their records with the default settings, and scores
/// it; an error names a record detection could not read.
pub fn evaluate(held_out: bool, count: usize) -> Result<Report, String> {
    let scenarios: Vec<Scenario> = (0..)
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
            .collect::<Result<_, _>>()?;
        proposals.extend(detect(&candidates, &DetectionConfig::default()));
    }
    Ok(score(&scenarios, &proposals))
}
