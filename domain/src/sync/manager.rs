//! The process manager: a pure fold over the global log that matches the
//! echoes of our own writes and resolves conflicts between the platforms.
//!
//! Its state is rebuilt from the log alone, and every decision is a command
//! to append one event whose id derives from the event that caused it, so
//! replaying the log reproduces the recorded decisions bit for bit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::decisions::{
    ConflictResolved, ConflictSubject, FieldValue, OccurrencePublished, Policy,
    SelfPublishedEchoMatched, Winner,
};
use super::detection::Detection;
use super::outbound::Outbound;
use super::policies::{Resolution, latest_answer, resolve_imported, resolve_published, winner_of};
use crate::attendance::{Answer, RsvpChanged, attendance_stream};
use crate::catalogue::DomainEvent;
use crate::checksum::content_checksum;
use crate::decider::Decider;
use crate::envelope::{Actor, Append, EventId, EventMetadata, Origin, RecordedEvent, StreamId};
use crate::external_ref::{ExternalRefLinked, LocalRef, external_ref_stream};
use crate::identity::UserId;
use crate::occurrence::{
    EventChangedExternally, EventDetails, Occurrence, OccurrenceId, details_of,
};

/// The actor of every decision, and the process manager's name as a
/// follower of the log (its checkpoint and its snapshot).
pub const ACTOR: &str = "process-manager";

/// The shape of [`ProcessManager`] in a snapshot: raised whenever its
/// types change (the golden snapshot test fails until then), so an older
/// snapshot is discarded rather than misread.
pub const SNAPSHOT_SHAPE: u32 = 1;

/// What the process manager knows of one occurrence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Followed {
    /// Recorded once, by the first event; never changes.
    origin: Origin,
    state: Occurrence,
    /// On an imported occurrence: the fields last edited in OpenMeet, with
    /// the values given there.
    manual: Vec<FieldValue>,
    published: Option<OccurrencePublished>,
}

/// The process manager's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessManager {
    occurrences: BTreeMap<OccurrenceId, Followed>,
    answers: BTreeMap<(OccurrenceId, UserId), Answer>,
    detection: Detection,
    outbound: Outbound,
}

/// The event types the process manager records.
pub const DECISIONS: [&str; 5] = [
    "ConflictResolved",
    "SelfPublishedEchoMatched",
    "ExternalRefLinked",
    "SeriesProposed",
    "RsvpPublishRequested",
];

/// True when `event` is a decision of the process manager (rather than, say,
/// a link the ingest or the publisher recorded).
pub fn is_decision(event: &RecordedEvent) -> bool {
    event.metadata.actor == Actor::system(ACTOR)
        && DECISIONS.contains(&event.payload.event_type.as_str())
}

/// The occurrence an event of an occurrence stream belongs to.
fn occurrence_of(event: &DomainEvent) -> Option<OccurrenceId> {
    Some(match event {
        DomainEvent::OccurrenceScheduled(e) => e.occurrence_id,
        DomainEvent::OccurrenceEdited(e) => e.occurrence_id,
        DomainEvent::OccurrenceCancelled(e) => e.occurrence_id,
        DomainEvent::OccurrenceDeleted(e) => e.occurrence_id,
        DomainEvent::EventImported(e) => e.occurrence_id,
        DomainEvent::EventChangedExternally(e) => e.occurrence_id,
        DomainEvent::EventDeletedExternally(e) => e.occurrence_id,
        DomainEvent::OccurrencePublished(e) => e.occurrence_id,
        DomainEvent::SelfPublishedEchoMatched(e) => e.occurrence_id,
        DomainEvent::ConflictResolved(ConflictResolved {
            subject: ConflictSubject::Occurrence(id),
            ..
        }) => *id,
        _ => return None,
    })
}

/// The origin an occurrence's first event gives it.
fn origin_of_first(event: &DomainEvent) -> Origin {
    match event {
        DomainEvent::EventImported(_) => Origin::Bluesky,
        _ => Origin::OpenMeet,
    }
}

/// Builds the commands caused by one event.
pub(super) struct Decisions<'a> {
    cause: &'a RecordedEvent,
    commands: Vec<Append>,
}

impl Decisions<'_> {
    /// The id of the event being handled.
    pub(super) fn cause_id(&self) -> EventId {
        self.cause.metadata.event_id
    }

    /// Records a decision caused by the event being handled; `label` tells
    /// it from the event's other decisions.
    pub(super) fn record(&mut self, stream: StreamId, label: &str, event: DomainEvent) {
        let cause = &self.cause.metadata;
        self.commands.push(Append {
            stream,
            metadata: EventMetadata {
                event_id: EventId::caused_by(cause.event_id, label),
                causation_id: Some(cause.event_id),
                correlation_id: cause.correlation_id,
                origin: cause.origin,
                actor: Actor::system(ACTOR),
            },
            event,
        });
    }

    fn resolved(&mut self, occurrence: OccurrenceId, in_effect: &EventDetails, r: Resolution) {
        let Some(in_effect) = r.resolved.read_from(in_effect) else {
            return;
        };
        let label = format!("conflict/{}", r.resolved.field());
        let decision = r.decided_for(occurrence, in_effect);
        self.record(occurrence.stream(), &label, decision.into());
    }
}

impl ProcessManager {
    /// Folds one event of the log, in log order, into the state, and says
    /// which decisions it calls for.
    pub fn handle(mut self, recorded: &RecordedEvent, event: &DomainEvent) -> (Self, Vec<Append>) {
        let mut decisions = Decisions {
            cause: recorded,
            commands: vec![],
        };
        if let Some(id) = occurrence_of(event) {
            self.occurrence_event(id, event, &mut decisions);
        }
        if let DomainEvent::RsvpChanged(changed) = event {
            self.answer(changed, &mut decisions);
            if self
                .answers
                .get(&(changed.occurrence_id, changed.attendee_id))
                .is_some_and(|kept| {
                    kept.origin == changed.origin
                        && kept.status == changed.status
                        && kept.changed_at == changed.changed_at
                })
            {
                self.outbound.answered(changed, &mut decisions);
            }
        }
        if let DomainEvent::AttendanceSyncRequested(sync) = event {
            let answers = self
                .answers
                .iter()
                .filter(|((occurrence, user), _)| {
                    *occurrence == sync.occurrence_id
                        && sync.attendee_id.is_none_or(|only| only == *user)
                })
                .map(|((_, user), answer)| (*user, answer.clone()))
                .collect();
            self.outbound
                .resync(sync.occurrence_id, answers, &mut decisions);
        }
        self.detection.answered(event);
        self.outbound.follow(event);
        if let DomainEvent::RsvpWithdrawn(withdrawn) = event {
            let key = (withdrawn.occurrence_id, withdrawn.attendee_id);
            if self
                .answers
                .get(&key)
                .is_some_and(|answer| answer.changed_at <= withdrawn.withdrawn_at)
            {
                self.answers.remove(&key);
            }
        }
        (self, decisions.commands)
    }

    fn occurrence_event(&mut self, id: OccurrenceId, event: &DomainEvent, out: &mut Decisions) {
        let followed = self.occurrences.entry(id).or_insert_with(|| Followed {
            origin: origin_of_first(event),
            state: Occurrence::Absent,
            manual: vec![],
            published: None,
        });
        let before = followed.state.details().cloned();
        followed.state = std::mem::take(&mut followed.state).evolve(event);
        if followed.origin == Origin::Bluesky {
            self.detection.imported_event(event, out);
        }
        match event {
            DomainEvent::OccurrenceEdited(_) if followed.origin == Origin::Bluesky => {
                let (Some(before), Some(after)) = (before, followed.state.details()) else {
                    return;
                };
                for (old, new) in FieldValue::all_of(&before)
                    .into_iter()
                    .zip(FieldValue::all_of(after))
                {
                    if old != new {
                        followed.manual.retain(|kept| kept.field() != new.field());
                        followed.manual.push(new);
                    }
                }
            }
            DomainEvent::OccurrencePublished(published) => {
                followed.published = Some(published.clone());
            }
            DomainEvent::EventChangedExternally(changed) => {
                let Ok(incoming) = details_of(&changed.uri, &changed.record) else {
                    return;
                };
                match followed.origin {
                    Origin::Bluesky => followed.imported_changed(id, &incoming, out),
                    Origin::OpenMeet => followed.published_changed(changed, &incoming, out),
                }
            }
            _ => {}
        }
    }

    fn answer(&mut self, changed: &RsvpChanged, out: &mut Decisions) {
        let key = (changed.occurrence_id, changed.attendee_id);
        let new = Answer {
            status: changed.status,
            origin: changed.origin,
            changed_at: changed.changed_at,
        };
        let Some(current) = self.answers.remove(&key) else {
            self.answers.insert(key, new);
            return;
        };
        if current.origin != new.origin && current.status != new.status {
            let in_effect = FieldValue::Attendance(current.status);
            let (openmeet, bluesky) = match new.origin {
                Origin::OpenMeet => (new.status, current.status),
                Origin::Bluesky => (current.status, new.status),
            };
            let kept = latest_answer(current, new.clone());
            let decision = ConflictResolved {
                subject: ConflictSubject::Attendance {
                    occurrence_id: changed.occurrence_id,
                    attendee_id: changed.attendee_id,
                },
                openmeet: FieldValue::Attendance(openmeet),
                bluesky: FieldValue::Attendance(bluesky),
                winner: winner_of(kept.origin),
                policy: Policy::LatestWins,
                in_effect,
                resolved: FieldValue::Attendance(kept.status),
            };
            out.record(
                attendance_stream(changed.occurrence_id),
                &format!("conflict/attendance/{}", changed.attendee_id.0),
                decision.into(),
            );
            self.answers.insert(key, kept);
        } else {
            self.answers.insert(key, latest_answer(current, new));
        }
    }
}

impl Followed {
    /// A new version of an imported record: manual edits of OpenMeet meet
    /// the source of truth.
    fn imported_changed(&mut self, id: OccurrenceId, incoming: &EventDetails, out: &mut Decisions) {
        let Some(in_effect) = self.state.details().cloned() else {
            return;
        };
        for resolution in resolve_imported(&self.manual, incoming) {
            if resolution.winner == Winner::Bluesky {
                // The source of truth changed the field: it is no longer an
                // OpenMeet edit to defend.
                self.manual
                    .retain(|kept| kept.field() != resolution.resolved.field());
            }
            out.resolved(id, &in_effect, resolution);
        }
    }

    /// A version of a record we published: our echo, or an edit made on
    /// Bluesky that meets OpenMeet's values.
    fn published_changed(
        &mut self,
        changed: &EventChangedExternally,
        incoming: &EventDetails,
        out: &mut Decisions,
    ) {
        let id = changed.occurrence_id;
        let checksum = content_checksum(incoming);
        let link = ExternalRefLinked {
            uri: changed.uri.clone(),
            cid: Some(changed.cid.clone()),
            target: LocalRef::Occurrence(id),
        };
        if let Some(published) = &self.published
            && (published.cid == changed.cid || published.checksum == checksum)
        {
            let echo = SelfPublishedEchoMatched {
                occurrence_id: id,
                uri: changed.uri.clone(),
                cid: changed.cid.clone(),
                published_cid: published.cid.clone(),
                checksum,
            };
            let relink = published.cid != changed.cid;
            out.record(id.stream(), "echo", echo.into());
            if relink {
                out.record(external_ref_stream(&changed.uri), "link", link.into());
            }
            return;
        }
        let Some(ours) = self.state.details().cloned() else {
            return;
        };
        for resolution in resolve_published(&ours, incoming) {
            out.resolved(id, &ours, resolution);
        }
        out.record(external_ref_stream(&changed.uri), "link", link.into());
    }
}
