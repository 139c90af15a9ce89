//! The model's truth agrees with its records: each true series' rule,
//! expanded by the `rrule` crate between its first and last member, gives
//! exactly its members' start times; and a seed always draws the same
//! scenario.

use std::collections::BTreeMap;

use domain::Timestamp;
use domain::recurrence::Recurrence;
use series_model::scenario;

fn starts(records: &[series_model::Record]) -> BTreeMap<String, Timestamp> {
    records
        .iter()
        .map(|record| {
            let value: serde_json::Value = serde_json::from_str(&record.json).unwrap();
            let at = Timestamp::parse_rfc3339(value["startsAt"].as_str().unwrap()).unwrap();
            (record.uri.clone(), at)
        })
        .collect()
}

#[test]
fn each_true_rule_gives_exactly_its_members() {
    for seed in 0..600 {
        let scenario = scenario(seed);
        let starts = starts(&scenario.records);
        for series in &scenario.series {
            let mut members: Vec<Timestamp> = series.uris.iter().map(|uri| starts[uri]).collect();
            members.sort();
            let expanded = Recurrence::from_ical(&series.rrule)
                .unwrap()
                .schedule()
                .unwrap()
                .between(members[0], *members.last().unwrap())
                .unwrap();
            assert_eq!(expanded, members, "seed {seed}: {:?}", series.rrule);
            assert_eq!(series.last, *members.last().unwrap());
            assert!(series.uris.len() >= 3, "seed {seed}");
        }
    }
}

#[test]
fn a_seed_draws_the_same_scenario() {
    let (a, b) = (scenario(42), scenario(42));
    let uris = |s: &series_model::Scenario| -> Vec<(String, String)> {
        s.records
            .iter()
            .map(|r| (r.uri.clone(), r.json.clone()))
            .collect()
    };
    assert_eq!(uris(&a), uris(&b));
    assert_ne!(uris(&a), uris(&scenario(43)));
}
