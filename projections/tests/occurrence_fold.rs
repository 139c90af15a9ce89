//! Property: for any sequence of commands on one occurrence (imported from
//! Bluesky or scheduled in OpenMeet: record versions, deletions on
//! Bluesky, edits, cancellations, deletions in OpenMeet, our own writes
//! published and unpublished), the occurrences read model's row says what
//! `Occurrence::replay` of the events the decider recorded says: its
//! state and its content.

use chrono::{DateTime, Utc};
use domain::decider::Decider;
use domain::occurrence::{EventDetails, Occurrence, OccurrenceCommand, OccurrenceId};
use domain::publishing::OccurrenceUnpublished;
use domain::sync::OccurrencePublished;
use domain::{
    Actor, DomainEvent, EventId, EventMetadata, GlobalPosition, Origin, RecordedEvent,
    StreamVersion, Timestamp,
};
use projections::models::occurrences::{OccurrenceRow, Occurrences};
use projections::read_model::ReadModel;
use proptest::prelude::*;

const URI: &str = "at://did:plc:organizer/community.lexicon.calendar.event/3lfold";
const NAMES: [&str; 3] = ["Rust Meetup", "Café Ünïcode", "Board games"];

#[derive(Clone, Debug)]
enum Step {
    Version { name: usize, day: u32, cid: u8 },
    DeletedOnBluesky,
    Edit { name: usize, day: u32 },
    Cancel,
    Delete,
    Published { cid: u8 },
    Unpublished,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..NAMES.len(), 1u32..28, 0u8..4)
            .prop_map(|(name, day, cid)| Step::Version { name, day, cid }),
        1 => Just(Step::DeletedOnBluesky),
        3 => (0..NAMES.len(), 1u32..28).prop_map(|(name, day)| Step::Edit { name, day }),
        1 => Just(Step::Cancel),
        1 => Just(Step::Delete),
        2 => (0u8..4).prop_map(|cid| Step::Published { cid }),
        1 => Just(Step::Unpublished),
    ]
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn record(name: &str, day: u32) -> String {
    serde_json::json!({
        "$type": "community.lexicon.calendar.event",
        "name": name,
        "createdAt": "2026-11-01T10:00:00Z",
        "startsAt": format!("2026-12-{day:02}T18:00:00Z"),
    })
    .to_string()
}

fn details(name: &str, day: u32) -> EventDetails {
    EventDetails {
        name: name.into(),
        description: None,
        starts_at: Some(at(&format!("2026-12-{day:02}T18:00:00Z"))),
        ends_at: None,
        time_zone: None,
        mode: None,
        status: None,
        places: vec![],
        links: vec![],
        rsvp_expected: None,
        created_at: at("2026-11-01T10:00:00Z"),
    }
}

/// The events the decider records for `step`, or the publisher's own facts
/// for our writes; none when the decider refuses it.
fn events_of(state: &Occurrence, id: OccurrenceId, step: &Step) -> Vec<DomainEvent> {
    let now = at("2026-11-02T10:00:00Z");
    let command = match step {
        Step::Version { name, day, cid } => OccurrenceCommand::Import {
            uri: URI.into(),
            cid: format!("bafy{cid}"),
            record: record(NAMES[*name], *day),
            observed_at: now,
        },
        Step::DeletedOnBluesky => OccurrenceCommand::DeleteExternally {
            uri: URI.into(),
            observed_at: now,
        },
        Step::Edit { name, day } => {
            let Some(current) = state.details() else {
                return vec![];
            };
            OccurrenceCommand::Edit(EventDetails {
                name: NAMES[*name].into(),
                starts_at: details("", *day).starts_at,
                ..current.clone()
            })
        }
        Step::Cancel => OccurrenceCommand::Cancel { reason: None },
        Step::Delete => OccurrenceCommand::Delete,
        Step::Published { cid } => {
            return match state {
                Occurrence::Local { .. } | Occurrence::Cancelled { .. } => vec![
                    OccurrencePublished {
                        occurrence_id: id,
                        uri: URI.into(),
                        cid: format!("bafy{cid}"),
                        checksum: String::new(),
                    }
                    .into(),
                ],
                _ => vec![],
            };
        }
        Step::Unpublished => {
            return match state {
                Occurrence::Local { .. } | Occurrence::Cancelled { .. } => vec![
                    OccurrenceUnpublished {
                        occurrence_id: id,
                        rkey: "3lfold".into(),
                    }
                    .into(),
                ],
                _ => vec![],
            };
        }
    };
    state.decide(&command, now).unwrap_or_default()
}

fn utc(at: Option<Timestamp>) -> Option<DateTime<Utc>> {
    at.map(Timestamp::to_datetime)
}

/// The row says what the state says.
fn agree(state: &Occurrence, row: Option<&OccurrenceRow>) -> Result<(), TestCaseError> {
    let expected = match state {
        Occurrence::Absent => {
            prop_assert!(row.is_none(), "{row:?}");
            return Ok(());
        }
        Occurrence::Local { .. } | Occurrence::Imported { .. } => "active",
        Occurrence::Cancelled { .. } => "cancelled",
        Occurrence::Unreadable { .. } => "unreadable",
        Occurrence::Removed { .. } | Occurrence::Deleted { .. } => "deleted",
    };
    let Some(row) = row else {
        return Err(TestCaseError::fail(format!("no row for {state:?}")));
    };
    prop_assert_eq!(&row.state, expected, "{:?}", state);
    if let Some(details) = state.details() {
        prop_assert_eq!(&row.name, &details.name, "{:?}", state);
        prop_assert_eq!(row.starts_at, utc(details.starts_at));
        prop_assert_eq!(&row.description, &details.description);
    }
    Ok(())
}

fn recorded(event: &DomainEvent, position: u64) -> RecordedEvent {
    RecordedEvent {
        stream_id: OccurrenceId::for_record(URI).stream(),
        stream_version: StreamVersion(position),
        global_position: GlobalPosition(position),
        recorded_at: at("2026-11-02T10:00:00Z"),
        metadata: EventMetadata {
            event_id: EventId(uuid::Uuid::nil()),
            causation_id: None,
            correlation_id: None,
            origin: Origin::Bluesky,
            actor: Actor::system("test"),
        },
        payload: event.encode(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn the_occurrences_row_is_the_occurrence_the_decider_folds(
        local in any::<bool>(),
        steps in proptest::collection::vec(step(), 0..16),
    ) {
        let id = OccurrenceId::for_record(URI);
        let mut state = Occurrence::Absent;
        let mut row: Option<OccurrenceRow> = None;
        let mut position = 0;
        let first = if local {
            vec![Step::Edit { name: 0, day: 1 }]
        } else {
            vec![Step::Version { name: 0, day: 1, cid: 0 }]
        };
        let scheduled = local.then(|| OccurrenceCommand::Schedule {
            occurrence_id: id,
            series_id: None,
            details: details(NAMES[0], 1),
        });
        for step in first.iter().chain(&steps) {
            let events = match (&scheduled, &state) {
                (Some(schedule), Occurrence::Absent) => {
                    state.decide(schedule, at("2026-11-02T10:00:00Z")).unwrap()
                }
                _ => events_of(&state, id, step),
            };
            for event in events {
                position += 1;
                state = state.evolve(&event);
                for key in Occurrences::keys(&event) {
                    row = Occurrences::apply(row.take(), &key, &recorded(&event, position), &event);
                }
            }
            agree(&state, row.as_ref())?;
        }
    }
}
