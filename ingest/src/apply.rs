//! One message in, its domain events out: parse, decide against the
//! aggregates as the store holds them, append. The processor, the HTTP
//! process endpoints and `import-jetstream` all come through here.
//!
//! Every event id derives from the message (see [`domain::intake`]) and
//! every append expects the version it decided against, so a redelivered
//! message writes nothing new and two processors racing on one aggregate
//! cannot both decide from the same state.

use domain::attendance::{
    Attendance, AttendanceCommand, ChangeRsvp, RsvpParked, WithdrawRsvp, attendance_stream,
    parked_rsvps_stream,
};
use domain::decider::Decider;
use domain::external_ref::{ExternalRefLinked, LocalRef, external_ref_stream, linked_target};
use domain::identity::{Identity, IdentityCommand, UserId, identity_stream};
use domain::intake::{Change, Delivery, Intake, Parsed, parse, rejection};
use domain::occurrence::{Occurrence, OccurrenceCommand, OccurrenceId};
use domain::{
    DomainEvent, EventId, EventMetadata, NewEvent, Origin, RecordedEvent, StreamId, StreamVersion,
};
use store::{AppendError, EventStore, ExpectedVersion, StoreError};
use thiserror::Error;

/// How often a decision is retried when another writer changed the
/// aggregate between the read and the append.
const CONFLICT_RETRIES: usize = 8;
/// Streams read whole; an aggregate is far smaller than this.
const STREAM_READ_LIMIT: usize = 100_000;

/// What became of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Events were appended (their types, in order).
    Applied(Vec<&'static str>),
    /// Everything it means is already recorded: a redelivery.
    AlreadyApplied,
    /// An RSVP for an event not seen yet, kept until the event arrives.
    Parked,
    /// Not something this system syncs, or about a DID it does not know.
    Ignored(String),
    /// It can never be applied; recorded as `RecordRejected`.
    Rejected {
        /// The AT-URI or source position.
        subject: String,
        /// Why.
        reason: String,
    },
}

/// A failure that may pass: retry the message later, do not acknowledge it.
#[derive(Debug, Error)]
#[error("message {position}: {source}")]
pub struct TransientError {
    /// The message's source position.
    pub position: String,
    /// What failed.
    #[source]
    pub source: StoreError,
}

/// Applies messages to one event store.
#[derive(Clone)]
pub struct Applier<S> {
    store: S,
}

struct Loaded<A> {
    stream: StreamId,
    version: StreamVersion,
    state: A,
    events: Vec<(EventId, DomainEvent)>,
}

impl<A> Loaded<A> {
    fn expected(&self) -> ExpectedVersion {
        if self.version.0 == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(self.version)
        }
    }
}

enum Step {
    Done(Outcome),
    Conflict,
}

enum Failure {
    Store(StoreError),
    Refused(String),
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::Store(err)
    }
}

impl<S: EventStore> Applier<S> {
    /// An applier writing to `store`.
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// Applies one message (Jetstream-shaped JSON). `position` names it in
    /// rejections and errors (such as `FIREHOSE:42` or `file.jsonl:7`).
    pub async fn apply(&self, raw: &str, position: &str) -> Result<Outcome, TransientError> {
        let transient = |source| TransientError {
            position: position.to_owned(),
            source,
        };
        let delivery = match parse(raw, position) {
            Parsed::Ignored(reason) => return Ok(Outcome::Ignored(reason)),
            Parsed::Rejected { subject, reason } => {
                return self.reject(&subject, &reason, raw).await.map_err(transient);
            }
            Parsed::Delivery(delivery) => delivery,
        };
        for _ in 0..CONFLICT_RETRIES {
            match self.decide(&delivery).await {
                Ok(Step::Done(outcome)) => return Ok(outcome),
                Ok(Step::Conflict) => continue,
                Err(Failure::Store(err)) => return Err(transient(err)),
                Err(Failure::Refused(reason)) => {
                    let subject = subject_of(&delivery);
                    return self.reject(&subject, &reason, raw).await.map_err(transient);
                }
            }
        }
        let reason = format!("the aggregates kept changing under {CONFLICT_RETRIES} attempts");
        self.reject(&subject_of(&delivery), &reason, raw)
            .await
            .map_err(transient)
    }

    async fn reject(&self, subject: &str, reason: &str, raw: &str) -> Result<Outcome, StoreError> {
        let Intake {
            stream,
            metadata,
            event,
        } = rejection("firehose", subject, reason, raw);
        match self
            .store
            .append(
                &stream,
                ExpectedVersion::Any,
                vec![encode(metadata, &event)],
            )
            .await
        {
            Ok(_) => Ok(Outcome::Rejected {
                subject: subject.to_owned(),
                reason: reason.to_owned(),
            }),
            Err(AppendError::Store(err)) => Err(err),
            Err(other) => Err(StoreError::Inconsistent {
                position: domain::GlobalPosition(0),
                problem: format!("recording a rejection of {subject}: {other}"),
            }),
        }
    }

    async fn decide(&self, delivery: &Delivery) -> Result<Step, Failure> {
        let at = delivery.observed_at;
        match &delivery.change {
            Change::EventVersion { uri, cid, record } => {
                let Some(mut types) = self.observe_author(delivery).await? else {
                    return Ok(Step::Conflict);
                };
                let occurrence = self
                    .load::<Occurrence>(OccurrenceId::for_record(uri).stream())
                    .await?;
                let command = OccurrenceCommand::Import {
                    uri: uri.clone(),
                    cid: cid.clone(),
                    record: record.clone(),
                    observed_at: at,
                };
                let events = occurrence
                    .state
                    .decide(&command, at)
                    .map_err(|err| Failure::Refused(err.to_string()))?;
                match self.append(&occurrence, delivery, "", events).await? {
                    Some(appended) => types.extend(appended),
                    None => return Ok(Step::Conflict),
                }
                types.extend(self.unpark(OccurrenceId::for_record(uri)).await?);
                Ok(Step::Done(outcome(types)))
            }
            Change::EventDeleted { uri } => {
                let occurrence = self
                    .load::<Occurrence>(OccurrenceId::for_record(uri).stream())
                    .await?;
                if occurrence.version.0 == 0 {
                    return Err(Failure::Refused(
                        "delete of an event record never imported: nothing to delete".into(),
                    ));
                }
                let command = OccurrenceCommand::DeleteExternally {
                    uri: uri.clone(),
                    observed_at: at,
                };
                let events = occurrence
                    .state
                    .decide(&command, at)
                    .map_err(|err| Failure::Refused(err.to_string()))?;
                Ok(finished(
                    self.append(&occurrence, delivery, "", events).await?,
                ))
            }
            Change::RsvpVersion {
                uri,
                cid,
                subject_uri,
                status,
            } => {
                let Some(mut types) = self.observe_author(delivery).await? else {
                    return Ok(Step::Conflict);
                };
                let occurrence_id = OccurrenceId::for_record(subject_uri);
                let change = ChangeRsvp {
                    occurrence_id,
                    attendee_id: UserId::shadow_for(&delivery.did),
                    status: *status,
                    origin: Origin::Bluesky,
                    changed_at: at,
                    rsvp_uri: Some(uri.clone()),
                    rsvp_cid: Some(cid.clone()),
                };
                let link = self.load::<Raw>(external_ref_stream(uri)).await?;
                let target = LocalRef::Rsvp {
                    occurrence_id,
                    attendee_id: change.attendee_id,
                };
                if linked_target(link.events.iter().map(|(_, e)| e)) != Some(target) {
                    let linked = ExternalRefLinked {
                        uri: uri.clone(),
                        cid: Some(cid.clone()),
                        target,
                    };
                    match self
                        .append(&link, delivery, "link", vec![linked.into()])
                        .await?
                    {
                        Some(appended) => types.extend(appended),
                        None => return Ok(Step::Conflict),
                    }
                }
                let subject_known = self.exists(&occurrence_id.stream()).await?;
                if !subject_known {
                    let parked = self.load::<Raw>(parked_rsvps_stream(occurrence_id)).await?;
                    let event = RsvpParked {
                        subject_uri: subject_uri.clone(),
                        rsvp: change.recorded(),
                    };
                    return Ok(
                        match self
                            .append(&parked, delivery, "parked", vec![event.into()])
                            .await?
                        {
                            Some(appended) if appended.is_empty() && types.is_empty() => {
                                Step::Done(Outcome::AlreadyApplied)
                            }
                            Some(_) => Step::Done(Outcome::Parked),
                            None => Step::Conflict,
                        },
                    );
                }
                let attendance = self
                    .load::<Attendance>(attendance_stream(occurrence_id))
                    .await?;
                let events = attendance
                    .state
                    .decide(&AttendanceCommand::Change(change), at)
                    .unwrap_or_default();
                match self.append(&attendance, delivery, "", events).await? {
                    Some(appended) => types.extend(appended),
                    None => return Ok(Step::Conflict),
                }
                Ok(Step::Done(outcome(types)))
            }
            Change::RsvpDeleted { uri } => {
                let link = self.load::<Raw>(external_ref_stream(uri)).await?;
                let Some(LocalRef::Rsvp {
                    occurrence_id,
                    attendee_id,
                }) = linked_target(link.events.iter().map(|(_, e)| e))
                else {
                    return Err(Failure::Refused(
                        "delete of an RSVP record never seen: nothing to withdraw".into(),
                    ));
                };
                let attendance = self
                    .load::<Attendance>(attendance_stream(occurrence_id))
                    .await?;
                let withdraw = WithdrawRsvp {
                    occurrence_id,
                    attendee_id,
                    origin: Origin::Bluesky,
                    withdrawn_at: at,
                    rsvp_uri: Some(uri.clone()),
                };
                let events = attendance
                    .state
                    .decide(&AttendanceCommand::Withdraw(withdraw), at)
                    .unwrap_or_default();
                Ok(finished(
                    self.append(&attendance, delivery, "", events).await?,
                ))
            }
            Change::Identity { handle } => {
                let Some(handle) = handle else {
                    return Ok(Step::Done(Outcome::Ignored(
                        "an identity message without a handle changes nothing here".into(),
                    )));
                };
                self.change_identity(delivery, IdentityCommand::ChangeHandle(handle.clone()))
                    .await
            }
            Change::Account { active, status } => {
                let command = IdentityCommand::ChangeAccountStatus {
                    active: *active,
                    status: status.clone(),
                    observed_at: at,
                };
                self.change_identity(delivery, command).await
            }
        }
    }

    /// Identity and account messages come for every DID on the network;
    /// only those of DIDs known here are recorded.
    async fn change_identity(
        &self,
        delivery: &Delivery,
        command: IdentityCommand,
    ) -> Result<Step, Failure> {
        let identity = self
            .load::<Identity>(identity_stream(&delivery.did))
            .await?;
        if identity.state == Identity::Unknown {
            return Ok(Step::Done(Outcome::Ignored(format!(
                "{} is not known here",
                delivery.did
            ))));
        }
        let events = identity
            .state
            .decide(&command, delivery.observed_at)
            .map_err(|err| Failure::Refused(err.to_string()))?;
        Ok(finished(
            self.append(&identity, delivery, "", events).await?,
        ))
    }

    /// The author of a record gets a shadow account unless it has one, or a
    /// full account. `None` when the identity changed meanwhile.
    async fn observe_author(
        &self,
        delivery: &Delivery,
    ) -> Result<Option<Vec<&'static str>>, Failure> {
        let identity = self
            .load::<Identity>(identity_stream(&delivery.did))
            .await?;
        let command = IdentityCommand::ObserveActivity {
            did: delivery.did.clone(),
            handle: None,
        };
        let events = identity
            .state
            .decide(&command, delivery.observed_at)
            .map_err(|err| Failure::Refused(err.to_string()))?;
        self.append(&identity, delivery, "shadow-account", events)
            .await
    }

    /// RSVPs parked for `occurrence_id` become answers now that it exists.
    async fn unpark(&self, occurrence_id: OccurrenceId) -> Result<Vec<&'static str>, Failure> {
        let parked = self.load::<Raw>(parked_rsvps_stream(occurrence_id)).await?;
        let mut types = vec![];
        for (parked_id, event) in &parked.events {
            let DomainEvent::RsvpParked(parked) = event else {
                continue;
            };
            let attendance = self
                .load::<Attendance>(attendance_stream(occurrence_id))
                .await?;
            let change = ChangeRsvp::from(&parked.rsvp);
            let at = change.changed_at;
            let events = attendance
                .state
                .decide(&AttendanceCommand::Change(change), at)
                .unwrap_or_default();
            if events.is_empty() {
                continue;
            }
            let new: Vec<NewEvent> = events
                .iter()
                .map(|event| {
                    let metadata = EventMetadata {
                        event_id: EventId::caused_by(*parked_id, "unparked"),
                        causation_id: Some(*parked_id),
                        correlation_id: None,
                        origin: Origin::Bluesky,
                        actor: domain::Actor::system("ingest"),
                    };
                    encode(metadata, event)
                })
                .collect();
            match self
                .store
                .append(&attendance.stream, attendance.expected(), new)
                .await
            {
                Ok(appended) if !appended.already_stored => types.push("RsvpChanged"),
                Ok(_) => {}
                Err(AppendError::Store(err)) => return Err(Failure::Store(err)),
                Err(AppendError::WrongExpectedVersion { .. }) => {
                    return Err(Failure::Store(StoreError::Inconsistent {
                        position: domain::GlobalPosition(0),
                        problem: format!(
                            "attendance of {occurrence_id} changed while a parked RSVP was applied"
                        ),
                    }));
                }
                Err(other) => return Err(Failure::Refused(other.to_string())),
            }
        }
        Ok(types)
    }

    async fn exists(&self, stream: &StreamId) -> Result<bool, StoreError> {
        Ok(!self
            .store
            .read_stream(stream, StreamVersion(1), 1)
            .await?
            .is_empty())
    }

    async fn load<A: Evolving>(&self, stream: StreamId) -> Result<Loaded<A>, StoreError> {
        let recorded = self
            .store
            .read_stream(&stream, StreamVersion(1), STREAM_READ_LIMIT)
            .await?;
        let mut events = Vec::with_capacity(recorded.len());
        for event in &recorded {
            events.push((event.metadata.event_id, decoded(event)?));
        }
        let state = A::from_events(events.iter().map(|(_, e)| e));
        Ok(Loaded {
            version: recorded
                .last()
                .map_or(StreamVersion(0), |e| e.stream_version),
            stream,
            state,
            events,
        })
    }

    /// Appends `events` decided against `loaded`. `None` when the stream
    /// moved meanwhile (decide again). The types appended otherwise: empty
    /// when nothing was decided or everything was already stored.
    async fn append<A>(
        &self,
        loaded: &Loaded<A>,
        delivery: &Delivery,
        label: &str,
        events: Vec<DomainEvent>,
    ) -> Result<Option<Vec<&'static str>>, Failure> {
        if events.is_empty() {
            return Ok(Some(vec![]));
        }
        let first_id = delivery.metadata(label).event_id;
        if loaded.events.iter().any(|(id, _)| *id == first_id) {
            // This message was applied before and the aggregate has moved
            // on since: deciding again against the newer state would record
            // the old version as a new change.
            return Ok(Some(vec![]));
        }
        let types: Vec<&'static str> = events.iter().map(DomainEvent::event_type).collect();
        let new = events
            .iter()
            .enumerate()
            .map(|(n, event)| {
                let label = if n == 0 {
                    label.to_owned()
                } else {
                    format!("{label}#{n}")
                };
                encode(delivery.metadata(&label), event)
            })
            .collect();
        match self
            .store
            .append(&loaded.stream, loaded.expected(), new)
            .await
        {
            Ok(appended) if appended.already_stored => Ok(Some(vec![])),
            Ok(_) => Ok(Some(types)),
            Err(AppendError::WrongExpectedVersion { .. }) => Ok(None),
            Err(AppendError::Store(err)) => Err(Failure::Store(err)),
            Err(other) => Err(Failure::Refused(other.to_string())),
        }
    }
}

/// A state folded from a stream's events.
trait Evolving {
    fn from_events<'a>(events: impl Iterator<Item = &'a DomainEvent>) -> Self;
}

impl<D: Decider> Evolving for D {
    fn from_events<'a>(events: impl Iterator<Item = &'a DomainEvent>) -> Self {
        D::replay(events)
    }
}

/// A stream read for its events only.
struct Raw;

impl Evolving for Raw {
    fn from_events<'a>(_: impl Iterator<Item = &'a DomainEvent>) -> Self {
        Raw
    }
}

fn decoded(event: &RecordedEvent) -> Result<DomainEvent, StoreError> {
    DomainEvent::decode(&event.payload).map_err(|err| StoreError::Inconsistent {
        position: event.global_position,
        problem: err.to_string(),
    })
}

fn encode(metadata: EventMetadata, event: &DomainEvent) -> NewEvent {
    NewEvent {
        metadata,
        payload: event.encode(),
    }
}

/// The step an append decided against its aggregate ends in: done, or
/// decide again when the aggregate moved meanwhile (`None`).
fn finished(appended: Option<Vec<&'static str>>) -> Step {
    appended.map_or(Step::Conflict, |types| Step::Done(outcome(types)))
}

fn outcome(types: Vec<&'static str>) -> Outcome {
    if types.is_empty() {
        Outcome::AlreadyApplied
    } else {
        Outcome::Applied(types)
    }
}

fn subject_of(delivery: &Delivery) -> String {
    match &delivery.change {
        Change::EventVersion { uri, .. }
        | Change::EventDeleted { uri }
        | Change::RsvpVersion { uri, .. }
        | Change::RsvpDeleted { uri } => uri.clone(),
        Change::Identity { .. } | Change::Account { .. } => delivery.did.clone(),
    }
}
