//! The process manager's policies, one test each and in both directions:
//! events in, decision events out, and the state the decisions leave.

use domain::attendance::{AttendanceStatus, RsvpChanged, attendance_stream};
use domain::checksum::content_checksum;
use domain::decider::Decider;
use domain::external_ref::{LocalRef, external_ref_stream};
use domain::identity::UserId;
use domain::occurrence::{
    EventChangedExternally, EventDetails, EventImported, Occurrence, OccurrenceEdited,
    OccurrenceId, OccurrenceScheduled, Place, details_of,
};
use domain::series::{SeriesCommand, SeriesId};
use domain::series_detection::SeriesProposed;
use domain::series_detection::review::{ProposalReview, ReviewCommand, ReviewError, series_of};
use domain::sync::{
    ConflictResolved, ConflictSubject, FieldValue, OccurrencePublished, Policy, ProcessManager,
    Winner,
};
use domain::{
    Actor, DomainEvent, EventId, EventMetadata, GlobalPosition, Origin, RecordedEvent, StreamId,
    StreamVersion, Timestamp,
};
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

const OURS: &str = "at://did:plc:openmeet/community.lexicon.calendar.event/3lpub";
const THEIRS: &str = "at://did:plc:organizer/community.lexicon.calendar.event/3limp";

fn record(name: &str, starts_at: &str, locations: serde_json::Value) -> String {
    json!({"$type": "community.lexicon.calendar.event", "name": name,
        "createdAt": "2026-11-01T10:00:00Z", "startsAt": starts_at, "locations": locations})
    .to_string()
}

fn address() -> serde_json::Value {
    json!({"$type": "community.lexicon.location.address", "country": "DE", "locality": "Berlin", "street": "Rungestraße 20"})
}

fn geo() -> serde_json::Value {
    json!({"$type": "community.lexicon.location.geo", "latitude": "52.5128", "longitude": "13.4201"})
}

fn details(name: &str, starts_at: &str, locations: serde_json::Value) -> EventDetails {
    details_of(OURS, &record(name, starts_at, locations)).unwrap()
}

/// A log being written: events in, the process manager's decisions appended
/// after their cause, as the runner appends them.
struct Log {
    manager: Option<ProcessManager>,
    events: Vec<(RecordedEvent, DomainEvent)>,
    decisions: Vec<domain::Append>,
}

impl Log {
    fn new() -> Self {
        Self {
            manager: Some(ProcessManager::default()),
            events: vec![],
            decisions: vec![],
        }
    }

    /// Appends an input event; returns the decisions it caused.
    fn push(&mut self, stream: StreamId, origin: Origin, event: DomainEvent) -> Vec<DomainEvent> {
        let id = EventId(Uuid::from_u128(self.events.len() as u128 + 1));
        let metadata = EventMetadata {
            event_id: id,
            causation_id: None,
            correlation_id: None,
            origin,
            actor: Actor::system("test"),
        };
        let commands = self.record(stream, metadata, event);
        for command in &commands {
            self.record(
                command.stream.clone(),
                command.metadata.clone(),
                command.event.clone(),
            );
        }
        self.decisions.extend(commands.iter().cloned());
        commands.into_iter().map(|command| command.event).collect()
    }

    fn record(
        &mut self,
        stream: StreamId,
        metadata: EventMetadata,
        event: DomainEvent,
    ) -> Vec<domain::Append> {
        let recorded = RecordedEvent {
            stream_id: stream,
            stream_version: StreamVersion(0),
            global_position: GlobalPosition(self.events.len() as u64 + 1),
            recorded_at: Timestamp::from_unix_micros(0),
            metadata,
            payload: event.encode(),
        };
        let manager = self.manager.take().unwrap_or_default();
        let (manager, commands) = manager.handle(&recorded, &event);
        self.manager = Some(manager);
        self.events.push((recorded, event));
        commands
    }

    /// The occurrence as its stream leaves it.
    fn occurrence(&self, id: OccurrenceId) -> Occurrence {
        let stream = id.stream();
        let events: Vec<DomainEvent> = self
            .events
            .iter()
            .filter(|(recorded, _)| recorded.stream_id == stream)
            .map(|(_, event)| event.clone())
            .collect();
        Occurrence::replay(&events)
    }
}

fn conflicts(decisions: &[DomainEvent]) -> Vec<&ConflictResolved> {
    decisions
        .iter()
        .filter_map(|event| match event {
            DomainEvent::ConflictResolved(resolved) => Some(resolved),
            _ => None,
        })
        .collect()
}

fn types(decisions: &[DomainEvent]) -> Vec<&'static str> {
    decisions.iter().map(DomainEvent::event_type).collect()
}

/// A local occurrence, published as `OURS` with CID `bafypub`.
fn published(log: &mut Log, details: EventDetails) -> OccurrenceId {
    let id = OccurrenceId(Uuid::from_u128(0x10ca1));
    let checksum = content_checksum(&details);
    let scheduled = OccurrenceScheduled {
        occurrence_id: id,
        series_id: None,
        details,
    };
    assert!(
        log.push(id.stream(), Origin::OpenMeet, scheduled.into())
            .is_empty()
    );
    let publication = OccurrencePublished {
        occurrence_id: id,
        uri: OURS.into(),
        cid: "bafypub".into(),
        checksum,
    };
    assert!(
        log.push(id.stream(), Origin::OpenMeet, publication.into())
            .is_empty()
    );
    id
}

fn arrived(
    log: &mut Log,
    id: OccurrenceId,
    uri: &str,
    cid: &str,
    record: String,
) -> Vec<DomainEvent> {
    let changed = EventChangedExternally {
        occurrence_id: id,
        uri: uri.into(),
        cid: cid.into(),
        record,
        observed_at: Timestamp::from_unix_micros(0),
    };
    log.push(id.stream(), Origin::Bluesky, changed.into())
}

#[test]
fn our_own_record_coming_back_with_its_cid_is_an_echo_and_changes_nothing() {
    let mut log = Log::new();
    let ours = details("Rust Meetup", "2026-12-01T18:00:00Z", json!([address()]));
    let id = published(&mut log, ours.clone());
    let record = record("Rust Meetup", "2026-12-01T18:00:00Z", json!([address()]));
    let decisions = arrived(&mut log, id, OURS, "bafypub", record);
    assert_eq!(types(&decisions), ["SelfPublishedEchoMatched"]);
    assert_eq!(log.occurrence(id).details(), Some(&ours));
}

#[test]
fn an_echo_whose_cid_changed_only_by_encoding_relinks_the_reference() {
    let mut log = Log::new();
    let ours = details("Rust Meetup", "2026-12-01T18:00:00Z", json!([address()]));
    let id = published(&mut log, ours.clone());
    // The same content, spelled differently: another CID, the same checksum.
    let respelled = json!({"locations": [address()], "startsAt": "2026-12-01T18:00:00.000Z",
        "createdAt": "2026-11-01T10:00:00Z", "name": "Rust Meetup",
        "$type": "community.lexicon.calendar.event"})
    .to_string();
    let decisions = arrived(&mut log, id, OURS, "bafyrespelled", respelled);
    assert_eq!(
        types(&decisions),
        ["SelfPublishedEchoMatched", "ExternalRefLinked"]
    );
    let DomainEvent::ExternalRefLinked(link) = &decisions[1] else {
        unreachable!()
    };
    assert_eq!(link.cid.as_deref(), Some("bafyrespelled"));
    assert_eq!(link.target, LocalRef::Occurrence(id));
    assert_eq!(log.decisions[1].stream, external_ref_stream(OURS));
    assert_eq!(log.occurrence(id).details(), Some(&ours));
}

#[test]
fn an_edit_on_bluesky_of_a_record_we_published_loses_to_openmeet_and_is_kept_for_audit() {
    let mut log = Log::new();
    let ours = details("Rust Meetup", "2026-12-01T18:00:00Z", json!([address()]));
    let id = published(&mut log, ours.clone());
    let edited = record(
        "Rust Meetup (renamed)",
        "2026-12-02T18:00:00Z",
        json!([address()]),
    );
    let decisions = arrived(&mut log, id, OURS, "bafyedited", edited);
    assert_eq!(
        types(&decisions),
        ["ConflictResolved", "ConflictResolved", "ExternalRefLinked"]
    );
    let resolved = conflicts(&decisions);
    assert_eq!(
        resolved[0].bluesky,
        FieldValue::Name("Rust Meetup (renamed)".into())
    );
    assert_eq!(resolved[0].openmeet, FieldValue::Name("Rust Meetup".into()));
    assert_eq!(resolved[0].winner, Winner::OpenMeet);
    assert_eq!(resolved[0].policy, Policy::SourceOfTruth);
    assert_eq!(resolved[1].resolved, FieldValue::StartsAt(ours.starts_at));
    assert_eq!(resolved[1].policy, Policy::SourceOfTruth);
    assert_eq!(log.occurrence(id).details(), Some(&ours));
}

#[test]
fn locations_of_a_published_record_are_merged_with_what_bluesky_added() {
    let mut log = Log::new();
    let id = published(
        &mut log,
        details("Rust Meetup", "2026-12-01T18:00:00Z", json!([address()])),
    );
    let with_geo = record(
        "Rust Meetup",
        "2026-12-01T18:00:00Z",
        json!([geo(), address()]),
    );
    let decisions = arrived(&mut log, id, OURS, "bafygeo", with_geo);
    let resolved = conflicts(&decisions);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].policy, Policy::LocationsMerged);
    assert_eq!(resolved[0].winner, Winner::Merged);
    let places = log.occurrence(id).details().unwrap().places.clone();
    assert_eq!(
        places.len(),
        2,
        "address and geo point, each once: {places:?}"
    );
    assert!(matches!(places[0], Place::Address { .. }));
    assert!(matches!(places[1], Place::Geo { .. }));
}

/// An occurrence imported from `THEIRS` (CID `bafy1`).
fn imported(log: &mut Log, record: String) -> OccurrenceId {
    let id = OccurrenceId::for_record(THEIRS);
    let import = EventImported {
        occurrence_id: id,
        uri: THEIRS.into(),
        cid: "bafy1".into(),
        record,
        observed_at: Timestamp::from_unix_micros(0),
    };
    assert!(
        log.push(id.stream(), Origin::Bluesky, import.into())
            .is_empty()
    );
    id
}

fn edit_in_openmeet(log: &mut Log, id: OccurrenceId, change: impl FnOnce(&mut EventDetails)) {
    let mut details = log.occurrence(id).details().unwrap().clone();
    change(&mut details);
    let edited = OccurrenceEdited {
        occurrence_id: id,
        details,
    };
    assert!(
        log.push(id.stream(), Origin::OpenMeet, edited.into())
            .is_empty()
    );
}

#[test]
fn a_manual_name_edit_of_an_imported_event_survives_a_later_firehose_update() {
    let mut log = Log::new();
    let id = imported(
        &mut log,
        record("Rust meetup", "2026-12-01T18:00:00Z", json!([])),
    );
    edit_in_openmeet(&mut log, id, |d| d.name = "Rust Meetup Berlin".into());
    let update = record("Rust meetup (updated)", "2026-12-01T18:00:00Z", json!([]));
    let decisions = arrived(&mut log, id, THEIRS, "bafy2", update);
    let resolved = conflicts(&decisions);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].policy, Policy::ManualEditPreserved);
    assert_eq!(resolved[0].winner, Winner::OpenMeet);
    assert_eq!(
        resolved[0].bluesky,
        FieldValue::Name("Rust meetup (updated)".into()),
        "the overridden value is kept for audit"
    );
    assert_eq!(
        log.occurrence(id).details().unwrap().name,
        "Rust Meetup Berlin"
    );
}

#[test]
fn without_a_manual_edit_the_firehose_update_of_an_imported_event_simply_applies() {
    let mut log = Log::new();
    let id = imported(
        &mut log,
        record("Rust meetup", "2026-12-01T18:00:00Z", json!([])),
    );
    edit_in_openmeet(&mut log, id, |d| {
        d.description = Some("Bring a laptop".into())
    });
    let update = record("Rust meetup (updated)", "2026-12-01T19:00:00Z", json!([]));
    let decisions = arrived(&mut log, id, THEIRS, "bafy2", update);
    let resolved = conflicts(&decisions);
    assert_eq!(
        resolved.len(),
        1,
        "only the edited description is contested"
    );
    assert_eq!(
        resolved[0].openmeet,
        FieldValue::Description(Some("Bring a laptop".into()))
    );
    let details = log.occurrence(id).details().unwrap().clone();
    assert_eq!(details.name, "Rust meetup (updated)");
    assert_eq!(details.description.as_deref(), Some("Bring a laptop"));
    assert_eq!(
        details.starts_at.map(|at| at.to_string()).as_deref(),
        Some("2026-12-01T19:00:00Z")
    );
}

#[test]
fn a_manual_time_edit_of_an_imported_event_yields_to_the_source_of_truth() {
    let mut log = Log::new();
    let id = imported(
        &mut log,
        record("Rust meetup", "2026-12-01T18:00:00Z", json!([])),
    );
    edit_in_openmeet(&mut log, id, |d| {
        d.starts_at = Timestamp::parse_rfc3339("2026-12-01T17:30:00Z").ok()
    });
    let update = record("Rust meetup", "2026-12-01T18:15:00Z", json!([]));
    let decisions = arrived(&mut log, id, THEIRS, "bafy2", update);
    let resolved = conflicts(&decisions);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].policy, Policy::SourceOfTruth);
    assert_eq!(resolved[0].winner, Winner::Bluesky);
    let starts_at = log.occurrence(id).details().unwrap().starts_at;
    assert_eq!(
        starts_at.map(|at| at.to_string()).as_deref(),
        Some("2026-12-01T18:15:00Z")
    );
    let again = record("Rust meetup", "2026-12-01T18:20:00Z", json!([]));
    assert!(
        conflicts(&arrived(&mut log, id, THEIRS, "bafy3", again)).is_empty(),
        "once the source of truth has spoken, the field is no longer an OpenMeet edit"
    );
}

#[test]
fn locations_added_in_openmeet_to_an_imported_event_are_merged_with_the_record() {
    let mut log = Log::new();
    let id = imported(
        &mut log,
        record("Rust meetup", "2026-12-01T18:00:00Z", json!([geo()])),
    );
    let street = details("x", "2026-12-01T18:00:00Z", json!([address()])).places;
    edit_in_openmeet(&mut log, id, |d| d.places.extend(street));
    let update = record("Rust meetup", "2026-12-01T18:00:00Z", json!([geo()]));
    let decisions = arrived(&mut log, id, THEIRS, "bafy2", update);
    let resolved = conflicts(&decisions);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].policy, Policy::LocationsMerged);
    let places = log.occurrence(id).details().unwrap().places.clone();
    assert!(
        matches!(
            places.as_slice(),
            [Place::Geo { .. }, Place::Address { .. }]
        ),
        "{places:?}"
    );
}

#[test]
fn a_decision_recorded_after_a_newer_edit_does_not_undo_it() {
    let mut log = Log::new();
    let id = imported(
        &mut log,
        record("Rust meetup", "2026-12-01T18:00:00Z", json!([])),
    );
    edit_in_openmeet(&mut log, id, |d| d.name = "Manual".into());
    let update = record("From Bluesky", "2026-12-01T18:00:00Z", json!([]));
    let decision = arrived(&mut log, id, THEIRS, "bafy2", update);
    // The same decision reaching the log once more, after a newer edit.
    edit_in_openmeet(&mut log, id, |d| d.name = "Newer manual".into());
    log.push(id.stream(), Origin::Bluesky, decision[0].clone());
    assert_eq!(log.occurrence(id).details().unwrap().name, "Newer manual");
}

fn answer(user: u128, status: AttendanceStatus, origin: Origin, at: i64) -> DomainEvent {
    RsvpChanged {
        occurrence_id: OccurrenceId::for_record(THEIRS),
        attendee_id: UserId(Uuid::from_u128(user)),
        status,
        origin,
        changed_at: Timestamp::from_unix_micros(at * 1_000_000),
        rsvp_uri: None,
        rsvp_cid: None,
    }
    .into()
}

fn rsvp(log: &mut Log, event: DomainEvent) -> Vec<DomainEvent> {
    log.push(
        attendance_stream(OccurrenceId::for_record(THEIRS)),
        Origin::Bluesky,
        event,
    )
}

#[test]
fn attendance_the_later_change_wins_from_either_platform() {
    use AttendanceStatus::{Attending, Declined};
    for (first, second, winner) in [
        (Origin::OpenMeet, Origin::Bluesky, Winner::Bluesky),
        (Origin::Bluesky, Origin::OpenMeet, Winner::OpenMeet),
    ] {
        let mut log = Log::new();
        assert!(rsvp(&mut log, answer(1, Attending, first, 100)).is_empty());
        let decisions = rsvp(&mut log, answer(1, Declined, second, 200));
        let resolved = conflicts(&decisions);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].winner, winner);
        assert_eq!(resolved[0].policy, Policy::LatestWins);
        assert_eq!(resolved[0].resolved, FieldValue::Attendance(Declined));
        assert_eq!(
            resolved[0].subject,
            ConflictSubject::Attendance {
                occurrence_id: OccurrenceId::for_record(THEIRS),
                attendee_id: UserId(Uuid::from_u128(1)),
            }
        );
    }
}

#[test]
fn attendance_an_older_change_arriving_late_loses_from_either_platform() {
    use AttendanceStatus::{Attending, Interested};
    for (late, winner) in [
        (Origin::OpenMeet, Winner::Bluesky),
        (Origin::Bluesky, Winner::OpenMeet),
    ] {
        let newer = match late {
            Origin::OpenMeet => Origin::Bluesky,
            Origin::Bluesky => Origin::OpenMeet,
        };
        let mut log = Log::new();
        rsvp(&mut log, answer(1, Attending, newer, 200));
        let resolved_events = rsvp(&mut log, answer(1, Interested, late, 100));
        let resolved = conflicts(&resolved_events);
        assert_eq!(resolved[0].winner, winner);
        assert_eq!(resolved[0].resolved, FieldValue::Attendance(Attending));
        assert_eq!(resolved[0].in_effect, FieldValue::Attendance(Attending));
    }
}

#[test]
fn attendance_at_the_same_instant_is_decided_the_same_way_in_either_order() {
    use AttendanceStatus::{Attending, Declined};
    let a = answer(1, Attending, Origin::OpenMeet, 100);
    let b = answer(1, Declined, Origin::Bluesky, 100);
    let mut one = Log::new();
    rsvp(&mut one, a.clone());
    let first = conflicts(&rsvp(&mut one, b.clone()))[0].resolved.clone();
    let mut other = Log::new();
    rsvp(&mut other, b);
    let second = conflicts(&rsvp(&mut other, a))[0].resolved.clone();
    assert_eq!(first, second);
}

#[test]
fn decisions_carry_their_cause_and_derive_their_ids_from_it() {
    let mut log = Log::new();
    let id = imported(
        &mut log,
        record("Rust meetup", "2026-12-01T18:00:00Z", json!([])),
    );
    edit_in_openmeet(&mut log, id, |d| d.name = "Manual".into());
    arrived(
        &mut log,
        id,
        THEIRS,
        "bafy2",
        record("x", "2026-12-01T18:00:00Z", json!([])),
    );
    let cause = &log.events[2].0;
    let decision = &log.decisions[0];
    assert_eq!(
        decision.metadata.causation_id,
        Some(cause.metadata.event_id)
    );
    assert_eq!(
        decision.metadata.event_id,
        EventId::caused_by(cause.metadata.event_id, "conflict/name")
    );
    assert_eq!(decision.metadata.actor, Actor::system("process-manager"));
}

proptest! {
    // Replaying a log that already holds the decisions reproduces exactly
    // the decisions it holds: what `audit verify` relies on.
    #[test]
    fn replaying_the_log_reproduces_its_decisions(
        names in prop::collection::vec("[A-C]", 1..6),
        manual in prop::collection::vec(any::<bool>(), 1..6),
    ) {
        let mut log = Log::new();
        let id = imported(&mut log, record("A", "2026-12-01T18:00:00Z", json!([])));
        for (n, (name, edit)) in names.iter().zip(manual.iter().cycle()).enumerate() {
            if *edit {
                edit_in_openmeet(&mut log, id, |d| d.name = format!("manual {name}"));
            }
            arrived(&mut log, id, THEIRS, &format!("bafy{n}x"), record(name, "2026-12-01T18:00:00Z", json!([])));
        }
        let mut replayed = vec![];
        let mut manager = ProcessManager::default();
        for (recorded, event) in &log.events {
            let (next, commands) = manager.handle(recorded, event);
            manager = next;
            replayed.extend(commands);
        }
        prop_assert_eq!(replayed, log.decisions.clone());
    }
}

const ORGANIZER: &str = "did:plc:organizer";

/// Imports `name` at `starts_at` as the organizer's record `rkey`; returns
/// the decisions.
fn import(
    log: &mut Log,
    organizer: &str,
    rkey: &str,
    name: &str,
    starts_at: &str,
) -> Vec<DomainEvent> {
    let uri = format!("at://{organizer}/community.lexicon.calendar.event/{rkey}");
    let id = OccurrenceId::for_record(&uri);
    let imported = EventImported {
        occurrence_id: id,
        uri: uri.clone(),
        cid: format!("bafy{rkey}"),
        record: record(name, starts_at, json!([])),
        observed_at: Timestamp::from_unix_micros(0),
    };
    log.push(id.stream(), Origin::Bluesky, imported.into())
}

fn proposals(decisions: &[DomainEvent]) -> Vec<&SeriesProposed> {
    decisions
        .iter()
        .filter_map(|decision| match decision {
            DomainEvent::SeriesProposed(proposed) => Some(proposed),
            _ => None,
        })
        .collect()
}

/// Three weekly Tuesdays of one organizer.
fn weekly_three(log: &mut Log) -> Vec<DomainEvent> {
    assert!(
        import(
            log,
            ORGANIZER,
            "3la",
            "Rust Meetup #12",
            "2026-12-01T18:00:00Z"
        )
        .is_empty()
    );
    assert!(
        import(
            log,
            ORGANIZER,
            "3lb",
            "Rust Meetup #13",
            "2026-12-08T18:00:00Z"
        )
        .is_empty()
    );
    import(
        log,
        ORGANIZER,
        "3lc",
        "Rust meetup #14",
        "2026-12-15T18:00:00Z",
    )
}

#[test]
fn the_import_that_completes_a_series_proposes_it_with_its_rule() {
    let mut log = Log::new();
    let decisions = weekly_three(&mut log);
    let proposed = proposals(&decisions);
    assert_eq!(proposed.len(), 1, "{decisions:?}");
    let proposal = proposed[0];
    assert_eq!(proposal.version, 1);
    assert_eq!(proposal.organizer, ORGANIZER);
    assert_eq!(proposal.uris.len(), 3);
    assert!(
        proposal.rrule.contains("RRULE:FREQ=WEEKLY"),
        "{}",
        proposal.rrule
    );
    assert_eq!(proposal.series_name, "rust meetup");
    assert_eq!(log.decisions[0].stream, proposal.proposal_id.stream());
}

#[test]
fn a_proposal_that_gains_a_member_gets_a_new_version_not_a_duplicate() {
    let mut log = Log::new();
    let first = proposals(&weekly_three(&mut log))[0].clone();
    let decisions = import(
        &mut log,
        ORGANIZER,
        "3ld",
        "Rust Meetup #15",
        "2026-12-22T18:00:00Z",
    );
    let proposed = proposals(&decisions);
    assert_eq!(proposed.len(), 1);
    assert_eq!(proposed[0].proposal_id, first.proposal_id);
    assert_eq!(proposed[0].version, 2);
    assert_eq!(proposed[0].uris.len(), 4);
}

#[test]
fn a_new_version_of_a_member_that_changes_nothing_detection_reads_proposes_nothing() {
    let mut log = Log::new();
    weekly_three(&mut log);
    let uri = format!("at://{ORGANIZER}/community.lexicon.calendar.event/3lb");
    let described = json!({"$type": "community.lexicon.calendar.event", "name": "Rust Meetup #13",
        "createdAt": "2026-11-01T10:00:00Z", "startsAt": "2026-12-08T18:00:00Z",
        "description": "now with pizza"})
    .to_string();
    let decisions = arrived(
        &mut log,
        OccurrenceId::for_record(&uri),
        &uri,
        "bafy3lb2",
        described,
    );
    assert!(proposals(&decisions).is_empty(), "{decisions:?}");
}

#[test]
fn another_organizers_imports_leave_the_proposal_alone() {
    let mut log = Log::new();
    weekly_three(&mut log);
    let decisions = import(
        &mut log,
        "did:plc:other",
        "3lx",
        "Rust Meetup #16",
        "2026-12-22T18:00:00Z",
    );
    assert!(decisions.is_empty(), "{decisions:?}");
}

#[test]
fn a_deleted_member_changes_the_proposal_to_the_members_left() {
    let mut log = Log::new();
    let first = proposals(&weekly_three(&mut log))[0].clone();
    import(
        &mut log,
        ORGANIZER,
        "3ld",
        "Rust Meetup #15",
        "2026-12-22T18:00:00Z",
    );
    let uri = format!("at://{ORGANIZER}/community.lexicon.calendar.event/3ld");
    let id = OccurrenceId::for_record(&uri);
    let deleted = domain::occurrence::EventDeletedExternally {
        occurrence_id: id,
        uri,
        observed_at: Timestamp::from_unix_micros(0),
    };
    let decisions = log.push(id.stream(), Origin::Bluesky, deleted.into());
    let proposed = proposals(&decisions);
    assert_eq!(proposed.len(), 1);
    assert_eq!(
        (proposed[0].proposal_id, proposed[0].version),
        (first.proposal_id, 3)
    );
    assert_eq!(proposed[0].uris, first.uris);
}

/// The organizer answers `proposal` (rejects it, or accepts it as `series`).
fn answer_proposal(
    log: &mut Log,
    proposal: &SeriesProposed,
    accept: Option<SeriesId>,
) -> Vec<DomainEvent> {
    let review = ProposalReview::Open(proposal.clone());
    let command = match accept {
        Some(series_id) => ReviewCommand::Accept { series_id },
        None => ReviewCommand::Reject,
    };
    let answers = review
        .decide(&command, Timestamp::from_unix_micros(0))
        .unwrap();
    answers
        .into_iter()
        .flat_map(|answer| log.push(proposal.proposal_id.stream(), Origin::OpenMeet, answer))
        .collect()
}

#[test]
fn a_rejected_group_is_not_proposed_again_while_no_new_event_joins_it() {
    let mut log = Log::new();
    let first = proposals(&weekly_three(&mut log))[0].clone();
    assert!(answer_proposal(&mut log, &first, None).is_empty());
    let changed = EventChangedExternally {
        occurrence_id: OccurrenceId::for_record(&first.uris[0]),
        uri: first.uris[0].clone(),
        cid: "bafychanged".into(),
        record: record(
            "Rust Meetup #12 (new room)",
            "2026-12-01T18:00:00Z",
            json!([]),
        ),
        observed_at: Timestamp::from_unix_micros(1),
    };
    let stream = OccurrenceId::for_record(&first.uris[0]).stream();
    assert!(
        proposals(&log.push(stream, Origin::Bluesky, changed.into())).is_empty(),
        "a member changed, but the group is the one rejected"
    );
    let joined = import(
        &mut log,
        ORGANIZER,
        "3ld",
        "Rust Meetup #15",
        "2026-12-22T18:00:00Z",
    );
    let proposed = proposals(&joined);
    assert_eq!(proposed.len(), 1, "a new event joined: proposed again");
    assert_eq!(
        (
            proposed[0].proposal_id,
            proposed[0].version,
            proposed[0].uris.len()
        ),
        (first.proposal_id, 2, 4)
    );
}

#[test]
fn the_members_of_an_accepted_proposal_are_not_proposed_again() {
    let mut log = Log::new();
    let first = proposals(&weekly_three(&mut log))[0].clone();
    assert!(answer_proposal(&mut log, &first, Some(SeriesId(Uuid::from_u128(5)))).is_empty());
    let joined = import(
        &mut log,
        ORGANIZER,
        "3ld",
        "Rust Meetup #15",
        "2026-12-22T18:00:00Z",
    );
    assert!(
        proposals(&joined).is_empty(),
        "one new event alone is no series: {joined:?}"
    );
}

#[test]
fn a_proposal_is_answered_once_and_an_adjustment_is_checked() {
    let mut log = Log::new();
    let first = proposals(&weekly_three(&mut log))[0].clone();
    let open = ProposalReview::Open(first.clone());
    let at = Timestamp::from_unix_micros(0);
    let series_id = SeriesId(Uuid::from_u128(5));
    let accepted: ProposalReview = ProposalReview::replay(
        &[DomainEvent::SeriesProposed(first.clone())]
            .into_iter()
            .chain(
                open.decide(&ReviewCommand::Accept { series_id }, at)
                    .unwrap(),
            )
            .collect::<Vec<_>>(),
    );
    assert_eq!(accepted, ProposalReview::Accepted { series_id });
    assert_eq!(
        accepted.decide(&ReviewCommand::Reject, at),
        Err(ReviewError::AlreadyAccepted(series_id))
    );
    let stranger = "at://did:plc:stranger/community.lexicon.calendar.event/3lx".to_owned();
    let adjust = |uris: Vec<String>, rrule: &str| ReviewCommand::Adjust {
        series_id,
        uris,
        rrule: rrule.into(),
    };
    assert!(matches!(
        open.decide(
            &adjust(vec![first.uris[0].clone(), stranger], &first.rrule),
            at
        ),
        Err(ReviewError::NotTheOrganizers { .. })
    ));
    assert_eq!(
        open.decide(&adjust(vec![first.uris[0].clone()], &first.rrule), at),
        Err(ReviewError::TooFewMembers(1))
    );
    assert!(matches!(
        open.decide(&adjust(first.uris.clone(), "RRULE:FREQ=SOMETIMES"), at),
        Err(ReviewError::Rule(_))
    ));
    let adjusted = open
        .decide(&adjust(first.uris[..2].to_vec(), &first.rrule), at)
        .unwrap();
    assert_eq!(
        adjusted
            .iter()
            .map(DomainEvent::event_type)
            .collect::<Vec<_>>(),
        ["SeriesProposalAdjusted", "SeriesProposalAccepted"]
    );
}

fn registered(log: &mut Log, user: u128, did: &str) {
    let registered = domain::identity::AccountRegistered {
        user_id: UserId(Uuid::from_u128(user)),
        did: did.into(),
        handle: None,
    };
    log.push(
        domain::identity::identity_stream(did),
        Origin::OpenMeet,
        registered.into(),
    );
}

fn requests(decisions: &[DomainEvent]) -> Vec<&domain::sync::RsvpPublishRequested> {
    decisions
        .iter()
        .filter_map(|decision| match decision {
            DomainEvent::RsvpPublishRequested(request) => Some(request),
            _ => None,
        })
        .collect()
}

#[test]
fn an_openmeet_answer_of_a_full_account_to_a_bluesky_event_asks_for_one_rsvp_record() {
    let mut log = Log::new();
    let occurrence = imported(
        &mut log,
        record("Rust Meetup", "2026-12-01T18:00:00Z", json!([])),
    );
    registered(&mut log, 7, "did:plc:member");
    let first = rsvp(
        &mut log,
        answer(7, AttendanceStatus::Attending, Origin::OpenMeet, 10),
    );
    let request = requests(&first)[0].clone();
    assert_eq!(
        (
            request.did.as_str(),
            request.subject_uri.as_str(),
            request.subject_cid.as_str(),
            request.status,
            request.swap.clone()
        ),
        (
            "did:plc:member",
            THEIRS,
            "bafy1",
            AttendanceStatus::Attending,
            None
        )
    );
    assert!(
        domain::record_key::tid_micros(&request.rkey).is_some(),
        "a TID"
    );
    let published = domain::sync::RsvpPublished {
        occurrence_id: occurrence,
        attendee_id: UserId(Uuid::from_u128(7)),
        uri: format!(
            "at://did:plc:member/community.lexicon.calendar.rsvp/{}",
            request.rkey
        ),
        cid: "bafyrsvp1".into(),
    };
    log.push(
        attendance_stream(occurrence),
        Origin::OpenMeet,
        published.into(),
    );
    let changed = rsvp(
        &mut log,
        answer(7, AttendanceStatus::Declined, Origin::OpenMeet, 20),
    );
    let second = requests(&changed)[0];
    assert_eq!(
        (second.rkey.as_str(), second.swap.as_deref(), second.status),
        (
            request.rkey.as_str(),
            Some("bafyrsvp1"),
            AttendanceStatus::Declined
        ),
        "a change is a write to the same record, swapping the version we wrote"
    );
}

#[test]
fn answers_from_bluesky_of_shadows_or_to_events_without_a_record_ask_for_nothing() {
    let mut log = Log::new();
    imported(
        &mut log,
        record("Rust Meetup", "2026-12-01T18:00:00Z", json!([])),
    );
    registered(&mut log, 7, "did:plc:member");
    assert!(
        requests(&rsvp(
            &mut log,
            answer(7, AttendanceStatus::Attending, Origin::Bluesky, 10)
        ))
        .is_empty()
    );
    assert!(
        requests(&rsvp(
            &mut log,
            answer(8, AttendanceStatus::Attending, Origin::OpenMeet, 10)
        ))
        .is_empty(),
        "no account"
    );
    assert!(
        requests(&rsvp(
            &mut log,
            answer(7, AttendanceStatus::Interested, Origin::OpenMeet, 5)
        ))
        .is_empty(),
        "an older answer than the one in effect"
    );
}

#[test]
fn two_answers_in_one_batch_share_the_record_key() {
    let mut log = Log::new();
    imported(
        &mut log,
        record("Rust Meetup", "2026-12-01T18:00:00Z", json!([])),
    );
    registered(&mut log, 7, "did:plc:member");
    let mut manager = ProcessManager::default();
    let mut keys = vec![];
    for (recorded, event) in &log.events {
        manager = manager.handle(recorded, event).0;
    }
    for (at, status) in [
        (10, AttendanceStatus::Attending),
        (20, AttendanceStatus::Declined),
    ] {
        let event = answer(7, status, Origin::OpenMeet, at);
        let recorded = RecordedEvent {
            stream_id: attendance_stream(OccurrenceId::for_record(THEIRS)),
            stream_version: StreamVersion(0),
            global_position: GlobalPosition(100 + at as u64),
            recorded_at: Timestamp::from_unix_micros(0),
            metadata: EventMetadata {
                event_id: EventId(Uuid::from_u128(1000 + at as u128)),
                causation_id: None,
                correlation_id: None,
                origin: Origin::OpenMeet,
                actor: Actor::system("test"),
            },
            payload: event.encode(),
        };
        let (next, commands) = manager.handle(&recorded, &event);
        manager = next;
        for command in commands {
            if let DomainEvent::RsvpPublishRequested(request) = command.event {
                keys.push(request.rkey);
            }
        }
    }
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[0], keys[1],
        "decided before the first request came back from the log"
    );
}

#[test]
fn an_answer_to_an_openmeet_event_published_on_bluesky_goes_out_too() {
    let mut log = Log::new();
    registered(&mut log, 7, "did:plc:member");
    let occurrence = OccurrenceId(Uuid::from_u128(55));
    let scheduled = domain::occurrence::OccurrenceScheduled {
        occurrence_id: occurrence,
        series_id: None,
        details: details("Launch", "2026-12-01T18:00:00Z", json!([])),
    };
    log.push(occurrence.stream(), Origin::OpenMeet, scheduled.into());
    let answer = RsvpChanged {
        occurrence_id: occurrence,
        attendee_id: UserId(Uuid::from_u128(7)),
        status: AttendanceStatus::Attending,
        origin: Origin::OpenMeet,
        changed_at: Timestamp::from_unix_micros(1_000_000),
        rsvp_uri: None,
        rsvp_cid: None,
    };
    let before = log.push(
        attendance_stream(occurrence),
        Origin::OpenMeet,
        answer.into(),
    );
    assert!(requests(&before).is_empty(), "not on Bluesky yet");
    let published = OccurrencePublished {
        occurrence_id: occurrence,
        uri: "at://did:plc:owner/community.lexicon.calendar.event/3lpub".into(),
        cid: "bafypub".into(),
        checksum: String::new(),
    };
    log.push(occurrence.stream(), Origin::OpenMeet, published.into());
    let sync = domain::sync::AttendanceSyncRequested {
        occurrence_id: occurrence,
        attendee_id: None,
    };
    let decisions = log.push(attendance_stream(occurrence), Origin::OpenMeet, sync.into());
    let request = requests(&decisions)[0];
    assert_eq!(
        (request.subject_uri.as_str(), request.subject_cid.as_str()),
        (
            "at://did:plc:owner/community.lexicon.calendar.event/3lpub",
            "bafypub"
        )
    );
}

#[test]
fn an_accepted_proposal_creates_a_bluesky_series_named_as_its_members_share() {
    let mut log = Log::new();
    let first = proposals(&weekly_three(&mut log))[0].clone();
    let open = ProposalReview::Open(first.clone());
    let series_id = SeriesId(Uuid::from_u128(6));
    let answers = open
        .decide(
            &ReviewCommand::Accept { series_id },
            Timestamp::from_unix_micros(0),
        )
        .unwrap();
    let DomainEvent::SeriesProposalAccepted(accepted) = &answers[0] else {
        panic!("{answers:?}")
    };
    let member = |uri: &String| {
        let record = record("Rust Meetup #12", "2026-12-01T18:00:00Z", json!([]));
        let imported: DomainEvent = EventImported {
            occurrence_id: OccurrenceId::for_record(uri),
            uri: uri.clone(),
            cid: "bafy".into(),
            record,
            observed_at: Timestamp::from_unix_micros(0),
        }
        .into();
        (uri.clone(), Occurrence::replay([&imported]))
    };
    let members: Vec<_> = accepted.uris.iter().map(member).collect();
    let SeriesCommand::Create {
        series_id: created,
        details,
        recurrence,
        origin,
        ..
    } = series_of(accepted, &open, &members).unwrap()
    else {
        panic!("a creation")
    };
    assert_eq!(
        (created, details.name.as_str(), origin),
        (series_id, "Rust Meetup", Origin::Bluesky),
        "the members' shared name, and Bluesky's series"
    );
    assert_eq!(details.starts_at, Some(recurrence.starts_at));
    let mut gone = members.clone();
    gone[1].1 = Occurrence::Absent;
    assert_eq!(
        series_of(accepted, &open, &gone),
        Err(ReviewError::NotImported(accepted.uris[1].clone()))
    );
}

#[test]
fn an_overwrite_records_the_fields_the_other_client_changed_and_no_other() {
    let before = details("Rust Meetup", "2026-12-08T18:00:00Z", json!([]));
    let theirs = EventDetails {
        name: "Changed elsewhere".into(),
        ..before.clone()
    };
    let ours = details("Rust Meetup", "2026-12-08T19:00:00Z", json!([]));
    let fields = |resolutions: Vec<domain::sync::Resolution>| -> Vec<&'static str> {
        resolutions
            .iter()
            .map(|r| {
                assert_eq!(
                    (r.winner, r.policy),
                    (Winner::OpenMeet, Policy::SourceOfTruth)
                );
                assert_eq!(r.resolved, r.openmeet);
                r.resolved.field()
            })
            .collect()
    };
    assert_eq!(
        fields(domain::sync::overwritten(Some(&before), &ours, &theirs)),
        ["name"],
        "the time we moved is not theirs"
    );
    assert_eq!(
        fields(domain::sync::overwritten(None, &ours, &theirs)),
        ["name", "startsAt"],
        "without our last version, every field that differs"
    );
}
