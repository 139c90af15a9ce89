//! Publishing OpenMeet events to Bluesky as a pure rule: the next upcoming
//! occurrence of a shared series, then the next; edits and cancellations
//! to the same record; nothing for what came from Bluesky.

use domain::identity::UserId;
use domain::occurrence::{
    EventDetails, OccurrenceCancelled, OccurrenceEdited, OccurrenceId, OccurrenceScheduled,
};
use domain::publishing::{
    BlueskySettingsChanged, OccurrencePublishRequested, OccurrenceUnpublished, Owned,
    PublishAction, Publishing, Visibility, VisibilityChanged, how_often, series_occurrence,
};
use domain::recurrence::Recurrence;
use domain::series::{SeriesCreated, SeriesDeleted, SeriesId};
use domain::sync::OccurrencePublished;
use domain::{DomainEvent, Origin, Timestamp};
use uuid::Uuid;

const SITE: &str = "https://openmeet.test";
const OWNER: &str = "did:plc:owner";

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn details(name: &str) -> EventDetails {
    EventDetails {
        name: name.into(),
        description: Some("Talks and pizza".into()),
        starts_at: Some(at("2026-12-01T18:00:00Z")),
        ends_at: Some(at("2026-12-01T20:00:00Z")),
        time_zone: Some("Europe/Berlin".into()),
        mode: None,
        status: None,
        places: vec![],
        links: vec![],
        rsvp_expected: None,
        created_at: at("2026-11-01T10:00:00Z"),
    }
}

fn series(origin: Origin) -> (SeriesId, DomainEvent) {
    let id = SeriesId(Uuid::from_u128(1));
    let created = SeriesCreated {
        series_id: id,
        slug: "rust-meetup-00000001".into(),
        details: details("Rust Meetup"),
        recurrence: Recurrence {
            rule: "FREQ=WEEKLY;BYDAY=TU".into(),
            time_zone: "Europe/Berlin".into(),
            starts_at: at("2026-12-01T18:00:00Z"),
            exdates: vec![],
            rdates: vec![],
        },
        origin,
    };
    (id, created.into())
}

fn sharing(target: Owned, enabled: bool, include_recurrence: bool) -> DomainEvent {
    BlueskySettingsChanged {
        target,
        enabled,
        account: UserId(Uuid::from_u128(9)),
        did: OWNER.into(),
        include_recurrence,
    }
    .into()
}

/// Follows `events`, then the decisions due at `now` (as the log would
/// hold them); returns those decisions.
fn tick(state: &mut Publishing, now: &str) -> Vec<DomainEvent> {
    let decisions: Vec<DomainEvent> = state
        .decide_at(at(now), 0)
        .into_iter()
        .map(|d| d.event)
        .filter(|event| !matches!(event, DomainEvent::PublishingDecided(_)))
        .collect();
    for decision in &decisions {
        state.follow(decision);
    }
    decisions
}

fn puts(
    decisions: &[DomainEvent],
) -> Vec<(OccurrenceId, String, serde_json::Value, Option<String>)> {
    decisions
        .iter()
        .filter_map(|d| match d {
            DomainEvent::OccurrencePublishRequested(OccurrencePublishRequested {
                occurrence_id,
                rkey,
                action: PublishAction::Put { record, swap, .. },
                ..
            }) => Some((
                *occurrence_id,
                rkey.clone(),
                serde_json::from_str(record).unwrap(),
                swap.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn published(state: &mut Publishing, occurrence_id: OccurrenceId, cid: &str) {
    state.follow(
        &OccurrencePublished {
            occurrence_id,
            uri: format!("at://{OWNER}/community.lexicon.calendar.event/x"),
            cid: cid.into(),
            checksum: String::new(),
        }
        .into(),
    );
}

/// A shared OpenMeet series whose first occurrence was published (as
/// `bafy1`), seen on 20 November: the state, the series, that occurrence
/// and its record key.
fn first_published() -> (Publishing, SeriesId, OccurrenceId, String) {
    let mut state = Publishing::new(SITE);
    let (id, created) = series(Origin::OpenMeet);
    state.follow(&created);
    state.follow(&sharing(Owned::Series(id), true, false));
    let (occurrence, rkey, _, _) = puts(&tick(&mut state, "2026-11-20T10:00:00Z")).remove(0);
    published(&mut state, occurrence, "bafy1");
    (state, id, occurrence, rkey)
}

#[test]
fn a_shared_series_publishes_its_next_occurrence_then_the_one_after_it_ends() {
    let mut state = Publishing::new(SITE);
    let (id, created) = series(Origin::OpenMeet);
    state.follow(&created);
    assert!(
        tick(&mut state, "2026-11-20T10:00:00Z").is_empty(),
        "not shared yet"
    );
    state.follow(&sharing(Owned::Series(id), true, false));
    let first = tick(&mut state, "2026-11-20T10:00:00Z");
    assert_eq!(first[0].event_type(), "OccurrenceScheduled");
    let put = puts(&first);
    assert_eq!(put.len(), 1, "exactly one record, for the next occurrence");
    let (occurrence, rkey, record, swap) = &put[0];
    assert_eq!(
        *occurrence,
        series_occurrence(id, at("2026-12-01T18:00:00Z"))
    );
    assert_eq!(swap, &None);
    assert_eq!(record["startsAt"], "2026-12-01T18:00:00.000Z");
    assert!(
        record["description"]
            .as_str()
            .unwrap()
            .contains("Part of a series that happens weekly")
    );
    assert_eq!(
        record["uris"][0]["uri"],
        format!("{SITE}/series/rust-meetup-00000001")
    );
    assert_eq!(
        schemas::Lexicons::ours()
            .validate_record("community.lexicon.calendar.event", &record.clone()),
        Ok(())
    );
    published(&mut state, *occurrence, "bafy1");
    assert!(
        tick(&mut state, "2026-12-01T19:00:00Z").is_empty(),
        "it is on until it ends"
    );
    let next = puts(&tick(&mut state, "2026-12-01T20:30:00Z"));
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].0, series_occurrence(id, at("2026-12-08T18:00:00Z")));
    assert_ne!(&next[0].1, rkey, "a record of its own");
}

#[test]
fn a_cancelled_published_occurrence_is_rewritten_to_the_same_record() {
    let (mut state, _, occurrence, rkey) = first_published();
    state.follow(
        &OccurrenceCancelled {
            occurrence_id: occurrence,
            reason: None,
        }
        .into(),
    );
    let rewrite = puts(&tick(&mut state, "2026-11-21T10:00:00Z"));
    assert_eq!(rewrite.len(), 1);
    assert_eq!(
        (rewrite[0].1.as_str(), rewrite[0].3.as_deref()),
        (rkey.as_str(), Some("bafy1"))
    );
    assert_eq!(
        rewrite[0].2["status"],
        "community.lexicon.calendar.event#cancelled"
    );
}

#[test]
fn turning_sharing_off_deletes_what_is_published() {
    let (mut state, id, _, rkey) = first_published();
    state.follow(&sharing(Owned::Series(id), false, false));
    let deletes = tick(&mut state, "2026-11-20T11:00:00Z");
    assert!(
        matches!(
            &deletes[..],
            [DomainEvent::OccurrencePublishRequested(OccurrencePublishRequested { rkey: key, action: PublishAction::Delete { swap: Some(cid) }, .. })]
                if *key == rkey && cid == "bafy1"
        ),
        "{deletes:?}"
    );
    assert!(tick(&mut state, "2026-11-20T12:00:00Z").is_empty(), "once");
}

#[test]
fn series_from_bluesky_are_never_pushed_back() {
    let mut state = Publishing::new(SITE);
    let (id, created) = series(Origin::Bluesky);
    state.follow(&created);
    state.follow(&sharing(Owned::Series(id), true, false));
    assert!(tick(&mut state, "2026-11-20T10:00:00Z").is_empty());
}

#[test]
fn a_standalone_event_is_published_once_and_the_recurrence_fields_are_optional() {
    let mut state = Publishing::new(SITE);
    let occurrence = OccurrenceId(Uuid::from_u128(3));
    state.follow(
        &domain::occurrence::OccurrenceScheduled {
            occurrence_id: occurrence,
            series_id: None,
            details: details("Launch party"),
        }
        .into(),
    );
    state.follow(&sharing(Owned::Occurrence(occurrence), true, false));
    let put = puts(&tick(&mut state, "2026-11-20T10:00:00Z"));
    assert_eq!(put.len(), 1);
    assert!(!put[0].2["description"].as_str().unwrap().contains("series"));
    published(&mut state, occurrence, "bafy1");
    assert!(tick(&mut state, "2026-11-21T10:00:00Z").is_empty());

    let mut with_fields = Publishing::new(SITE);
    let (id, created) = series(Origin::OpenMeet);
    with_fields.follow(&created);
    with_fields.follow(&sharing(Owned::Series(id), true, true));
    let record = puts(&tick(&mut with_fields, "2026-11-20T10:00:00Z"))
        .remove(0)
        .2;
    assert_eq!(record["recurrence"]["rrule"], "FREQ=WEEKLY;BYDAY=TU");
    assert_eq!(
        schemas::Lexicons::ours()
            .validate_record("community.lexicon.calendar.event", &record.clone()),
        Ok(())
    );
}

#[test]
fn events_shared_in_one_tick_each_get_a_record_key_of_their_own() {
    // Keys taken at one instant differ only by a 10-bit clock id: among
    // 300 events some would share one, and one record would overwrite
    // another.
    let mut state = Publishing::new(SITE);
    for n in 0..300 {
        let occurrence = OccurrenceId(Uuid::from_u128(1_000 + n));
        state.follow(
            &domain::occurrence::OccurrenceScheduled {
                occurrence_id: occurrence,
                series_id: None,
                details: details("Launch party"),
            }
            .into(),
        );
        state.follow(&sharing(Owned::Occurrence(occurrence), true, false));
    }
    let put = puts(&tick(&mut state, "2026-11-20T10:00:00Z"));
    let keys: std::collections::BTreeSet<&String> =
        put.iter().map(|(_, rkey, _, _)| rkey).collect();
    assert_eq!((put.len(), keys.len()), (300, 300));
    assert!(
        keys.iter()
            .all(|key| domain::record_key::tid_micros(key).is_some()),
        "each is a TID"
    );
}

#[test]
fn how_often_reads_the_rule() {
    let rule = |rule: &str| Recurrence {
        rule: rule.into(),
        time_zone: "UTC".into(),
        starts_at: at("2026-12-01T18:00:00Z"),
        exdates: vec![],
        rdates: vec![],
    };
    assert_eq!(how_often(&rule("FREQ=WEEKLY;BYDAY=TU")), "weekly");
    assert_eq!(
        how_often(&rule("RRULE:FREQ=WEEKLY;INTERVAL=2")),
        "every 2 weeks"
    );
    assert_eq!(how_often(&rule("FREQ=MONTHLY;BYDAY=-1FR")), "monthly");
}

#[test]
fn settings_recorded_again_write_the_record_again_once() {
    let (mut state, id, _, rkey) = first_published();
    assert!(tick(&mut state, "2026-11-20T11:00:00Z").is_empty());
    state.follow(&sharing(Owned::Series(id), true, false));
    let again = puts(&tick(&mut state, "2026-11-20T12:00:00Z"));
    assert_eq!(
        (again.len(), again[0].1.as_str(), again[0].3.as_deref()),
        (1, rkey.as_str(), Some("bafy1"))
    );
    assert!(tick(&mut state, "2026-11-20T13:00:00Z").is_empty());
}

#[test]
fn a_deleted_occurrence_is_deleted_from_bluesky_and_a_series_goes_on_to_the_next() {
    let (mut state, id, occurrence, rkey) = first_published();
    state.follow(
        &domain::occurrence::OccurrenceDeleted {
            occurrence_id: occurrence,
        }
        .into(),
    );
    let decisions = tick(&mut state, "2026-11-20T11:00:00Z");
    let deleted: Vec<&String> = decisions
        .iter()
        .filter_map(|d| match d {
            DomainEvent::OccurrencePublishRequested(OccurrencePublishRequested {
                rkey,
                action: PublishAction::Delete { .. },
                ..
            }) => Some(rkey),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, [&rkey]);
    let next = puts(&decisions);
    assert_eq!(next.len(), 1, "the week after is the next upcoming one now");
    assert_eq!(next[0].0, series_occurrence(id, at("2026-12-08T18:00:00Z")));
}

/// The requests among `decisions` to delete a record, by record key.
fn deletes(decisions: &[DomainEvent]) -> Vec<&str> {
    decisions
        .iter()
        .filter_map(|d| match d {
            DomainEvent::OccurrencePublishRequested(OccurrencePublishRequested {
                rkey,
                action: PublishAction::Delete { .. },
                ..
            }) => Some(rkey.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_deleted_series_deletes_its_published_record_and_publishes_no_more() {
    let (mut state, id, _, rkey) = first_published();
    state.follow(&SeriesDeleted { series_id: id }.into());
    let decisions = tick(&mut state, "2026-11-20T11:00:00Z");
    assert_eq!(deletes(&decisions), [rkey.as_str()]);
    assert!(puts(&decisions).is_empty());
    assert!(
        tick(&mut state, "2026-12-05T11:00:00Z").is_empty(),
        "nothing rolls forward"
    );
}

#[test]
fn a_series_made_private_after_publishing_is_unpublished_and_shared_again_once_public() {
    let (mut state, id, occurrence, rkey) = first_published();
    let seen_by = |visibility| -> DomainEvent {
        VisibilityChanged {
            target: Owned::Series(id),
            visibility,
        }
        .into()
    };
    state.follow(&seen_by(Visibility::Authenticated));
    let decisions = tick(&mut state, "2026-11-20T11:00:00Z");
    assert_eq!(deletes(&decisions), [rkey.as_str()]);
    assert!(puts(&decisions).is_empty(), "{decisions:?}");
    state.follow(
        &OccurrenceUnpublished {
            occurrence_id: occurrence,
            rkey: rkey.clone(),
        }
        .into(),
    );
    state.follow(&seen_by(Visibility::Public));
    let again = puts(&tick(&mut state, "2026-11-20T12:00:00Z"));
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].0, again[0].1.as_str(), again[0].3.as_deref()),
        (occurrence, rkey.as_str(), None),
        "written anew under its record key, swapping nothing: the deleted version is gone"
    );
}

#[test]
fn a_private_standalone_event_is_not_published() {
    let mut state = Publishing::new(SITE);
    let occurrence = OccurrenceId(Uuid::from_u128(7));
    state.follow(
        &OccurrenceScheduled {
            occurrence_id: occurrence,
            series_id: None,
            details: details("Launch party"),
        }
        .into(),
    );
    state.follow(
        &VisibilityChanged {
            target: Owned::Occurrence(occurrence),
            visibility: Visibility::Private,
        }
        .into(),
    );
    state.follow(&sharing(Owned::Occurrence(occurrence), true, false));
    assert!(tick(&mut state, "2026-11-20T10:00:00Z").is_empty());
}

#[test]
fn an_occurrence_moved_later_than_its_slot_stays_the_next_until_its_own_end() {
    let mut state = Publishing::new(SITE);
    let (id, created) = series(Origin::OpenMeet);
    state.follow(&created);
    state.follow(&sharing(Owned::Series(id), true, false));
    let first = series_occurrence(id, at("2026-12-01T18:00:00Z"));
    assert_eq!(puts(&tick(&mut state, "2026-11-20T10:00:00Z"))[0].0, first);
    published(&mut state, first, "bafy1");
    // Moved from Tuesday to Thursday of that week.
    state.follow(
        &OccurrenceEdited {
            occurrence_id: first,
            details: EventDetails {
                starts_at: Some(at("2026-12-03T18:00:00Z")),
                ends_at: Some(at("2026-12-03T20:00:00Z")),
                ..details("Rust Meetup")
            },
        }
        .into(),
    );
    let moved = puts(&tick(&mut state, "2026-11-20T11:00:00Z"));
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].2["startsAt"], "2026-12-03T18:00:00.000Z");
    assert!(
        tick(&mut state, "2026-12-02T10:00:00Z").is_empty(),
        "its slot is over, the moved occurrence is still to come"
    );
    let next = puts(&tick(&mut state, "2026-12-03T21:00:00Z"));
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].0, series_occurrence(id, at("2026-12-08T18:00:00Z")));
}
