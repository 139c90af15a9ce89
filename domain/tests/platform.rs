//! OpenMeet's own series, as its backend sends them, into the series
//! decider's command; each bad field refused by name.

use chrono::{Datelike, Timelike, Weekday};
use domain::decider::Decider;
use domain::identity::UserId;
use domain::occurrence::{Link, Mode, Occurrence, OccurrenceCommand, Place, Status};
use domain::platform::{
    EventDraft, EventPatch, MAX_DESCRIPTION, RecurrenceRule, Refused, SeriesDraft, SeriesPatch,
    already_created, already_scheduled, cancel_occurrence, create_series, edit_event, edit_series,
    move_occurrence, occurrence_id, schedule_event, series_id, visibility,
};
use domain::publishing::{BlueskySettingsChanged, Owned, Visibility, series_occurrence};
use domain::series::{Series, SeriesCommand};
use domain::sharing::{Shareable, SharingCommand, SharingError};
use domain::{DomainEvent, Timestamp};
use proptest::prelude::*;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// A weekly meetup on Tuesdays at 18:00 in Berlin, as OpenMeet sends it.
fn weekly_meetup() -> SeriesDraft {
    SeriesDraft {
        openmeet_id: "series-42".into(),
        name: "Rust Meetup Berlin".into(),
        slug: None,
        description: Some("Talks and pizza".into()),
        time_zone: Some("Europe/Berlin".into()),
        recurrence_rule: RecurrenceRule {
            frequency: "WEEKLY".into(),
            byweekday: vec!["TU".into()],
            ..RecurrenceRule::default()
        },
        template_start_date: "2026-12-01T18:00:00".into(),
        template_end_date: Some("2026-12-01T20:00:00".into()),
        template_type: "hybrid".into(),
        template_location: Some("c-base, Rungestraße 20, Berlin".into()),
        template_location_online: Some("https://meet.example/rust".into()),
        visibility: None,
    }
}

fn created(draft: &SeriesDraft) -> (SeriesCommand, Series) {
    let command = create_series(draft, at("2026-11-01T10:00:00Z")).unwrap();
    let events = Series::default()
        .decide(&command, at("2026-11-01T10:00:00Z"))
        .unwrap();
    let state = events
        .iter()
        .fold(Series::default(), |state, event| state.evolve(event));
    (command, state)
}

/// One field of a draft changed.
type Change = Box<dyn Fn(&mut SeriesDraft)>;
/// One field of an event's draft changed.
type EventChange = Box<dyn Fn(&mut EventDraft)>;

fn refusal(draft: SeriesDraft) -> Refused {
    create_series(&draft, at("2026-11-01T10:00:00Z")).unwrap_err()
}

#[test]
fn a_weekly_series_from_openmeet_becomes_a_series_of_its_own_id_with_its_rule_zone_and_places() {
    let (command, state) = created(&weekly_meetup());
    let Series::Active {
        id,
        slug,
        details,
        recurrence,
        origin,
    } = state
    else {
        panic!("{command:?}")
    };
    assert_eq!(id, series_id("series-42"));
    assert!(slug.starts_with("rust-meetup-berlin-"), "{slug}");
    assert_eq!(recurrence.rule, "FREQ=WEEKLY;BYDAY=TU");
    assert_eq!(recurrence.time_zone, "Europe/Berlin");
    assert_eq!(recurrence.starts_at, at("2026-12-01T17:00:00Z"));
    assert_eq!(details.ends_at, Some(at("2026-12-01T19:00:00Z")));
    assert_eq!(details.mode, Some(Mode::Hybrid));
    assert!(
        matches!(&details.places[0], Place::Address { country, name: Some(name), .. }
        if country == "ZZ" && name.starts_with("c-base"))
    );
    assert!(
        matches!(&details.places[1], Place::Online(link) if link.uri == "https://meet.example/rust")
    );
    assert_eq!(origin, domain::Origin::OpenMeet);
}

#[test]
fn until_as_a_date_ends_the_series_at_the_end_of_that_day_where_it_takes_place() {
    let mut draft = weekly_meetup();
    draft.recurrence_rule.until = Some("2026-12-15".into());
    let (_, state) = created(&draft);
    let Series::Active { recurrence, .. } = state else {
        panic!()
    };
    assert_eq!(
        recurrence.rule,
        "FREQ=WEEKLY;UNTIL=20261215T225959Z;BYDAY=TU"
    );
    let all = recurrence.schedule().unwrap().first(10).unwrap();
    assert_eq!(
        all,
        [
            at("2026-12-01T17:00:00Z"),
            at("2026-12-08T17:00:00Z"),
            at("2026-12-15T17:00:00Z")
        ]
    );
}

#[test]
fn monthly_rules_take_ordinal_weekdays_days_of_the_month_and_months() {
    let mut draft = weekly_meetup();
    draft.recurrence_rule = RecurrenceRule {
        frequency: "MONTHLY".into(),
        interval: Some(2),
        count: Some(6),
        byweekday: vec!["-1FR".into()],
        bymonth: vec![1, 3, 5, 7, 9, 11],
        ..RecurrenceRule::default()
    };
    draft.template_start_date = "2027-01-29T19:00:00".into();
    draft.template_end_date = None;
    let (_, state) = created(&draft);
    let Series::Active { recurrence, .. } = state else {
        panic!()
    };
    assert_eq!(
        recurrence.rule,
        "FREQ=MONTHLY;INTERVAL=2;COUNT=6;BYDAY=-1FR;BYMONTH=1,3,5,7,9,11"
    );
    assert_eq!(recurrence.schedule().unwrap().first(10).unwrap().len(), 6);
}

#[test]
fn every_bad_field_is_refused_by_its_name() {
    let with = |change: &dyn Fn(&mut SeriesDraft)| {
        let mut draft = weekly_meetup();
        change(&mut draft);
        refusal(draft).field
    };
    let cases: Vec<(&str, Change)> = vec![
        ("id", Box::new(|d| d.openmeet_id = " ".into())),
        ("name", Box::new(|d| d.name = "  ".into())),
        ("name", Box::new(|d| d.name = "Rust\0Meetup".into())),
        (
            "description",
            Box::new(|d| d.description = Some("x".repeat(1 << 20))),
        ),
        (
            "timeZone",
            Box::new(|d| d.time_zone = Some("Mars/Olympus".into())),
        ),
        (
            "templateStartDate",
            Box::new(|d| d.template_start_date = "next tuesday".into()),
        ),
        (
            "templateEndDate",
            Box::new(|d| d.template_end_date = Some("2026-12-01T17:00:00".into())),
        ),
        (
            "templateType",
            Box::new(|d| d.template_type = "in-space".into()),
        ),
        (
            "templateLocationOnline",
            Box::new(|d| d.template_location_online = Some("javascript:alert(1)".into())),
        ),
        (
            "recurrenceRule.frequency",
            Box::new(|d| d.recurrence_rule.frequency = "HOURLY".into()),
        ),
        (
            "recurrenceRule.interval",
            Box::new(|d| d.recurrence_rule.interval = Some(0)),
        ),
        (
            "recurrenceRule.count",
            Box::new(|d| d.recurrence_rule.count = Some(20_000)),
        ),
        (
            "recurrenceRule.until",
            Box::new(|d| d.recurrence_rule.until = Some("2026-11-30".into())),
        ),
        (
            "recurrenceRule.byweekday[1]",
            Box::new(|d| d.recurrence_rule.byweekday = vec!["TU".into(), "XX".into()]),
        ),
        (
            "recurrenceRule.byweekday[0]",
            Box::new(|d| d.recurrence_rule.byweekday = vec!["0MO".into()]),
        ),
        (
            "recurrenceRule.bymonthday[0]",
            Box::new(|d| d.recurrence_rule.bymonthday = vec![32]),
        ),
        (
            "recurrenceRule.bymonth[0]",
            Box::new(|d| d.recurrence_rule.bymonth = vec![13]),
        ),
        ("slug", Box::new(|d| d.slug = Some("Not A Slug".into()))),
        (
            "recurrenceRule",
            Box::new(|d| {
                d.recurrence_rule = RecurrenceRule {
                    frequency: "DAILY".into(),
                    until: Some("2060-01-01".into()),
                    ..RecurrenceRule::default()
                }
            }),
        ),
    ];
    for (field, change) in cases {
        assert_eq!(with(&*change), field);
    }
    let mut long = weekly_meetup();
    long.description = Some("x".repeat(MAX_DESCRIPTION + 1));
    assert!(refusal(long).reason.contains("more than the 30000 allowed"));
}

#[test]
fn a_rule_that_never_happens_is_refused() {
    let mut draft = weekly_meetup();
    draft.recurrence_rule = RecurrenceRule {
        frequency: "YEARLY".into(),
        count: Some(3),
        bymonth: vec![2],
        bymonthday: vec![30],
        ..RecurrenceRule::default()
    };
    let refused = refusal(draft);
    assert_eq!(refused.field, "recurrenceRule", "{refused}");
}

#[test]
fn the_same_creation_again_finds_the_first_series_and_another_under_its_id_does_not() {
    let draft = weekly_meetup();
    let (_, state) = created(&draft);
    let again = create_series(&draft, at("2026-11-02T09:00:00Z")).unwrap();
    assert!(already_created(&state, &again), "a retry, a day later");
    let mut renamed = draft.clone();
    renamed.name = "Rust Meetup Potsdam".into();
    renamed.slug = Some("rust-meetup-berlin".into());
    let other = create_series(&renamed, at("2026-11-02T09:00:00Z")).unwrap();
    assert!(!already_created(&state, &other));
    assert!(!already_created(&Series::Absent, &again));
}

#[test]
fn decided_events_are_one_series_created() {
    let (command, _) = created(&weekly_meetup());
    let events = Series::default()
        .decide(&command, at("2026-11-01T10:00:00Z"))
        .unwrap();
    assert!(matches!(events.as_slice(), [DomainEvent::SeriesCreated(_)]));
}

const DAYS: [(&str, Weekday); 7] = [
    ("MO", Weekday::Mon),
    ("TU", Weekday::Tue),
    ("WE", Weekday::Wed),
    ("TH", Weekday::Thu),
    ("FR", Weekday::Fri),
    ("SA", Weekday::Sat),
    ("SU", Weekday::Sun),
];

proptest! {
    /// Any weekly rule OpenMeet sends, with a count, yields exactly that
    /// many occurrences, each on one of its weekdays at the start's wall
    /// time where the series takes place.
    #[test]
    fn a_weekly_rule_yields_its_count_on_its_weekdays_at_its_wall_time(
        days in proptest::sample::subsequence(DAYS.to_vec(), 1..=7),
        count in 1u32..60,
        interval in 1u32..4,
        day in 1u32..28,
        hour in 6u32..22,
        zone in proptest::sample::select(vec!["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]),
    ) {
        let mut draft = weekly_meetup();
        draft.time_zone = Some(zone.into());
        draft.template_start_date = format!("2027-03-{day:02}T{hour:02}:30:00");
        draft.template_end_date = None;
        draft.recurrence_rule = RecurrenceRule {
            frequency: "WEEKLY".into(),
            interval: Some(interval),
            count: Some(count),
            byweekday: days.iter().map(|(name, _)| (*name).to_owned()).collect(),
            ..RecurrenceRule::default()
        };
        let (_, state) = created(&draft);
        let Series::Active { recurrence, .. } = state else { panic!() };
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let all = recurrence.schedule().unwrap().first(200).unwrap();
        prop_assert_eq!(all.len(), count as usize);
        for occurrence in all {
            let local = occurrence.to_datetime().with_timezone(&tz);
            prop_assert!(days.iter().any(|(_, weekday)| *weekday == local.weekday()));
            prop_assert_eq!((local.hour(), local.minute()), (hour, 30));
        }
    }
}

/// A launch party in Berlin, as OpenMeet sends a standalone event.
fn launch_party() -> EventDraft {
    EventDraft {
        openmeet_id: "event-7".into(),
        name: "Launch party".into(),
        description: None,
        time_zone: Some("Europe/Berlin".into()),
        start_date: "2026-12-10T19:00:00".into(),
        end_date: Some("2026-12-10T23:00:00".into()),
        kind: "in-person".into(),
        location: Some("c-base".into()),
        location_online: None,
        lat: Some(52.513),
        lon: Some(13.42),
        status: Some("published".into()),
        visibility: None,
    }
}

#[test]
fn a_standalone_event_is_scheduled_under_its_own_id_at_its_coordinates() {
    let command = schedule_event(&launch_party(), at("2026-11-01T10:00:00Z")).unwrap();
    let OccurrenceCommand::Schedule {
        occurrence_id: id,
        series_id,
        details,
    } = &command
    else {
        panic!("{command:?}")
    };
    assert_eq!(*id, occurrence_id("event-7"));
    assert_eq!(*series_id, None);
    assert_eq!(details.starts_at, Some(at("2026-12-10T18:00:00Z")));
    assert_eq!(details.status, Some(Status::Scheduled));
    assert!(
        matches!(&details.places[0], Place::Geo { latitude, longitude, name: Some(name), .. }
        if latitude == "52.513" && longitude == "13.42" && name == "c-base")
    );
    let events = Occurrence::default()
        .decide(&command, at("2026-11-01T10:00:00Z"))
        .unwrap();
    let state = events
        .iter()
        .fold(Occurrence::default(), |state, event| state.evolve(event));
    let again = schedule_event(&launch_party(), at("2026-11-05T10:00:00Z")).unwrap();
    assert!(already_scheduled(&state, &again), "a retry, days later");
    let mut moved = launch_party();
    moved.start_date = "2026-12-11T19:00:00".into();
    moved.end_date = Some("2026-12-11T23:00:00".into());
    let other = schedule_event(&moved, at("2026-11-05T10:00:00Z")).unwrap();
    assert!(!already_scheduled(&state, &other));
}

#[test]
fn an_event_s_bad_fields_are_refused_by_their_names() {
    let cases: Vec<(&str, EventChange)> = vec![
        ("lat", Box::new(|d| d.lat = Some(91.0))),
        ("lon", Box::new(|d| d.lon = Some(-181.0))),
        ("lon", Box::new(|d| d.lon = None)),
        ("status", Box::new(|d| d.status = Some("maybe".into()))),
        ("type", Box::new(|d| d.kind = "somewhere".into())),
        (
            "endDate",
            Box::new(|d| d.end_date = Some("2026-12-10T18:00:00".into())),
        ),
        (
            "startDate",
            Box::new(|d| d.start_date = "2026-03-29T02:30:00".into()),
        ),
        (
            "locationOnline",
            Box::new(|d| d.location_online = Some("ftp://x".into())),
        ),
    ];
    for (field, change) in cases {
        let mut draft = launch_party();
        change(&mut draft);
        let refused = schedule_event(&draft, at("2026-11-01T10:00:00Z")).unwrap_err();
        assert_eq!(refused.field, field, "{refused}");
    }
}

fn patched(patch: SeriesPatch) -> Vec<SeriesCommand> {
    let (_, state) = created(&weekly_meetup());
    edit_series(&state, &patch).unwrap()
}

#[test]
fn a_new_name_edits_the_content_and_leaves_the_recurrence() {
    let commands = patched(SeriesPatch {
        name: Some("Rust Meetup Berlin-Mitte".into()),
        ..SeriesPatch::default()
    });
    assert!(
        matches!(commands.as_slice(), [SeriesCommand::Edit(details)] if details.name == "Rust Meetup Berlin-Mitte")
    );
}

#[test]
fn a_new_rule_changes_the_recurrence_alone_and_a_new_start_both() {
    let rule = patched(SeriesPatch {
        recurrence_rule: Some(RecurrenceRule {
            frequency: "WEEKLY".into(),
            interval: Some(2),
            byweekday: vec!["TU".into()],
            ..RecurrenceRule::default()
        }),
        ..SeriesPatch::default()
    });
    assert!(
        matches!(rule.as_slice(), [SeriesCommand::ChangeRecurrence(r)] if r.rule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU")
    );
    let moved = patched(SeriesPatch {
        template_start_date: Some("2026-12-02T18:00:00".into()),
        template_end_date: Some("2026-12-02T20:00:00".into()),
        recurrence_rule: Some(RecurrenceRule {
            frequency: "WEEKLY".into(),
            byweekday: vec!["WE".into()],
            ..RecurrenceRule::default()
        }),
        ..SeriesPatch::default()
    });
    match moved.as_slice() {
        [
            SeriesCommand::Edit(details),
            SeriesCommand::ChangeRecurrence(recurrence),
        ] => {
            assert_eq!(details.starts_at, Some(at("2026-12-02T17:00:00Z")));
            assert_eq!(recurrence.starts_at, at("2026-12-02T17:00:00Z"));
            assert_eq!(recurrence.rule, "FREQ=WEEKLY;BYDAY=WE");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_patch_that_changes_nothing_records_nothing_and_a_bad_field_is_named() {
    assert_eq!(patched(SeriesPatch::default()), vec![]);
    assert_eq!(
        patched(SeriesPatch {
            name: Some("Rust Meetup Berlin".into()),
            time_zone: Some("Europe/Berlin".into()),
            ..SeriesPatch::default()
        }),
        vec![]
    );
    let (_, state) = created(&weekly_meetup());
    let bad = |patch: SeriesPatch| edit_series(&state, &patch).unwrap_err().field;
    assert_eq!(
        bad(SeriesPatch {
            time_zone: Some("Mars/Olympus".into()),
            ..SeriesPatch::default()
        }),
        "timeZone"
    );
    assert_eq!(
        bad(SeriesPatch {
            template_end_date: Some("2026-12-01T17:00:00".into()),
            ..SeriesPatch::default()
        }),
        "templateEndDate"
    );
    assert_eq!(
        edit_series(&Series::Absent, &SeriesPatch::default())
            .unwrap_err()
            .field,
        "slug"
    );
}

/// The weekly meetup, created, and the occurrence of it on 8 December
/// (19:00 Berlin), as its stream holds it before anything was asked of it.
fn second_tuesday() -> (Series, &'static str, Occurrence) {
    (
        created(&weekly_meetup()).1,
        "2026-12-08T18:00:00",
        Occurrence::Absent,
    )
}

/// `commands` carried out one after another on `occurrence`.
fn carried_out(occurrence: Occurrence, commands: &[OccurrenceCommand]) -> Occurrence {
    commands.iter().fold(occurrence, |state, command| {
        let events = state.decide(command, at("2026-11-02T10:00:00Z")).unwrap();
        events
            .iter()
            .fold(state, |state, event| state.evolve(event))
    })
}

#[test]
fn cancelling_one_occurrence_schedules_it_at_its_slot_then_cancels_it() {
    let (series, start, occurrence) = second_tuesday();
    let (id, commands) =
        cancel_occurrence(&series, start, &occurrence, Some("venue closed")).unwrap();
    assert_eq!(
        id,
        series_occurrence(series_id("series-42"), at("2026-12-08T17:00:00Z"))
    );
    let Occurrence::Cancelled { details, .. } = carried_out(occurrence, &commands) else {
        panic!("{commands:?}")
    };
    assert_eq!(details.starts_at, Some(at("2026-12-08T17:00:00Z")));
    assert_eq!(details.ends_at, Some(at("2026-12-08T19:00:00Z")));
    assert_eq!(details.name, "Rust Meetup Berlin");
}

#[test]
fn moving_one_occurrence_keeps_its_length_and_its_id() {
    let (series, start, occurrence) = second_tuesday();
    let (id, commands) =
        move_occurrence(&series, start, &occurrence, "2026-12-10T18:30:00", None).unwrap();
    let moved = carried_out(occurrence, &commands);
    let details = moved.details().unwrap();
    assert_eq!(details.starts_at, Some(at("2026-12-10T17:30:00Z")));
    assert_eq!(details.ends_at, Some(at("2026-12-10T19:30:00Z")));
    let (again, commands) = move_occurrence(
        &series,
        start,
        &moved,
        "2026-12-11T18:30:00",
        Some("2026-12-11T19:00:00"),
    )
    .unwrap();
    assert_eq!(again, id, "still named by its slot");
    assert!(
        matches!(&commands[..], [OccurrenceCommand::Edit(_)]),
        "scheduled once"
    );
    let details = carried_out(moved, &commands).details().cloned().unwrap();
    assert_eq!(details.ends_at, Some(at("2026-12-11T18:00:00Z")));
}

#[test]
fn one_occurrence_is_named_by_a_start_on_the_rule() {
    let (series, _, occurrence) = second_tuesday();
    for (start, why) in [
        ("2026-12-09T18:00:00", "not when an occurrence"),
        ("next tuesday", "start"),
    ] {
        let refusal = cancel_occurrence(&series, start, &occurrence, None).unwrap_err();
        assert_eq!(refusal.field, "start");
        assert!(refusal.to_string().contains(why), "{refusal}");
    }
    let refusal = move_occurrence(
        &series,
        "2026-12-08T18:00:00",
        &occurrence,
        "2026-12-10T18:30:00",
        Some("2026-12-10T17:00:00"),
    )
    .unwrap_err();
    assert_eq!(refusal.field, "endDate");
}

#[test]
fn a_deleted_series_takes_no_more_edits_and_a_second_deletion_records_nothing() {
    let (_, series) = created(&weekly_meetup());
    let now = at("2026-11-02T10:00:00Z");
    let events = series.decide(&SeriesCommand::Delete, now).unwrap();
    assert!(matches!(&events[..], [DomainEvent::SeriesDeleted(_)]));
    let deleted = series.evolve(&events[0]);
    assert_eq!(deleted.decide(&SeriesCommand::Delete, now), Ok(vec![]));
    let patch = SeriesPatch {
        name: Some("Renamed".into()),
        ..SeriesPatch::default()
    };
    assert_eq!(edit_series(&deleted, &patch).unwrap_err().field, "slug");
    assert!(cancel_occurrence(&deleted, "2026-12-08T18:00:00", &Occurrence::Absent, None).is_err());
}

#[test]
fn an_event_edit_changes_times_place_mode_and_links_and_a_cancelled_status_cancels_it() {
    let command = schedule_event(&launch_party(), at("2026-11-01T10:00:00Z")).unwrap();
    let event = carried_out(Occurrence::Absent, &[command]);
    let patch = EventPatch {
        start_date: Some("2026-12-11T19:00:00".into()),
        end_date: Some("2026-12-11T22:00:00".into()),
        kind: Some("online".into()),
        location_online: Some("https://meet.example/party".into()),
        links: Some(vec![Link {
            uri: "https://openmeet.test/events/launch".into(),
            name: Some("Tickets".into()),
        }]),
        status: Some("cancelled".into()),
        ..EventPatch::default()
    };
    let commands = edit_event(&event, &patch).unwrap();
    assert!(matches!(
        &commands[..],
        [OccurrenceCommand::Edit(_), OccurrenceCommand::Cancel { .. }]
    ));
    let Occurrence::Cancelled { details, .. } = carried_out(event, &commands) else {
        panic!()
    };
    assert_eq!(details.starts_at, Some(at("2026-12-11T18:00:00Z")));
    assert_eq!(details.mode, Some(Mode::Virtual));
    assert!(matches!(&details.places[..], [Place::Online(link)] if link.uri.ends_with("/party")));
    assert_eq!(details.links.len(), 1);
}

#[test]
fn a_bad_field_of_an_event_edit_is_refused_by_its_name() {
    let command = schedule_event(&launch_party(), at("2026-11-01T10:00:00Z")).unwrap();
    let event = carried_out(Occurrence::Absent, &[command]);
    let cases: Vec<(EventPatch, &str)> = vec![
        (
            EventPatch {
                lat: Some(91.0),
                lon: Some(0.0),
                ..EventPatch::default()
            },
            "lat",
        ),
        (
            EventPatch {
                end_date: Some("2026-12-01T10:00:00".into()),
                ..EventPatch::default()
            },
            "endDate",
        ),
        (
            EventPatch {
                time_zone: Some("Mars/Olympus".into()),
                ..EventPatch::default()
            },
            "timeZone",
        ),
        (
            EventPatch {
                status: Some("gone".into()),
                ..EventPatch::default()
            },
            "status",
        ),
        (
            EventPatch {
                name: Some("a\0b".into()),
                ..EventPatch::default()
            },
            "name",
        ),
        (
            EventPatch {
                links: Some(vec![Link {
                    uri: "ftp://x".into(),
                    name: None,
                }]),
                ..EventPatch::default()
            },
            "links[0].uri",
        ),
    ];
    for (patch, field) in cases {
        assert_eq!(
            edit_event(&event, &patch).unwrap_err().field,
            field,
            "{patch:?}"
        );
    }
}

#[test]
fn only_a_public_event_may_be_shared_and_its_visibility_is_recorded_once() {
    let target = Owned::Series(series_id("series-42"));
    let settings = BlueskySettingsChanged {
        target,
        enabled: true,
        account: UserId(uuid::Uuid::from_u128(9)),
        did: "did:plc:owner".into(),
        include_recurrence: false,
    };
    let now = at("2026-11-02T10:00:00Z");
    let private = Shareable {
        visibility: visibility(Some("private")).unwrap(),
        ..Shareable::default()
    };
    assert_eq!(
        private.decide(&SharingCommand::Change(settings.clone()), now),
        Err(SharingError::NotPublic(Visibility::Private))
    );
    let off = BlueskySettingsChanged {
        enabled: false,
        ..settings.clone()
    };
    assert_eq!(
        private.decide(&SharingCommand::Change(off.clone()), now),
        Ok(vec![off.into()])
    );
    let public = Shareable::default();
    assert_eq!(
        public.decide(&SharingCommand::Resync, now),
        Err(SharingError::NotShared)
    );
    let same = SharingCommand::SetVisibility {
        target,
        visibility: Visibility::Public,
    };
    assert_eq!(public.decide(&same, now), Ok(vec![]));
    assert_eq!(visibility(Some("members")).unwrap_err().field, "visibility");
}
