//! Our lexicon validator and the reference one (`@atproto/lexicon`, run by
//! node) give the same verdict on every record fixture, valid or invalid.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use schemas::Lexicons;
use serde_json::Value;

struct Case {
    name: String,
    nsid: String,
    kind: String,
    value: Value,
    valid: bool,
    line: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cases() -> Vec<Case> {
    let text =
        std::fs::read_to_string(root().join("schemas/tests/fixtures/records.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let case: Value = serde_json::from_str(line).unwrap();
            Case {
                name: case["name"].as_str().unwrap().into(),
                nsid: case["nsid"].as_str().unwrap().into(),
                kind: case["kind"].as_str().unwrap().into(),
                value: case["value"].clone(),
                valid: case["valid"].as_bool().unwrap(),
                line: line.into(),
            }
        })
        .collect()
}

fn our_verdict(case: &Case) -> Result<(), schemas::Invalid> {
    let lexicons = Lexicons::ours();
    if case.kind == "record" {
        lexicons.validate_record(&case.nsid, &case.value)
    } else {
        lexicons.validate(&case.nsid, &case.value)
    }
}

#[test]
fn our_validator_gives_the_expected_verdict_on_every_fixture() {
    let mut wrong = Vec::new();
    for case in cases() {
        let verdict = our_verdict(&case);
        if verdict.is_ok() != case.valid {
            wrong.push(format!(
                "{}: expected valid={}, got {verdict:?}",
                case.name, case.valid
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn borrowed_values_get_the_verdicts_and_messages_of_owned_ones() {
    let lexicons = Lexicons::ours();
    for case in cases() {
        let text = case.value.to_string();
        let borrowed: serde_json_borrow::Value = serde_json::from_str(&text).unwrap();
        let verdict = if case.kind == "record" {
            lexicons.validate_record(&case.nsid, &borrowed)
        } else {
            lexicons.validate(&case.nsid, &borrowed)
        };
        assert_eq!(verdict, our_verdict(&case), "{}", case.name);
    }
}

#[test]
fn a_repeated_key_counts_with_its_last_value_either_way() {
    let text = r#"{"$type": "community.lexicon.calendar.event", "name": 3, "name": "x", "createdAt": "2026-11-01T10:00:00Z"}"#;
    let owned: Value = serde_json::from_str(text).unwrap();
    let borrowed: serde_json_borrow::Value = serde_json::from_str(text).unwrap();
    let nsid = "community.lexicon.calendar.event";
    assert_eq!(Lexicons::ours().validate_record(nsid, &owned), Ok(()));
    assert_eq!(Lexicons::ours().validate_record(nsid, &borrowed), Ok(()));
}

#[test]
fn the_reference_validator_agrees_with_us_on_every_fixture() {
    let script = root().join("tests/lexicon-validator/validate.mjs");
    assert!(
        root()
            .join("tests/lexicon-validator/node_modules/@atproto/lexicon")
            .exists(),
        "the reference validator is not installed: run scripts/setup.sh"
    );
    let cases = cases();
    let mut node = Command::new("node")
        .arg(&script)
        .arg(root().join("schemas/lexicons"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (run scripts/setup.sh)");
    let mut stdin = node.stdin.take().unwrap();
    for case in &cases {
        writeln!(stdin, "{}", case.line).unwrap();
    }
    drop(stdin);
    let output = node.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdicts: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(verdicts.len(), cases.len());

    let mut wrong = Vec::new();
    for (case, reference) in cases.iter().zip(&verdicts) {
        let ours = our_verdict(case);
        if reference["ok"].as_bool() != Some(ours.is_ok()) || ours.is_ok() != case.valid {
            wrong.push(format!(
                "{}: expected {}, reference {reference}, ours {ours:?}",
                case.name, case.valid
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn an_invalid_record_names_the_field_and_why() {
    let record = serde_json::json!({
        "$type": "community.lexicon.calendar.event",
        "name": "x",
        "createdAt": "2026-11-01T10:00:00Z",
        "locations": [{"$type": "community.lexicon.location.address", "country": "D"}],
    });
    let err = Lexicons::ours()
        .validate_record("community.lexicon.calendar.event", &record)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "record/locations/0/country must not be shorter than 2 characters"
    );
}
