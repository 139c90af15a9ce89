//! Property: any sequence of OpenMeet's platform commands (create a series,
//! edit it, cancel or move one occurrence, delete it; create and edit a
//! standalone event), carried out by the rules of `domain::platform` and
//! the deciders, gives the same series and occurrences whether folded by
//! the deciders' `evolve` or by the read models the API serves.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::decider::Decider;
use domain::occurrence::{EventDetails, Occurrence, OccurrenceCommand, OccurrenceId};
use domain::platform::{self, EventDraft, EventPatch, RecurrenceRule, SeriesDraft, SeriesPatch};
use domain::series::{Series, SeriesCommand};
use domain::{
    Actor, DomainEvent, EventId, EventMetadata, GlobalPosition, Origin, RecordedEvent,
    StreamVersion, Timestamp,
};
use projections::models::occurrences::{OccurrenceRow, Occurrences};
use projections::models::series::{Series as SeriesModel, SeriesRow};
use projections::read_model::ReadModel;
use proptest::prelude::*;

const ZONES: [&str; 3] = ["Europe/Berlin", "America/New_York", "UTC"];
const NAMES: [&str; 3] = ["Rust Meetup", "Café Ünïcode", "Board games"];

/// One command of OpenMeet's platform.
#[derive(Clone, Debug)]
enum Step {
    EditSeries {
        name: Option<usize>,
        interval: Option<u32>,
        start_day: Option<u32>,
        zone: Option<usize>,
    },
    CancelOne {
        nth: u16,
    },
    MoveOne {
        nth: u16,
        hours: i64,
    },
    DeleteSeries,
    EditEvent {
        name: Option<usize>,
        start_day: Option<u32>,
        cancel: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (
            proptest::option::of(0..NAMES.len()),
            proptest::option::of(1u32..4),
            proptest::option::of(1u32..28),
            proptest::option::of(0..ZONES.len()),
        )
            .prop_map(|(name, interval, start_day, zone)| Step::EditSeries {
                name,
                interval,
                start_day,
                zone,
            }),
        3 => (0u16..6).prop_map(|nth| Step::CancelOne { nth }),
        3 => (0u16..6, -30i64..100).prop_map(|(nth, hours)| Step::MoveOne { nth, hours }),
        1 => Just(Step::DeleteSeries),
        3 => (
            proptest::option::of(0..NAMES.len()),
            proptest::option::of(1u32..28),
            any::<bool>(),
        )
            .prop_map(|(name, start_day, cancel)| Step::EditEvent {
                name,
                start_day,
                cancel,
            }),
    ]
}

/// The deciders' states and the read models' rows, side by side.
#[derive(Default)]
struct World {
    series: Series,
    occurrences: BTreeMap<OccurrenceId, Occurrence>,
    series_row: Option<SeriesRow>,
    occurrence_rows: BTreeMap<uuid::Uuid, OccurrenceRow>,
    position: u64,
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

const NOW: &str = "2026-11-01T10:00:00Z";

impl World {
    /// Records `events` as the store would, and folds them both ways.
    fn record(&mut self, events: Vec<DomainEvent>) {
        for event in events {
            self.position += 1;
            let recorded = RecordedEvent {
                stream_id: domain::StreamId::new("test", uuid::Uuid::nil()),
                stream_version: StreamVersion(self.position),
                global_position: GlobalPosition(self.position),
                recorded_at: at(NOW),
                metadata: EventMetadata {
                    event_id: EventId(uuid::Uuid::nil()),
                    causation_id: None,
                    correlation_id: None,
                    origin: Origin::OpenMeet,
                    actor: Actor::system("test"),
                },
                payload: event.encode(),
            };
            if matches!(
                &event,
                DomainEvent::SeriesCreated(_)
                    | DomainEvent::SeriesEdited(_)
                    | DomainEvent::RecurrenceChanged(_)
                    | DomainEvent::SeriesDeleted(_)
            ) {
                self.series = std::mem::take(&mut self.series).evolve(&event);
            } else if let Some(id) = occurrence_of(&event) {
                let state = self.occurrences.remove(&id).unwrap_or_default();
                self.occurrences.insert(id, state.evolve(&event));
            }
            for key in SeriesModel::keys(&event) {
                self.series_row =
                    SeriesModel::apply(self.series_row.take(), &key, &recorded, &event);
            }
            for key in Occurrences::keys(&event) {
                let row = self.occurrence_rows.remove(&key);
                if let Some(row) = Occurrences::apply(row, &key, &recorded, &event) {
                    self.occurrence_rows.insert(key, row);
                }
            }
        }
    }

    /// The events `commands` record one after another on `state`; none
    /// when the decider refuses one of them.
    fn decided<D: Decider + Clone>(state: &D, commands: &[D::Command]) -> Vec<DomainEvent> {
        let mut folded = state.clone();
        let mut events = vec![];
        for command in commands {
            let Ok(decided) = folded.decide(command, at(NOW)) else {
                return vec![];
            };
            folded = decided.iter().fold(folded, |s, e| s.evolve(e));
            events.extend(decided);
        }
        events
    }

    fn occurrence(&self, id: OccurrenceId) -> Occurrence {
        self.occurrences.get(&id).cloned().unwrap_or_default()
    }

    /// The `nth` start of the series' rule, as a path would name it.
    fn nth_start(&self, nth: u16) -> Option<String> {
        let recurrence = self.series.recurrence().ok()?;
        let starts = recurrence.schedule().ok()?.first(nth + 1).ok()?;
        starts.get(usize::from(nth)).map(|start| {
            start
                .to_datetime()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
    }

    fn take(&mut self, step: &Step, event_id: OccurrenceId) {
        let events = match step {
            Step::EditSeries {
                name,
                interval,
                start_day,
                zone,
            } => {
                let patch = SeriesPatch {
                    name: name.map(|n| NAMES[n].to_owned()),
                    time_zone: zone.map(|z| ZONES[z].to_owned()),
                    recurrence_rule: interval.map(|interval| RecurrenceRule {
                        frequency: "WEEKLY".into(),
                        interval: Some(interval),
                        ..RecurrenceRule::default()
                    }),
                    template_start_date: start_day.map(|d| format!("2026-12-{d:02}T18:00:00")),
                    ..SeriesPatch::default()
                };
                match platform::edit_series(&self.series, &patch) {
                    Ok(commands) => Self::decided(&self.series, &commands),
                    Err(_) => vec![],
                }
            }
            Step::CancelOne { nth } => {
                let Some(start) = self.nth_start(*nth) else {
                    return;
                };
                let Ok((id, _)) = platform::occurrence_at(&self.series, &start) else {
                    return;
                };
                let occurrence = self.occurrence(id);
                match platform::cancel_occurrence(&self.series, &start, &occurrence, None) {
                    Ok((_, commands)) => Self::decided(&occurrence, &commands),
                    Err(_) => vec![],
                }
            }
            Step::MoveOne { nth, hours } => {
                let Some(start) = self.nth_start(*nth) else {
                    return;
                };
                let Ok((id, _)) = platform::occurrence_at(&self.series, &start) else {
                    return;
                };
                let occurrence = self.occurrence(id);
                let to = (DateTime::parse_from_rfc3339(&start).unwrap().to_utc()
                    + chrono::Duration::hours(*hours))
                .to_rfc3339();
                match platform::move_occurrence(&self.series, &start, &occurrence, &to, None) {
                    Ok((_, commands)) => Self::decided(&occurrence, &commands),
                    Err(_) => vec![],
                }
            }
            Step::DeleteSeries => Self::decided(&self.series, &[SeriesCommand::Delete]),
            Step::EditEvent {
                name,
                start_day,
                cancel,
            } => {
                let patch = EventPatch {
                    name: name.map(|n| NAMES[n].to_owned()),
                    start_date: start_day.map(|d| format!("2026-12-{d:02}T19:00:00")),
                    status: cancel.then(|| "cancelled".to_owned()),
                    ..EventPatch::default()
                };
                let occurrence = self.occurrence(event_id);
                match platform::edit_event(&occurrence, &patch) {
                    Ok(commands) => Self::decided(&occurrence, &commands),
                    Err(_) => vec![],
                }
            }
        };
        self.record(events);
    }
}

/// The occurrence whose stream holds `event`.
fn occurrence_of(event: &DomainEvent) -> Option<OccurrenceId> {
    match event {
        DomainEvent::OccurrenceScheduled(e) => Some(e.occurrence_id),
        DomainEvent::OccurrenceEdited(e) => Some(e.occurrence_id),
        DomainEvent::OccurrenceCancelled(e) => Some(e.occurrence_id),
        DomainEvent::OccurrenceDeleted(e) => Some(e.occurrence_id),
        _ => None,
    }
}

fn utc(at: Option<Timestamp>) -> Option<DateTime<Utc>> {
    at.map(Timestamp::to_datetime)
}

fn same_details(row: &OccurrenceRow, details: &EventDetails) -> Result<(), TestCaseError> {
    prop_assert_eq!(&row.name, &details.name);
    prop_assert_eq!(&row.description, &details.description);
    prop_assert_eq!(row.starts_at, utc(details.starts_at));
    prop_assert_eq!(row.ends_at, utc(details.ends_at));
    prop_assert_eq!(&row.time_zone, &details.time_zone);
    Ok(())
}

/// The read models say what the deciders' states say.
fn agree(world: &World) -> Result<(), TestCaseError> {
    match (&world.series, &world.series_row) {
        (
            Series::Active {
                slug,
                details,
                recurrence,
                ..
            },
            Some(row),
        ) => {
            prop_assert_eq!(&row.slug, slug);
            prop_assert_eq!(&row.name, &details.name);
            prop_assert_eq!(row.starts_at, utc(details.starts_at));
            prop_assert_eq!(row.ends_at, utc(details.ends_at));
            prop_assert_eq!(&row.rrule, &recurrence.rule);
            prop_assert_eq!(&row.time_zone, &recurrence.time_zone);
            prop_assert_eq!(&row.details, &serde_json::to_value(details).unwrap());
        }
        (Series::Absent | Series::Removed { .. }, None) => {}
        (state, row) => prop_assert!(false, "{state:?} against {row:?}"),
    }
    prop_assert_eq!(world.occurrences.len(), world.occurrence_rows.len());
    for (id, occurrence) in &world.occurrences {
        let row = world.occurrence_rows.get(&id.0);
        let Some(row) = row else {
            return Err(TestCaseError::fail(format!("no row for {occurrence:?}")));
        };
        match occurrence {
            Occurrence::Local { details, .. } => {
                prop_assert_eq!(&row.state, "active");
                same_details(row, details)?;
            }
            Occurrence::Cancelled { details, .. } => {
                prop_assert_eq!(&row.state, "cancelled");
                same_details(row, details)?;
            }
            Occurrence::Removed { .. } => prop_assert_eq!(&row.state, "deleted"),
            other => prop_assert!(false, "an OpenMeet occurrence became {other:?}"),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_read_models_fold_platform_commands_as_the_deciders_do(
        steps in proptest::collection::vec(step(), 0..14),
        zone in 0..ZONES.len(),
        count in 2u32..12,
    ) {
        let mut world = World::default();
        let draft = SeriesDraft {
            openmeet_id: "series-1".into(),
            name: "Rust Meetup".into(),
            time_zone: Some(ZONES[zone].into()),
            recurrence_rule: RecurrenceRule {
                frequency: "WEEKLY".into(),
                count: Some(count),
                ..RecurrenceRule::default()
            },
            template_start_date: "2026-12-01T18:00:00".into(),
            template_end_date: Some("2026-12-01T20:00:00".into()),
            template_type: "in-person".into(),
            ..SeriesDraft::default()
        };
        let create = platform::create_series(&draft, at(NOW)).unwrap();
        world.record(World::decided(&world.series, &[create]));
        let event = EventDraft {
            openmeet_id: "event-1".into(),
            name: "Launch party".into(),
            start_date: "2026-12-10T19:00:00Z".into(),
            kind: "online".into(),
            ..EventDraft::default()
        };
        let schedule = platform::schedule_event(&event, at(NOW)).unwrap();
        let OccurrenceCommand::Schedule { occurrence_id, .. } = schedule else {
            unreachable!("a scheduling")
        };
        world.record(World::decided(&Occurrence::Absent, &[schedule]));
        agree(&world)?;
        for step in &steps {
            world.take(step, occurrence_id);
            agree(&world)?;
        }
    }
}
