//! `openmeet-sync series detect` proposes the labelled series of a
//! scenario file and names the records it cannot use.

use std::process::Command;

use serde_json::{Value, json};

fn detect(input: &std::path::Path) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .args(["series", "detect", "--input"])
        .arg(input)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_scenario_s_series_is_proposed_and_unusable_records_are_listed() {
    let scenario: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/series/monthly-last-friday.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut events = scenario["events"].as_array().unwrap().clone();
    events.push(json!({"uri": "at://did:plc:pubquiz/community.lexicon.calendar.event/x", "name": "Pub Quiz", "createdAt": "2026-01-01T00:00:00Z"}));
    let dir = std::env::temp_dir().join(format!("series-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("events.json");
    std::fs::write(&input, Value::Array(events).to_string()).unwrap();

    let (ok, stdout, stderr) = detect(&input);
    assert!(ok, "{stderr}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    let expected = &scenario["expected"][0];
    assert_eq!(printed["series"].as_array().unwrap().len(), 1, "{stdout}");
    assert_eq!(printed["series"][0]["uris"], expected["uris"]);
    assert_eq!(printed["series"][0]["rrule"], expected["rrule"]);
    assert_eq!(
        printed["series"][0]["explanation"]["pattern"],
        "monthly on the last Friday"
    );
    assert_eq!(
        printed["skipped"][0]["reason"],
        "record at://did:plc:pubquiz/community.lexicon.calendar.event/x: has no startsAt"
    );

    std::fs::write(&input, "{\"not\": \"an array\"}").unwrap();
    let (ok, _, stderr) = detect(&input);
    assert!(!ok);
    assert!(
        stderr.contains("is not a JSON array of records"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
