//! What one delivery from the firehose decides: intake's pure step. Given
//! the streams it reads, as the store (and the deliveries before it in the
//! same batch) left them, [`decide`] says what to append, stream by stream,
//! with ids derived from the message, and what became of it. The adapter
//! (`ingest::apply`) loads each stream [`decide`] asks for, calls it again,
//! and stages what it returns; it decides nothing itself.

use std::collections::BTreeMap;

use crate::attendance::{
    Attendance, AttendanceCommand, ChangeRsvp, RsvpParked, WithdrawRsvp, attendance_stream,
    parked_rsvps_stream,
};
use crate::catalogue::DomainEvent;
use crate::decider::Decider;
use crate::envelope::{Actor, EventId, EventMetadata, Origin, StreamId};
use crate::external_ref::{ExternalRefLinked, LocalRef, external_ref_stream, linked_target};
use crate::identity::{Identity, IdentityCommand, UserId, identity_stream};
use crate::intake::{Change, Delivery};
use crate::occurrence::{Occurrence, OccurrenceCommand, OccurrenceId};

/// The streams a delivery reads, each with its events and their ids.
#[derive(Clone, Debug, Default)]
pub struct Streams {
    held: BTreeMap<StreamId, Vec<(EventId, DomainEvent)>>,
}

impl Streams {
    /// Holds `events`, all of `stream` there is.
    pub fn hold(&mut self, stream: StreamId, events: Vec<(EventId, DomainEvent)>) {
        self.held.insert(stream, events);
    }
}

/// Events to append to one stream, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Staged {
    /// The stream.
    pub stream: StreamId,
    /// The events, with their metadata.
    pub events: Vec<(EventMetadata, DomainEvent)>,
}

/// What became of a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Events are to be appended (their types, in order).
    Applied(Vec<&'static str>),
    /// Everything it means is recorded already: a redelivery.
    AlreadyApplied,
    /// An RSVP for an event not seen yet, kept until the event arrives.
    Parked,
    /// About a DID not known here, or changing nothing.
    Ignored(String),
}

/// What a delivery decided.
#[derive(Clone, Debug, PartialEq)]
pub struct Routed {
    /// What to append, in order.
    pub parts: Vec<Staged>,
    /// What became of it.
    pub routing: Routing,
}

/// Why [`decide`] gave no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undecided {
    /// It reads this stream, which it was not given: load it and ask again.
    Needs(StreamId),
    /// It can never be applied, for this reason.
    Refused(String),
}

/// What `delivery` decides, given the streams it reads.
pub fn decide(delivery: &Delivery, streams: &Streams) -> Result<Routed, Undecided> {
    let mut staging = Staging {
        streams,
        added: BTreeMap::new(),
        parts: vec![],
    };
    let routing = staging.decide(delivery)?;
    Ok(Routed {
        parts: staging.parts,
        routing,
    })
}

/// The streams as this delivery's earlier steps leave them.
struct Staging<'a> {
    streams: &'a Streams,
    added: BTreeMap<StreamId, Vec<(EventId, DomainEvent)>>,
    parts: Vec<Staged>,
}

fn refused(err: impl std::fmt::Display) -> Undecided {
    Undecided::Refused(err.to_string())
}

fn applied(types: Vec<&'static str>) -> Routing {
    if types.is_empty() {
        Routing::AlreadyApplied
    } else {
        Routing::Applied(types)
    }
}

impl Staging<'_> {
    /// The events of `stream`, with what was staged on it.
    fn events(
        &self,
        stream: &StreamId,
    ) -> Result<impl Iterator<Item = &(EventId, DomainEvent)>, Undecided> {
        let held = self
            .streams
            .held
            .get(stream)
            .ok_or_else(|| Undecided::Needs(stream.clone()))?;
        Ok(held
            .iter()
            .chain(self.added.get(stream).into_iter().flatten()))
    }

    fn is_empty(&mut self, stream: &StreamId) -> Result<bool, Undecided> {
        Ok(self.events(stream)?.next().is_none())
    }

    fn replay<D: Decider>(&self, stream: &StreamId) -> Result<D, Undecided> {
        Ok(D::replay(self.events(stream)?.map(|(_, event)| event)))
    }

    fn linked(&self, stream: &StreamId) -> Result<Option<LocalRef>, Undecided> {
        Ok(linked_target(self.events(stream)?.map(|(_, event)| event)))
    }

    /// Stages `events` for `delivery` on `stream`, the first with the id
    /// of `label`, the n-th after it with `label#n`: the types staged, none
    /// when nothing was decided or they are stored already (a message
    /// applied before, whose aggregate has moved on since, is found by its
    /// first event id: deciding again would record the old version as a
    /// new change).
    fn stage(
        &mut self,
        stream: &StreamId,
        label: &str,
        events: Vec<DomainEvent>,
        metadata: impl Fn(&str) -> EventMetadata,
    ) -> Result<Vec<&'static str>, Undecided> {
        let types: Vec<&'static str> = events.iter().map(DomainEvent::event_type).collect();
        let events: Vec<(EventMetadata, DomainEvent)> = events
            .into_iter()
            .enumerate()
            .map(|(n, event)| {
                let label = if n == 0 {
                    label.to_owned()
                } else {
                    format!("{label}#{n}")
                };
                (metadata(&label), event)
            })
            .collect();
        let Some((first, _)) = events.first() else {
            return Ok(vec![]);
        };
        let held: Vec<EventId> = self.events(stream)?.map(|(id, _)| *id).collect();
        if held.contains(&first.event_id) {
            return Ok(vec![]);
        }
        if let Some((metadata, _)) = events.iter().find(|(m, _)| held.contains(&m.event_id)) {
            return Err(Undecided::Refused(format!(
                "event {} is in {stream} already, without the events before it",
                metadata.event_id
            )));
        }
        self.added.entry(stream.clone()).or_default().extend(
            events
                .iter()
                .map(|(metadata, event)| (metadata.event_id, event.clone())),
        );
        self.parts.push(Staged {
            stream: stream.clone(),
            events,
        });
        Ok(types)
    }

    /// The occurrence an event record stands for: the one it was published
    /// from, when it is ours, or the one imported from it.
    fn occurrence_for(&self, uri: &str) -> Result<OccurrenceId, Undecided> {
        Ok(match self.linked(&external_ref_stream(uri))? {
            Some(LocalRef::Occurrence(published)) => published,
            _ => OccurrenceId::for_record(uri),
        })
    }

    fn decide(&mut self, delivery: &Delivery) -> Result<Routing, Undecided> {
        let at = delivery.observed_at;
        let ours = |label: &str| delivery.metadata(label);
        match &delivery.change {
            Change::EventVersion { uri, cid, record } => {
                let (mut types, _) = self.observe_author(delivery)?;
                let occurrence_id = self.occurrence_for(uri)?;
                let stream = occurrence_id.stream();
                let occurrence: Occurrence = self.replay(&stream)?;
                let command = OccurrenceCommand::Import {
                    uri: uri.clone(),
                    cid: cid.clone(),
                    record: record.clone(),
                    observed_at: at,
                };
                let events = occurrence.decide(&command, at).map_err(refused)?;
                types.extend(self.stage(&stream, "", events, ours)?);
                types.extend(self.unpark(occurrence_id)?);
                Ok(applied(types))
            }
            Change::EventDeleted { uri } => {
                let stream = self.occurrence_for(uri)?.stream();
                if self.is_empty(&stream)? {
                    return Err(Undecided::Refused(
                        "delete of an event record never imported: nothing to delete".into(),
                    ));
                }
                let occurrence: Occurrence = self.replay(&stream)?;
                let command = OccurrenceCommand::DeleteExternally {
                    uri: uri.clone(),
                    observed_at: at,
                };
                let events = occurrence.decide(&command, at).map_err(refused)?;
                Ok(applied(self.stage(&stream, "", events, ours)?))
            }
            Change::RsvpVersion {
                uri,
                cid,
                subject_uri,
                status,
            } => {
                let (mut types, attendee_id) = self.observe_author(delivery)?;
                let occurrence_id = self.occurrence_for(subject_uri)?;
                let change = ChangeRsvp {
                    occurrence_id,
                    attendee_id,
                    status: *status,
                    origin: Origin::Bluesky,
                    changed_at: at,
                    rsvp_uri: Some(uri.clone()),
                    rsvp_cid: Some(cid.clone()),
                };
                let link = external_ref_stream(uri);
                let target = LocalRef::Rsvp {
                    occurrence_id,
                    attendee_id,
                };
                let linked = self.linked(&link)?;
                if let Some(LocalRef::Rsvp {
                    occurrence_id: before,
                    attendee_id: by,
                }) = linked
                    && linked != Some(target)
                    && self.answered_since(before, by, at)?
                {
                    // The record answers another event now: this is an
                    // older version, redelivered.
                    return Ok(Routing::Ignored(format!(
                        "an older version of {uri} than the one recorded"
                    )));
                }
                if linked != Some(target) {
                    let linked = ExternalRefLinked {
                        uri: uri.clone(),
                        cid: Some(cid.clone()),
                        target,
                    };
                    types.extend(self.stage(&link, "link", vec![linked.into()], ours)?);
                }
                if self.is_empty(&occurrence_id.stream())? {
                    let parked = RsvpParked {
                        subject_uri: subject_uri.clone(),
                        rsvp: change.recorded(),
                    };
                    let stream = parked_rsvps_stream(occurrence_id);
                    let staged = self.stage(&stream, "parked", vec![parked.into()], ours)?;
                    return Ok(if staged.is_empty() && types.is_empty() {
                        Routing::AlreadyApplied
                    } else {
                        Routing::Parked
                    });
                }
                let stream = attendance_stream(occurrence_id);
                let attendance: Attendance = self.replay(&stream)?;
                let events = attendance
                    .decide(&AttendanceCommand::Change(change), at)
                    .unwrap_or_default();
                types.extend(self.stage(&stream, "", events, ours)?);
                Ok(applied(types))
            }
            Change::RsvpDeleted { uri } => self.withdraw(delivery, uri),
            Change::Identity { handle } => {
                let Some(handle) = handle else {
                    return Ok(Routing::Ignored(
                        "an identity message without a handle changes nothing here".into(),
                    ));
                };
                self.change_identity(delivery, IdentityCommand::ChangeHandle(handle.clone()))
            }
            Change::Account { active, status } => {
                let command = IdentityCommand::ChangeAccountStatus {
                    active: *active,
                    status: status.clone(),
                    observed_at: at,
                };
                self.change_identity(delivery, command)
            }
        }
    }

    /// A deleted RSVP record withdraws the answer it was linked to.
    fn withdraw(&mut self, delivery: &Delivery, uri: &str) -> Result<Routing, Undecided> {
        let Some(LocalRef::Rsvp {
            occurrence_id,
            attendee_id,
        }) = self.linked(&external_ref_stream(uri))?
        else {
            return Err(Undecided::Refused(
                "delete of an RSVP record never seen: nothing to withdraw".into(),
            ));
        };
        let stream = attendance_stream(occurrence_id);
        let mut attendance: Attendance = self.replay(&stream)?;
        if self.is_empty(&occurrence_id.stream())? {
            // The answer is parked until its event arrives: the withdrawal
            // is recorded now, so unparking finds the answer withdrawn
            // after it was given and skips it.
            for (_, event) in self.events(&parked_rsvps_stream(occurrence_id))? {
                if let DomainEvent::RsvpParked(parked) = event {
                    attendance = attendance.evolve(&parked.rsvp.clone().into());
                }
            }
        }
        let withdraw = WithdrawRsvp {
            occurrence_id,
            attendee_id,
            origin: Origin::Bluesky,
            withdrawn_at: delivery.observed_at,
            rsvp_uri: Some(uri.to_owned()),
        };
        let events = attendance
            .decide(&AttendanceCommand::Withdraw(withdraw), delivery.observed_at)
            .unwrap_or_default();
        Ok(applied(self.stage(&stream, "", events, |label| {
            delivery.metadata(label)
        })?))
    }

    /// Identity and account messages come for every DID on the network;
    /// only those of DIDs known here are recorded.
    fn change_identity(
        &mut self,
        delivery: &Delivery,
        command: IdentityCommand,
    ) -> Result<Routing, Undecided> {
        let stream = identity_stream(&delivery.did);
        let identity: Identity = self.replay(&stream)?;
        if identity == Identity::Unknown {
            return Ok(Routing::Ignored(format!(
                "{} is not known here",
                delivery.did
            )));
        }
        let events = identity
            .decide(&command, delivery.observed_at)
            .map_err(refused)?;
        Ok(applied(self.stage(&stream, "", events, |label| {
            delivery.metadata(label)
        })?))
    }

    /// The author of a record gets a shadow account unless it has one, or
    /// a full account; returns what was staged and the author's account (a
    /// full account that registered before its first record has an id of
    /// its own).
    fn observe_author(
        &mut self,
        delivery: &Delivery,
    ) -> Result<(Vec<&'static str>, UserId), Undecided> {
        let stream = identity_stream(&delivery.did);
        let identity: Identity = self.replay(&stream)?;
        let command = IdentityCommand::ObserveActivity {
            did: delivery.did.clone(),
            handle: None,
            display_name: None,
        };
        let events = identity
            .decide(&command, delivery.observed_at)
            .map_err(refused)?;
        let author = identity.profile().map_or_else(
            || UserId::shadow_for(&delivery.did),
            |profile| profile.user_id,
        );
        let staged = self.stage(&stream, "shadow-account", events, |label| {
            delivery.metadata(label)
        })?;
        Ok((staged, author))
    }

    /// Whether `attendee` gave `occurrence_id` an answer (given or parked)
    /// later than `at`.
    fn answered_since(
        &self,
        occurrence_id: OccurrenceId,
        attendee: UserId,
        at: crate::Timestamp,
    ) -> Result<bool, Undecided> {
        let attendance: Attendance = self.replay(&attendance_stream(occurrence_id))?;
        if attendance
            .answer(attendee)
            .is_some_and(|answer| answer.changed_at > at)
        {
            return Ok(true);
        }
        Ok(self
            .events(&parked_rsvps_stream(occurrence_id))?
            .any(|(_, event)| {
                matches!(event, DomainEvent::RsvpParked(parked)
                    if parked.rsvp.attendee_id == attendee && parked.rsvp.changed_at > at)
            }))
    }

    /// RSVPs parked for `occurrence_id` become answers now that it exists.
    fn unpark(&mut self, occurrence_id: OccurrenceId) -> Result<Vec<&'static str>, Undecided> {
        let parked: Vec<(EventId, DomainEvent)> = self
            .events(&parked_rsvps_stream(occurrence_id))?
            .cloned()
            .collect();
        let stream = attendance_stream(occurrence_id);
        let mut types = vec![];
        for (parked_id, event) in parked {
            let DomainEvent::RsvpParked(parked) = event else {
                continue;
            };
            let attendance: Attendance = self.replay(&stream)?;
            let change = ChangeRsvp::from(&parked.rsvp);
            let at = change.changed_at;
            let events = attendance
                .decide(&AttendanceCommand::Change(change), at)
                .unwrap_or_default();
            let caused = |label: &str| EventMetadata {
                event_id: EventId::caused_by(parked_id, label),
                causation_id: Some(parked_id),
                correlation_id: None,
                origin: Origin::Bluesky,
                actor: Actor::system("ingest"),
            };
            types.extend(self.stage(&stream, "unparked", events, caused)?);
        }
        Ok(types)
    }
}
