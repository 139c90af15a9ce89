//! `openmeet-sync recurrence expand` prints what python-dateutil computes
//! for the same rule, and names bad input.

use std::process::{Command, Output};

fn expand(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openmeet-sync"))
        .arg("recurrence")
        .arg("expand")
        .args(args)
        .output()
        .unwrap()
}

fn dateutil(dtstart: &str, zone: &str, rule: &str, count: &str, exdates: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/dateutil/expand.py"
        ))
        .args([dtstart, zone, rule, count])
        .args(exdates)
        .output()
        .expect("python3 runs (run scripts/setup.sh)");
    assert!(
        output.status.success(),
        "dateutil: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn our_expansion_matches_python_dateutil() {
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "2026-03-03T18:00:00",
            "Europe/Berlin",
            "FREQ=WEEKLY;BYDAY=TU",
            &["2026-03-10T18:00:00"],
        ),
        (
            "2026-10-01T09:30:00",
            "America/New_York",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
            &[],
        ),
        (
            "2026-01-13T19:00:00",
            "Europe/Berlin",
            "FREQ=MONTHLY;BYDAY=2TU",
            &[],
        ),
        (
            "2026-01-30T20:00:00",
            "Australia/Sydney",
            "FREQ=MONTHLY;BYDAY=-1FR",
            &[],
        ),
        (
            "2026-01-15T12:00:00",
            "UTC",
            "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=5",
            &[],
        ),
        (
            "2026-02-28T23:30:00",
            "Asia/Kolkata",
            "FREQ=DAILY;INTERVAL=3",
            &["2026-03-03T23:30:00"],
        ),
    ];
    for (dtstart, zone, rule, exdates) in cases {
        let mut args = vec![
            "--dtstart",
            dtstart,
            "--tz",
            zone,
            "--rrule",
            rule,
            "--count",
            "30",
        ];
        for exdate in *exdates {
            args.extend(["--exdate", exdate]);
        }
        let ours = expand(&args);
        assert!(
            ours.status.success(),
            "{rule}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        let ours = String::from_utf8(ours.stdout).unwrap();
        assert!(ours.lines().count() >= 5, "{rule}: {ours}");
        assert_eq!(
            ours,
            dateutil(dtstart, zone, rule, "30", exdates),
            "{rule} in {zone}"
        );
    }
}

#[test]
fn an_unknown_zone_or_an_invalid_rule_fails_with_its_name() {
    let zone = expand(&[
        "--dtstart",
        "2026-03-03T18:00:00",
        "--tz",
        "Mars/Base",
        "--rrule",
        "FREQ=WEEKLY",
        "--count",
        "2",
    ]);
    assert!(!zone.status.success());
    assert!(String::from_utf8_lossy(&zone.stderr).contains("unknown time zone \"Mars/Base\""));
    let rule = expand(&[
        "--dtstart",
        "2026-03-03T18:00:00",
        "--tz",
        "UTC",
        "--rrule",
        "FREQ=WEEKLY;BYDAY=XX",
        "--count",
        "2",
    ]);
    assert!(!rule.status.success());
    assert!(
        String::from_utf8_lossy(&rule.stderr)
            .contains("invalid recurrence rule \"FREQ=WEEKLY;BYDAY=XX\"")
    );
}
