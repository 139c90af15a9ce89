//! The aggregates' rules, as given (past events) / when (a command) / then
//! (the events recorded, or the refusal).

use domain::attendance::{
    Attendance, AttendanceCommand, AttendanceStatus, ChangeRsvp, WithdrawRsvp,
};
use domain::decider::Decider;
use domain::identity::{Identity, IdentityCommand, IdentityError, UserId};
use domain::occurrence::{
    EventDetails, Occurrence, OccurrenceCommand, OccurrenceError, OccurrenceId,
};
use domain::recurrence::{Recurrence, RecurrenceError};
use domain::series::{Series, SeriesCommand, SeriesError, SeriesId};
use domain::{DomainEvent, Origin, Timestamp};
use proptest::prelude::*;
use uuid::Uuid;

const URI: &str = "at://did:plc:org/community.lexicon.calendar.event/3ev";
const NOW: Timestamp = Timestamp::from_unix_micros(1_764_000_000_000_000);

/// The state `history` leaves.
fn given<D: Decider>(history: &[DomainEvent]) -> D {
    D::replay(history)
}

/// What `command` records in `state`, or why it is refused.
fn when<D: Decider>(state: &D, command: D::Command) -> Result<Vec<DomainEvent>, D::Error> {
    state.decide(&command, NOW)
}

fn record(name: &str, ends_at: Option<&str>) -> String {
    let mut record = serde_json::json!({"$type": "community.lexicon.calendar.event", "name": name,
        "createdAt": "2026-11-01T10:00:00Z", "startsAt": "2026-12-01T18:00:00Z"});
    if let Some(ends_at) = ends_at {
        record["endsAt"] = serde_json::json!(ends_at);
    }
    record.to_string()
}

fn import(cid: &str, record: String) -> OccurrenceCommand {
    OccurrenceCommand::Import {
        uri: URI.into(),
        cid: cid.into(),
        record,
        observed_at: NOW,
    }
}

fn imported(cid: &str, record: String) -> Vec<DomainEvent> {
    when(&Occurrence::Absent, import(cid, record)).unwrap()
}

fn names(events: &[DomainEvent]) -> Vec<&'static str> {
    events.iter().map(DomainEvent::event_type).collect()
}

#[test]
fn an_imported_record_becomes_an_occurrence_with_its_details() {
    let events = imported("bafy1", record("Rust Meetup", Some("2026-12-01T20:00:00Z")));
    assert_eq!(names(&events), ["EventImported"]);
    let occurrence: Occurrence = given(&events);
    let details = occurrence.details().unwrap();
    assert_eq!(details.name, "Rust Meetup");
    assert!(details.ends_at.is_some());
    assert!(
        matches!(occurrence, Occurrence::Imported { id, .. } if id == OccurrenceId::for_record(URI))
    );
}

#[test]
fn the_same_record_version_delivered_again_records_nothing() {
    let history = imported("bafy1", record("Rust Meetup", None));
    assert_eq!(
        when(
            &given::<Occurrence>(&history),
            import("bafy1", record("Rust Meetup", None))
        ),
        Ok(vec![])
    );
}

#[test]
fn a_new_version_without_an_end_time_clears_the_end_time() {
    let history = imported("bafy1", record("Rust Meetup", Some("2026-12-01T20:00:00Z")));
    let events = when(
        &given::<Occurrence>(&history),
        import("bafy2", record("Rust Meetup", None)),
    )
    .unwrap();
    assert_eq!(names(&events), ["EventChangedExternally"]);
    let after: Occurrence = given(&[history, events].concat());
    assert_eq!(after.details().unwrap().ends_at, None);
}

#[test]
fn a_record_that_does_not_map_is_refused_naming_the_field() {
    let bad = record("x", Some("the day after"));
    let err = when(&Occurrence::Absent, import("bafy1", bad)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("record {URI}: endsAt is not a datetime: \"the day after\"")
    );
    let not_json = when(&Occurrence::Absent, import("bafy1", "{".into())).unwrap_err();
    assert!(matches!(not_json, OccurrenceError::InvalidRecord { .. }));
}

#[test]
fn a_deletion_closes_the_occurrence_and_a_second_one_records_nothing() {
    let history = imported("bafy1", record("Rust Meetup", None));
    let delete = OccurrenceCommand::DeleteExternally {
        uri: URI.into(),
        observed_at: NOW,
    };
    let events = when(&given::<Occurrence>(&history), delete.clone()).unwrap();
    assert_eq!(names(&events), ["EventDeletedExternally"]);
    let deleted: Occurrence = given(&[history.clone(), events.clone()].concat());
    assert_eq!(deleted.details(), None);
    assert_eq!(when(&deleted, delete.clone()), Ok(vec![]));
    assert_eq!(
        when(&Occurrence::Absent, delete),
        Err(OccurrenceError::NotFound)
    );
    // Re-created under the same key, it is imported again.
    assert_eq!(
        names(&when(&deleted, import("bafy3", record("Back", None))).unwrap()),
        ["EventImported"]
    );
}

fn local_details(name: &str) -> EventDetails {
    let at = NOW;
    EventDetails {
        name: name.into(),
        description: None,
        starts_at: Some(at),
        ends_at: None,
        time_zone: None,
        mode: None,
        status: None,
        places: vec![],
        links: vec![],
        rsvp_expected: None,
        created_at: at,
    }
}

#[test]
fn a_local_occurrence_is_scheduled_once_edited_and_cancelled() {
    let id = OccurrenceId(Uuid::from_u128(7));
    let schedule = OccurrenceCommand::Schedule {
        occurrence_id: id,
        series_id: None,
        details: local_details("Book club"),
    };
    let scheduled = when(&Occurrence::Absent, schedule.clone()).unwrap();
    let state: Occurrence = given(&scheduled);
    assert_eq!(
        when(&state, schedule),
        Err(OccurrenceError::AlreadyExists(id))
    );
    assert_eq!(
        when(&state, OccurrenceCommand::Edit(local_details("Book club"))),
        Ok(vec![])
    );
    let edited = when(
        &state,
        OccurrenceCommand::Edit(local_details("Book club: Dune")),
    )
    .unwrap();
    assert_eq!(names(&edited), ["OccurrenceEdited"]);
    let cancelled = when(
        &given::<Occurrence>(&[scheduled.clone(), edited.clone()].concat()),
        OccurrenceCommand::Cancel { reason: None },
    )
    .unwrap();
    let closed_events = || [scheduled.clone(), edited.clone(), cancelled.clone()].concat();
    let closed: Occurrence = given(&closed_events());
    assert_eq!(closed.details().unwrap().name, "Book club: Dune");
    assert_eq!(
        when(&closed, OccurrenceCommand::Edit(local_details("again"))),
        Err(OccurrenceError::Closed(id))
    );
    assert_eq!(
        when(&closed, OccurrenceCommand::Cancel { reason: None }),
        Ok(vec![])
    );
    let echoed = when(&closed, import("bafy1", record("x", None))).unwrap();
    assert_eq!(
        names(&echoed),
        ["EventChangedExternally"],
        "a version of its Bluesky record is recorded as it arrived"
    );
    let seen: Occurrence = given(&[closed_events(), echoed].concat());
    assert_eq!(
        seen.details().unwrap().name,
        "Book club: Dune",
        "and changes nothing of OpenMeet's content"
    );
    assert_eq!(when(&seen, import("bafy1", record("x", None))), Ok(vec![]));
}

#[test]
fn the_echo_of_our_own_delete_records_nothing_and_a_delete_of_what_is_published_is_refused() {
    let id = OccurrenceId(Uuid::from_u128(8));
    let scheduled = when(
        &Occurrence::Absent,
        OccurrenceCommand::Schedule {
            occurrence_id: id,
            series_id: None,
            details: local_details("Book club"),
        },
    )
    .unwrap();
    let published: DomainEvent = domain::sync::OccurrencePublished {
        occurrence_id: id,
        uri: URI.into(),
        cid: "bafy1".into(),
        checksum: String::new(),
    }
    .into();
    let unpublished: DomainEvent = domain::publishing::OccurrenceUnpublished {
        occurrence_id: id,
        rkey: "3ev".into(),
    }
    .into();
    let delete = || OccurrenceCommand::DeleteExternally {
        uri: URI.into(),
        observed_at: NOW,
    };
    let live: Occurrence = given(&[scheduled.clone(), vec![published.clone()]].concat());
    assert_eq!(
        when(&live, delete()),
        Err(OccurrenceError::NotImported(id)),
        "deleted on Bluesky while OpenMeet still publishes it"
    );
    let gone: Occurrence = given(&[scheduled, vec![published, unpublished]].concat());
    assert_eq!(when(&gone, delete()), Ok(vec![]), "our own delete, echoed");
}

fn weekly(zone: &str) -> Recurrence {
    Recurrence {
        rule: "FREQ=WEEKLY;BYDAY=TU".into(),
        time_zone: zone.into(),
        starts_at: Timestamp::parse_rfc3339("2026-03-03T17:00:00Z").unwrap(),
        exdates: vec![],
        rdates: vec![],
    }
}

fn create_series(recurrence: Recurrence) -> SeriesCommand {
    SeriesCommand::Create {
        series_id: SeriesId(Uuid::from_u128(1)),
        slug: "rust".into(),
        details: local_details("Rust Meetup"),
        recurrence,
        origin: Origin::OpenMeet,
    }
}

#[test]
fn a_series_refuses_a_recurrence_it_cannot_expand() {
    let err = when(&Series::Absent, create_series(weekly("Mars/Base"))).unwrap_err();
    assert_eq!(
        err,
        SeriesError::InvalidRecurrence(RecurrenceError::UnknownTimeZone("Mars/Base".into()))
    );
}

#[test]
fn the_next_occurrence_follows_a_recurrence_change() {
    let created = when(&Series::Absent, create_series(weekly("Europe/Berlin"))).unwrap();
    let series: Series = given(&created);
    let after = Timestamp::parse_rfc3339("2026-03-04T00:00:00Z").unwrap();
    assert_eq!(
        series
            .next_occurrence_after(after)
            .unwrap()
            .map(|at| at.to_string()),
        Some("2026-03-10T17:00:00Z".into())
    );
    let thursday = Recurrence {
        rule: "FREQ=WEEKLY;BYDAY=TH".into(),
        ..weekly("Europe/Berlin")
    };
    let changed = when(&series, SeriesCommand::ChangeRecurrence(thursday.clone())).unwrap();
    assert_eq!(names(&changed), ["RecurrenceChanged"]);
    let series: Series = given(&[created, changed].concat());
    assert_eq!(
        series
            .next_occurrence_after(after)
            .unwrap()
            .map(|at| at.to_string()),
        Some("2026-03-05T17:00:00Z".into())
    );
    assert_eq!(
        when(&series, SeriesCommand::ChangeRecurrence(thursday)),
        Ok(vec![])
    );
}

fn rsvp(user: u128, status: AttendanceStatus, origin: Origin, at_seconds: i64) -> ChangeRsvp {
    ChangeRsvp {
        occurrence_id: OccurrenceId::for_record(URI),
        attendee_id: UserId(Uuid::from_u128(user)),
        status,
        origin,
        changed_at: Timestamp::from_unix_micros(at_seconds * 1_000_000),
        rsvp_uri: None,
        rsvp_cid: None,
    }
}

fn apply(state: Attendance, change: &ChangeRsvp) -> Attendance {
    let events = state
        .decide(&AttendanceCommand::Change(change.clone()), NOW)
        .unwrap();
    events
        .iter()
        .fold(state, |state, event| state.evolve(event))
}

#[test]
fn the_latest_answer_wins_and_an_older_one_arriving_late_loses() {
    let newer = rsvp(1, AttendanceStatus::Declined, Origin::Bluesky, 200);
    let older = rsvp(1, AttendanceStatus::Attending, Origin::OpenMeet, 100);
    let state = apply(Attendance::default(), &newer);
    assert_eq!(
        state.decide(&AttendanceCommand::Change(older.clone()), NOW),
        Ok(vec![older.recorded().into()]),
        "the other platform's older answer is recorded, for the process manager to explain"
    );
    let state = apply(state, &older);
    let older_same_platform = rsvp(1, AttendanceStatus::Interested, Origin::Bluesky, 150);
    assert_eq!(
        state.decide(&AttendanceCommand::Change(older_same_platform), NOW),
        Ok(vec![]),
        "an older version from the same platform is a late redelivery"
    );
    assert_eq!(
        state.answer(UserId(Uuid::from_u128(1))).unwrap().status,
        AttendanceStatus::Declined
    );
    assert_eq!(
        state.decide(&AttendanceCommand::Change(newer), NOW),
        Ok(vec![]),
        "the same answer again records nothing"
    );
}

fn withdraw(user: u128, at_seconds: i64) -> AttendanceCommand {
    AttendanceCommand::Withdraw(WithdrawRsvp {
        occurrence_id: OccurrenceId::for_record(URI),
        attendee_id: UserId(Uuid::from_u128(user)),
        origin: Origin::Bluesky,
        withdrawn_at: Timestamp::from_unix_micros(at_seconds * 1_000_000),
        rsvp_uri: None,
    })
}

#[test]
fn a_withdrawal_removes_an_earlier_answer_but_not_a_later_one() {
    let user = UserId(Uuid::from_u128(1));
    let state = apply(
        Attendance::default(),
        &rsvp(1, AttendanceStatus::Attending, Origin::Bluesky, 100),
    );
    let withdrawn = state.decide(&withdraw(1, 150), NOW).unwrap();
    assert_eq!(names(&withdrawn), ["RsvpWithdrawn"]);
    let state: Attendance = withdrawn.iter().fold(state, |s, e| s.evolve(e));
    assert_eq!(state.answer(user), None);
    assert!(state.is_empty());
    assert_eq!(
        state.decide(&withdraw(1, 160), NOW),
        Ok(vec![]),
        "nothing left to withdraw"
    );
    let late_older = rsvp(1, AttendanceStatus::Declined, Origin::Bluesky, 120);
    assert_eq!(
        state.decide(&AttendanceCommand::Change(late_older), NOW),
        Ok(vec![]),
        "an answer older than the withdrawal stays withdrawn"
    );
    let again = apply(
        state,
        &rsvp(1, AttendanceStatus::Interested, Origin::OpenMeet, 200),
    );
    assert_eq!(
        again.answer(user).map(|a| a.status),
        Some(AttendanceStatus::Interested)
    );
    assert_eq!(again.decide(&withdraw(1, 180), NOW), Ok(vec![]));
}

fn change() -> impl Strategy<Value = ChangeRsvp> {
    let status = prop_oneof![
        Just(AttendanceStatus::Attending),
        Just(AttendanceStatus::Interested),
        Just(AttendanceStatus::Declined)
    ];
    let origin = prop_oneof![Just(Origin::Bluesky), Just(Origin::OpenMeet)];
    (0u128..3, status, origin, 0i64..5)
        .prop_map(|(user, status, origin, at)| rsvp(user, status, origin, at))
}

proptest! {
    #[test]
    fn any_order_of_the_same_answers_ends_in_the_same_attendance(
        changes in prop::collection::vec(change(), 0..12),
        seed in any::<u64>(),
    ) {
        let in_order = changes.iter().fold(Attendance::default(), apply);
        let mut shuffled = changes.clone();
        // A deterministic shuffle driven by the seed.
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        let shuffled_twice: Vec<ChangeRsvp> = shuffled.iter().chain(shuffled.iter()).cloned().collect();
        let out_of_order = shuffled_twice.iter().fold(Attendance::default(), apply);
        prop_assert_eq!(out_of_order, in_order);
    }
}

#[test]
fn the_first_record_from_a_did_creates_one_shadow_account() {
    let observe = IdentityCommand::ObserveActivity {
        did: "did:plc:guest".into(),
        handle: None,
        display_name: None,
    };
    let created = when(&Identity::Unknown, observe.clone()).unwrap();
    assert_eq!(names(&created), ["ShadowAccountCreated"]);
    let shadow: Identity = given(&created);
    assert_eq!(when(&shadow, observe), Ok(vec![]));
    let register = IdentityCommand::Register {
        user_id: UserId(Uuid::from_u128(9)),
        did: "did:plc:guest".into(),
        handle: None,
    };
    assert_eq!(
        when(&shadow, register),
        Err(IdentityError::ShadowExists {
            did: "did:plc:guest".into(),
            user_id: UserId::shadow_for("did:plc:guest")
        })
    );
}

#[test]
fn a_handle_change_is_recorded_once() {
    let registered: Identity = given(
        &when(
            &Identity::Unknown,
            IdentityCommand::Register {
                user_id: UserId(Uuid::from_u128(9)),
                did: "did:plc:me".into(),
                handle: Some("me.test".into()),
            },
        )
        .unwrap(),
    );
    assert_eq!(
        when(&registered, IdentityCommand::ChangeHandle("me.test".into())),
        Ok(vec![])
    );
    assert_eq!(
        names(
            &when(
                &registered,
                IdentityCommand::ChangeHandle("me.example".into())
            )
            .unwrap()
        ),
        ["HandleChanged"]
    );
    assert_eq!(
        when(
            &Identity::Unknown,
            IdentityCommand::ChangeHandle("x.test".into())
        ),
        Err(IdentityError::Unknown)
    );
}

fn log_in(did: &str, handle: Option<&str>, display_name: Option<&str>) -> IdentityCommand {
    IdentityCommand::LogIn {
        new_user_id: UserId(Uuid::from_u128(42)),
        did: did.into(),
        handle: handle.map(Into::into),
        display_name: display_name.map(Into::into),
    }
}

fn shadow_of(did: &str, handle: Option<&str>, display_name: Option<&str>) -> Identity {
    given(
        &when(
            &Identity::Unknown,
            IdentityCommand::ObserveActivity {
                did: did.into(),
                handle: handle.map(Into::into),
                display_name: display_name.map(Into::into),
            },
        )
        .unwrap(),
    )
}

#[test]
fn a_first_login_registers_a_new_account() {
    let events = when(
        &Identity::Unknown,
        log_in("did:plc:new", Some("new.test"), Some("New")),
    )
    .unwrap();
    assert_eq!(names(&events), ["AccountRegistered", "DisplayNameChanged"]);
    let Identity::Registered(account) = given::<Identity>(&events) else {
        panic!("not registered");
    };
    assert_eq!(account.user_id, UserId(Uuid::from_u128(42)));
    assert_eq!(account.display_name.as_deref(), Some("New"));
}

#[test]
fn a_login_claims_the_shadow_keeping_its_id_and_the_login_values_win() {
    let shadow = shadow_of("did:plc:guest", Some("old.test"), Some("Shadow Name"));
    let events = when(&shadow, log_in("did:plc:guest", Some("new.test"), None)).unwrap();
    assert_eq!(
        events,
        vec![DomainEvent::from(domain::identity::ShadowClaimed {
            user_id: UserId::shadow_for("did:plc:guest"),
            did: "did:plc:guest".into(),
            handle: Some("new.test".into()),
            display_name: Some("Shadow Name".into()),
        })]
    );
    let claimed: Identity = given(
        &[
            when(
                &Identity::Unknown,
                IdentityCommand::ObserveActivity {
                    did: "did:plc:guest".into(),
                    handle: Some("old.test".into()),
                    display_name: Some("Shadow Name".into()),
                },
            )
            .unwrap(),
            events,
        ]
        .concat(),
    );
    assert!(
        matches!(&claimed, Identity::Registered(p) if p.user_id == UserId::shadow_for("did:plc:guest"))
    );
    assert_eq!(
        when(&claimed, log_in("did:plc:guest", Some("new.test"), None)),
        Ok(vec![]),
        "claiming twice is a no-op"
    );
}

#[test]
fn a_login_for_another_did_cannot_touch_this_identity() {
    let shadow = shadow_of("did:plc:victim", None, None);
    assert_eq!(
        when(
            &shadow,
            log_in("did:plc:attacker", Some("victim.test"), None)
        ),
        Err(IdentityError::WrongDid {
            did: "did:plc:victim".into(),
            asked: "did:plc:attacker".into()
        })
    );
}

#[test]
fn a_deleted_account_has_its_personal_data_erased_and_a_deactivated_one_not() {
    let shadow = shadow_of("did:plc:gone", Some("gone.test"), Some("Gone"));
    let status = |active: bool, status: &str| IdentityCommand::ChangeAccountStatus {
        active,
        status: Some(status.into()),
        observed_at: NOW,
    };
    assert_eq!(
        names(&when(&shadow, status(false, "deactivated")).unwrap()),
        ["AccountStatusChanged"]
    );
    let deleted = when(&shadow, status(false, "deleted")).unwrap();
    assert_eq!(
        names(&deleted),
        ["AccountStatusChanged", "PersonalDataErased"]
    );
    let erased: Identity = given(
        &[
            when(
                &Identity::Unknown,
                IdentityCommand::ObserveActivity {
                    did: "did:plc:gone".into(),
                    handle: Some("gone.test".into()),
                    display_name: Some("Gone".into()),
                },
            )
            .unwrap(),
            deleted,
        ]
        .concat(),
    );
    let profile = erased.profile().unwrap();
    assert_eq!(
        (profile.handle.as_ref(), profile.display_name.as_ref()),
        (None, None)
    );
}

#[test]
fn a_display_name_change_is_recorded_once() {
    let shadow = shadow_of("did:plc:named", None, Some("Named"));
    assert_eq!(
        when(
            &shadow,
            IdentityCommand::ChangeDisplayName(Some("Named".into()))
        ),
        Ok(vec![])
    );
    assert_eq!(
        names(
            &when(
                &shadow,
                IdentityCommand::ChangeDisplayName(Some("Renamed".into()))
            )
            .unwrap()
        ),
        ["DisplayNameChanged"]
    );
}

#[test]
fn an_openmeet_event_is_deleted_once_and_an_imported_one_is_not_deleted_here() {
    let id = OccurrenceId(Uuid::from_u128(77));
    let scheduled = DomainEvent::from(domain::occurrence::OccurrenceScheduled {
        occurrence_id: id,
        series_id: None,
        details: domain::occurrence::details_of(
            "at://did:plc:x/community.lexicon.calendar.event/1",
            &record("Launch", None),
        )
        .unwrap(),
    });
    let local: Occurrence = given(std::slice::from_ref(&scheduled));
    let deleted = when(&local, OccurrenceCommand::Delete).unwrap();
    assert_eq!(names(&deleted), ["OccurrenceDeleted"]);
    let removed: Occurrence = given(&[scheduled, deleted[0].clone()]);
    assert_eq!(when(&removed, OccurrenceCommand::Delete), Ok(vec![]));
    assert_eq!(removed.details(), None);
    let imported: Occurrence = given(&imported("bafy1", record("Rust Meetup", None)));
    assert!(matches!(
        when(&imported, OccurrenceCommand::Delete),
        Err(domain::occurrence::OccurrenceError::FromBluesky(_))
    ));
}
