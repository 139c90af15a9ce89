//! Recurrence expansion: wall time across DST, EXDATE and RDATE, the next
//! occurrence after an instant, and the invariants of any expansion.

use domain::Timestamp;
use domain::recurrence::{
    Recurrence, RecurrenceError, format_in_zone, local_or_instant, time_zone,
};
use proptest::prelude::*;

fn berlin(local: &str) -> Timestamp {
    local_or_instant(local, time_zone("Europe/Berlin").unwrap()).unwrap()
}

fn weekly_tuesday(exdates: Vec<Timestamp>, rdates: Vec<Timestamp>) -> Recurrence {
    Recurrence {
        rule: "FREQ=WEEKLY;BYDAY=TU".into(),
        time_zone: "Europe/Berlin".into(),
        starts_at: berlin("2026-03-17T18:00:00"),
        exdates,
        rdates,
    }
}

fn rendered(instants: &[Timestamp]) -> Vec<String> {
    let zone = time_zone("Europe/Berlin").unwrap();
    instants
        .iter()
        .map(|at| format_in_zone(*at, zone))
        .collect()
}

#[test]
fn a_weekly_evening_event_stays_at_18_00_across_the_dst_change() {
    let occurrences = weekly_tuesday(vec![], vec![])
        .schedule()
        .unwrap()
        .first(3)
        .unwrap();
    assert_eq!(
        rendered(&occurrences),
        [
            "2026-03-17T18:00:00+01:00",
            "2026-03-24T18:00:00+01:00",
            "2026-03-31T18:00:00+02:00"
        ]
    );
    assert_eq!(occurrences[2].to_string(), "2026-03-31T16:00:00Z");
}

#[test]
fn exdates_are_skipped_and_rdates_added() {
    let recurrence = weekly_tuesday(
        vec![berlin("2026-03-24T18:00:00")],
        vec![berlin("2026-03-26T19:30:00")],
    );
    let occurrences = recurrence
        .schedule()
        .unwrap()
        .between(berlin("2026-03-17T00:00:00"), berlin("2026-04-01T00:00:00"))
        .unwrap();
    assert_eq!(
        rendered(&occurrences),
        [
            "2026-03-17T18:00:00+01:00",
            "2026-03-26T19:30:00+01:00",
            "2026-03-31T18:00:00+02:00"
        ]
    );
}

#[test]
fn an_rdate_on_a_rule_occurrence_counts_once() {
    let recurrence = weekly_tuesday(vec![], vec![berlin("2026-03-24T18:00:00")]);
    let occurrences = recurrence.schedule().unwrap().first(3).unwrap();
    assert_eq!(
        rendered(&occurrences),
        [
            "2026-03-17T18:00:00+01:00",
            "2026-03-24T18:00:00+01:00",
            "2026-03-31T18:00:00+02:00"
        ]
    );
}

#[test]
fn the_next_occurrence_is_strictly_after_the_instant() {
    let schedule = weekly_tuesday(vec![], vec![]).schedule().unwrap();
    assert_eq!(
        schedule.next_after(berlin("2026-03-20T12:00:00")),
        Some(berlin("2026-03-24T18:00:00"))
    );
    assert_eq!(
        schedule.next_after(berlin("2026-03-24T18:00:00")),
        Some(berlin("2026-03-31T18:00:00"))
    );
    let counted = Recurrence {
        rule: "FREQ=WEEKLY;COUNT=2".into(),
        ..weekly_tuesday(vec![], vec![])
    };
    assert_eq!(
        counted
            .schedule()
            .unwrap()
            .next_after(berlin("2026-03-24T18:00:00")),
        None
    );
}

#[test]
fn monthly_by_weekday_and_last_friday() {
    let second_tuesday = Recurrence {
        rule: "FREQ=MONTHLY;BYDAY=2TU".into(),
        starts_at: berlin("2026-01-13T19:00:00"),
        ..weekly_tuesday(vec![], vec![])
    };
    assert_eq!(
        rendered(&second_tuesday.schedule().unwrap().first(3).unwrap()),
        [
            "2026-01-13T19:00:00+01:00",
            "2026-02-10T19:00:00+01:00",
            "2026-03-10T19:00:00+01:00"
        ]
    );
    let last_friday = Recurrence {
        rule: "RRULE:FREQ=MONTHLY;BYDAY=-1FR".into(),
        starts_at: berlin("2026-01-30T20:00:00"),
        ..weekly_tuesday(vec![], vec![])
    };
    assert_eq!(
        rendered(&last_friday.schedule().unwrap().first(3).unwrap()),
        [
            "2026-01-30T20:00:00+01:00",
            "2026-02-27T20:00:00+01:00",
            "2026-03-27T20:00:00+01:00"
        ]
    );
}

#[test]
fn a_first_monday_read_from_ical_stays_monthly() {
    let first_monday = Recurrence::from_ical(
        "DTSTART;TZID=Europe/Berlin:20260202T144500\nRRULE:FREQ=MONTHLY;BYDAY=1MO",
    )
    .unwrap();
    assert_eq!(first_monday.rule, "FREQ=MONTHLY;BYDAY=1MO");
    assert_eq!(
        rendered(&first_monday.schedule().unwrap().first(3).unwrap()),
        [
            "2026-02-02T14:45:00+01:00",
            "2026-03-02T14:45:00+01:00",
            "2026-04-06T14:45:00+02:00"
        ]
    );
}

#[test]
fn bad_input_names_what_is_wrong() {
    let unknown_zone = Recurrence {
        time_zone: "Mars/Olympus".into(),
        ..weekly_tuesday(vec![], vec![])
    };
    assert_eq!(
        unknown_zone.schedule().err(),
        Some(RecurrenceError::UnknownTimeZone("Mars/Olympus".into()))
    );
    let bad_rule = Recurrence {
        rule: "FREQ=SOMETIMES".into(),
        ..weekly_tuesday(vec![], vec![])
    };
    let err = bad_rule.schedule().err().unwrap();
    assert!(
        err.to_string()
            .starts_with("invalid recurrence rule \"FREQ=SOMETIMES\""),
        "{err}"
    );
    let zone = time_zone("Europe/Berlin").unwrap();
    assert_eq!(
        local_or_instant("2026-03-29T02:30:00", zone)
            .unwrap_err()
            .to_string(),
        "2026-03-29T02:30:00 does not exist in Europe/Berlin (skipped by a daylight saving change)"
    );
    assert!(matches!(
        local_or_instant("next tuesday", zone),
        Err(RecurrenceError::NotADateTime(_))
    ));
}

const RULES: &[&str] = &[
    "FREQ=WEEKLY;BYDAY=TU",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=MONTHLY;BYDAY=2TU",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYMONTHDAY=15",
    "FREQ=WEEKLY;BYDAY=SA;COUNT=20",
];
const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "UTC",
    "Asia/Kolkata",
];

fn recurrence() -> impl Strategy<Value = (Recurrence, Timestamp, Timestamp)> {
    let start = 1_767_225_600i64; // 2026-01-01
    (
        prop::sample::select(RULES),
        prop::sample::select(ZONES),
        0i64..(365 * 86_400),
        prop::collection::vec(0usize..40, 0..5),
        prop::collection::vec(0i64..(400 * 86_400), 0..5),
        0i64..(200 * 86_400),
        1i64..(300 * 86_400),
    )
        .prop_map(
            move |(rule, zone, offset, exdate_picks, rdate_offsets, from, span)| {
                let seconds = |s: i64| Timestamp::from_unix_micros(s * 1_000_000);
                let base = Recurrence {
                    rule: rule.into(),
                    time_zone: zone.into(),
                    starts_at: seconds(start + offset - offset % 60),
                    exdates: vec![],
                    rdates: rdate_offsets
                        .iter()
                        .map(|o| seconds(start + o - o % 60))
                        .collect(),
                };
                // Exclude real occurrences, so EXDATE has something to remove.
                let occurrences = base.schedule().unwrap().first(40).unwrap();
                let exdates = exdate_picks
                    .iter()
                    .filter_map(|n| occurrences.get(*n).copied())
                    .collect();
                let from = seconds(start + from);
                (
                    Recurrence { exdates, ..base },
                    from,
                    seconds(from.as_unix_micros() / 1_000_000 + span),
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn an_expansion_is_sorted_bounded_without_exdates_and_with_rdates((recurrence, from, until) in recurrence()) {
        let expanded = recurrence.schedule().unwrap().between(from, until).unwrap();
        prop_assert!(expanded.windows(2).all(|pair| pair[0] < pair[1]), "sorted, no duplicates");
        prop_assert!(expanded.iter().all(|at| from <= *at && *at <= until), "within bounds");
        for exdate in &recurrence.exdates {
            prop_assert!(!expanded.contains(exdate), "EXDATE {} expanded", exdate);
        }
        for rdate in recurrence.rdates.iter().filter(|at| from <= **at && **at <= until && !recurrence.exdates.contains(at)) {
            prop_assert!(expanded.contains(rdate), "RDATE {} missing", rdate);
        }
    }

    #[test]
    fn the_next_occurrence_is_the_first_of_the_expansion_after_it((recurrence, from, until) in recurrence()) {
        let schedule = recurrence.schedule().unwrap();
        let expanded = schedule.between(from, until).unwrap();
        if let Some(first) = expanded.first() {
            let just_before = Timestamp::from_unix_micros(first.as_unix_micros() - 1);
            prop_assert_eq!(schedule.next_after(just_before), Some(*first));
        }
    }
}

#[test]
fn a_proposed_rule_text_reads_back_as_the_recurrence_it_describes() {
    let text = "DTSTART;TZID=Europe/Berlin:20261103T190000\nRRULE:FREQ=WEEKLY;BYDAY=TU\nEXDATE;TZID=Europe/Berlin:20261117T190000";
    let recurrence = domain::recurrence::Recurrence::from_ical(text).unwrap();
    assert_eq!(recurrence.time_zone, "Europe/Berlin");
    assert_eq!(
        recurrence.starts_at,
        domain::Timestamp::parse_rfc3339("2026-11-03T18:00:00Z").unwrap()
    );
    assert_eq!(
        recurrence.exdates,
        [domain::Timestamp::parse_rfc3339("2026-11-17T18:00:00Z").unwrap()]
    );
    let first: Vec<String> = recurrence
        .schedule()
        .unwrap()
        .first(3)
        .unwrap()
        .iter()
        .map(|t| t.to_datetime().to_rfc3339())
        .collect();
    assert_eq!(
        first,
        [
            "2026-11-03T18:00:00+00:00",
            "2026-11-10T18:00:00+00:00",
            "2026-11-24T18:00:00+00:00"
        ]
    );
}

#[test]
fn a_rule_text_that_is_not_a_rule_is_refused_naming_it() {
    let err = domain::recurrence::Recurrence::from_ical("RRULE:FREQ=SOMETIMES").unwrap_err();
    assert!(err.to_string().contains("FREQ=SOMETIMES"), "{err}");
}
