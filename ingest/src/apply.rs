//! Messages in, their domain events out: parse, decide against the
//! aggregates as the store holds them, append. The processor, the HTTP
//! process endpoints and `import-jetstream` all come through here.
//!
//! Every event id derives from the message (see [`domain::intake`]) and
//! every append expects the version it decided against, so a redelivered
//! message writes nothing new and two processors racing on one aggregate
//! cannot both decide from the same state.
//!
//! A batch is decided message by message, in order, in one [`Session`]:
//! each message sees what the ones before it staged, and the batch is
//! appended in one transaction. A message that cannot be applied is rolled
//! back alone and recorded as rejected; when the commit itself fails
//! because another writer moved an aggregate, the batch is decided again.

use domain::attendance::{
    Attendance, AttendanceCommand, ChangeRsvp, RsvpParked, WithdrawRsvp, attendance_stream,
    parked_rsvps_stream,
};
use domain::decider::Decider;
use domain::external_ref::{ExternalRefLinked, LocalRef, external_ref_stream, linked_target};
use domain::identity::{Identity, IdentityCommand, UserId, identity_stream};
use domain::intake::{Change, Delivery, Parsed, parse, rejection};
use domain::occurrence::{Occurrence, OccurrenceCommand, OccurrenceId};
use domain::rejection::Input;
use std::ops::Range;

use domain::{DomainEvent, EventId, EventMetadata, Origin, StreamId};
use store::{AppendError, Appended, EventStore, StoreError, StreamAppend};
use thiserror::Error;
use tokio::task::JoinHandle;
use tracing::Instrument;

pub use crate::session::Carried;
use crate::session::{self, Failure, Session};

/// How often a batch is decided again when another writer changed one of
/// its aggregates between the read and the append.
const CONFLICT_RETRIES: usize = 8;

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

/// One message to apply.
#[derive(Clone, Copy, Debug)]
pub struct Incoming<'a> {
    /// The message, Jetstream-shaped JSON.
    pub raw: &'a str,
    /// Names it in rejections and errors (such as `FIREHOSE:42` or
    /// `file.jsonl:7`).
    pub position: &'a str,
    /// Set when the source could not pass the input on as a message at all
    /// (not UTF-8, too long, not a message): it is recorded as rejected.
    pub refused: Option<Refused<'a>>,
}

/// Input a source refused, as the consumer put it on the bus.
#[derive(Clone, Copy, Debug)]
pub struct Refused<'a> {
    /// Where the source held it (a file's path and line, a cursor).
    pub subject: &'a str,
    /// Why it is no message.
    pub reason: &'a str,
    /// What is known of it.
    pub input: Input<'a>,
}

impl<'a> Incoming<'a> {
    /// A message read at `position`.
    pub fn message(raw: &'a str, position: &'a str) -> Self {
        Self {
            raw,
            position,
            refused: None,
        }
    }

    fn parse(&self) -> Parsed {
        match self.refused {
            Some(refused) => Parsed::Rejected {
                subject: refused.subject.to_owned(),
                reason: refused.reason.to_owned(),
            },
            None => parse(self.raw, self.position),
        }
    }

    fn input(&self) -> Input<'a> {
        match self.refused {
            Some(refused) => refused.input,
            None => Input::Whole(self.raw.as_bytes()),
        }
    }
}

/// A failure that may pass: retry the messages later, do not acknowledge
/// them.
#[derive(Debug, Error)]
#[error("messages {positions}: {source}")]
pub struct TransientError {
    /// The source positions of the messages, first to last.
    pub positions: String,
    /// What failed.
    #[source]
    pub source: StoreError,
}

/// Applies messages to one event store.
#[derive(Clone)]
pub struct Applier<S> {
    store: S,
}

/// Why a batch could not be committed as decided.
enum Unsettled {
    /// Other writers kept moving its aggregates.
    KeptChanging,
    /// The store refused what was decided.
    Refused(String),
}

impl<S: EventStore> Applier<S> {
    /// An applier writing to `store`.
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// Applies one message.
    pub async fn apply(&self, raw: &str, position: &str) -> Result<Outcome, TransientError> {
        self.apply_alone(Incoming::message(raw, position)).await
    }

    /// Records that input which is no message at all (a line that is not
    /// UTF-8, or too long to read) was rejected, with what is known of it.
    /// `position` names the input in errors.
    pub async fn reject(
        &self,
        position: &str,
        subject: &str,
        reason: &str,
        input: Input<'_>,
    ) -> Result<Outcome, TransientError> {
        let mut session = Session::new(&self.store);
        let outcome = reject(&mut session, subject, reason, input);
        match session.commit().await {
            Ok(_) => Ok(outcome),
            // A rejection's id derives from the input: this one was
            // rejected before, for a reason worded otherwise then.
            Err(AppendError::EventIdConflict { .. }) => Ok(outcome),
            Err(err) => Err(TransientError {
                positions: position.to_owned(),
                source: into_store_error(err),
            }),
        }
    }

    /// Applies `messages` in order, in one transaction when nothing
    /// interferes: one outcome per message. On a transient failure nothing
    /// of the batch is stored.
    pub async fn apply_batch(
        &self,
        messages: &[Incoming<'_>],
    ) -> Result<Vec<Outcome>, TransientError> {
        if let [message] = messages {
            return Ok(vec![self.apply_alone(*message).await?]);
        }
        let parsed: Vec<Parsed> = messages.iter().map(Incoming::parse).collect();
        if let Ok(outcomes) = self.settle(messages, &parsed).await? {
            return Ok(outcomes);
        }
        // Settled one by one, a message that cannot be is rejected alone.
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in messages {
            outcomes.push(self.apply_alone(*message).await?);
        }
        Ok(outcomes)
    }

    async fn apply_alone(&self, message: Incoming<'_>) -> Result<Outcome, TransientError> {
        let parsed = [message.parse()];
        let reason = match self.settle(&[message], &parsed).await? {
            Ok(mut outcomes) => return Ok(outcomes.remove(0)),
            Err(Unsettled::KeptChanging) => {
                format!("the aggregates kept changing under {CONFLICT_RETRIES} attempts")
            }
            Err(Unsettled::Refused(reason)) => reason,
        };
        let subject = subject_of(&parsed[0], message);
        self.reject(message.position, &subject, &reason, message.input())
            .await
    }

    /// Decides `messages` in one session and commits it, deciding again
    /// when another writer got in between.
    async fn settle(
        &self,
        messages: &[Incoming<'_>],
        parsed: &[Parsed],
    ) -> Result<Result<Vec<Outcome>, Unsettled>, TransientError> {
        for _ in 0..CONFLICT_RETRIES {
            let mut session = Session::new(&self.store);
            let (outcomes, owned) = decide_all(&mut session, messages, parsed).await?;
            match session.commit().await {
                Ok(appended) => return Ok(Ok(settled(outcomes, &owned, &appended))),
                Err(AppendError::WrongExpectedVersion { .. }) => continue,
                Err(AppendError::Store(err)) => return Err(transient(messages, err)),
                Err(other) => return Ok(Err(Unsettled::Refused(other.to_string()))),
            }
        }
        Ok(Err(Unsettled::KeptChanging))
    }

    /// Decides `messages` against the store as `after` leaves it (a batch
    /// decided before and not written yet), without writing anything.
    pub async fn decide(
        &self,
        messages: &[Incoming<'_>],
        after: Carried,
    ) -> Result<Decided, TransientError> {
        let parsed: Vec<Parsed> = messages.iter().map(Incoming::parse).collect();
        let mut session = Session::carrying(&self.store, after);
        let (outcomes, owned) = decide_all(&mut session, messages, &parsed).await?;
        let (parts, carried) = session.finish();
        Ok(Decided {
            outcomes,
            owned,
            parts,
            carried,
        })
    }

    /// Starts writing a decided batch in the background. Batches are
    /// written in the order they were decided: the next one is started
    /// only once this one is [`written`](Writing::written).
    pub fn write(&self, decided: Decided) -> Writing {
        let store = self.store.clone();
        let parts = decided.parts;
        Writing {
            outcomes: decided.outcomes,
            owned: decided.owned,
            carried: Some(decided.carried),
            write: tokio::spawn(async move { session::write(&store, parts).await }),
        }
    }
}

/// A batch decided and not written yet.
pub struct Decided {
    outcomes: Vec<Outcome>,
    /// Per message, the parts it staged.
    owned: Vec<Range<usize>>,
    parts: Vec<StreamAppend>,
    carried: Carried,
}

/// A decided batch being written.
pub struct Writing {
    outcomes: Vec<Outcome>,
    owned: Vec<Range<usize>>,
    carried: Option<Carried>,
    write: JoinHandle<Result<Vec<Appended>, AppendError>>,
}

/// A decided batch was not written as decided: it must be applied again,
/// and whatever was decided after it too.
#[derive(Debug, Error)]
#[error("the batch was not written as decided: {0}")]
pub struct Unwritten(String);

impl Writing {
    /// The streams as this batch leaves them, for deciding the next one
    /// while this one is written (once).
    pub fn carry(&mut self) -> Carried {
        self.carried.take().unwrap_or_default()
    }

    /// Waits for the write: the outcomes of the batch's messages.
    pub async fn written(self) -> Result<Vec<Outcome>, Unwritten> {
        match self.write.await {
            Ok(Ok(appended)) => Ok(settled(self.outcomes, &self.owned, &appended)),
            Ok(Err(err)) => Err(Unwritten(err.to_string())),
            Err(err) => Err(Unwritten(err.to_string())),
        }
    }
}

/// Decides `messages` in order in `session`: their outcomes, and per
/// message the parts it staged.
async fn decide_all<S: EventStore>(
    session: &mut Session<'_, S>,
    messages: &[Incoming<'_>],
    parsed: &[Parsed],
) -> Result<(Vec<Outcome>, Vec<Range<usize>>), TransientError> {
    session
        .prefetch(parsed.iter().flat_map(streams_read).collect())
        .await
        .map_err(|err| transient(messages, err))?;
    let mut outcomes = Vec::with_capacity(messages.len());
    let mut owned = Vec::with_capacity(messages.len());
    for (message, parsed) in messages.iter().zip(parsed) {
        let first = session.staged();
        let outcome = apply_parsed(session, parsed, *message)
            .instrument(tracing::info_span!("message", position = %message.position))
            .await
            .map_err(|err| transient(&[*message], err))?;
        outcomes.push(outcome);
        owned.push(first..session.staged());
    }
    Ok((outcomes, owned))
}

/// Stages what one message means, or its rejection.
async fn apply_parsed<S: EventStore>(
    session: &mut Session<'_, S>,
    parsed: &Parsed,
    message: Incoming<'_>,
) -> Result<Outcome, StoreError> {
    let delivery = match parsed {
        Parsed::Ignored(reason) => return Ok(Outcome::Ignored(reason.clone())),
        Parsed::Rejected { subject, reason } => {
            return Ok(reject(session, subject, reason, message.input()));
        }
        Parsed::Delivery(delivery) => delivery,
    };
    let checkpoint = session.checkpoint();
    match decide(session, delivery).await {
        Ok(outcome) => Ok(outcome),
        Err(Failure::Store(err)) => Err(err),
        Err(Failure::Refused(reason)) => {
            // A message is applied whole or not at all.
            session.roll_back(checkpoint);
            Ok(reject(
                session,
                &subject_of(parsed, message),
                &reason,
                message.input(),
            ))
        }
    }
}

fn reject<S: EventStore>(
    session: &mut Session<'_, S>,
    subject: &str,
    reason: &str,
    input: Input<'_>,
) -> Outcome {
    let domain::Append {
        stream,
        metadata,
        event,
    } = rejection("firehose", subject, reason, input);
    session.stage_blind(stream, vec![(metadata, event)]);
    Outcome::Rejected {
        subject: subject.to_owned(),
        reason: reason.to_owned(),
    }
}

/// The streams a message's decision reads, as far as the message alone
/// tells.
fn streams_read(parsed: &Parsed) -> Vec<StreamId> {
    let Parsed::Delivery(delivery) = parsed else {
        return vec![];
    };
    let identity = identity_stream(&delivery.did);
    match &delivery.change {
        Change::EventVersion { uri, .. } => {
            let occurrence = OccurrenceId::for_record(uri);
            vec![
                identity,
                external_ref_stream(uri),
                occurrence.stream(),
                parked_rsvps_stream(occurrence),
            ]
        }
        Change::EventDeleted { uri } => vec![
            external_ref_stream(uri),
            OccurrenceId::for_record(uri).stream(),
        ],
        Change::RsvpVersion {
            uri, subject_uri, ..
        } => {
            let occurrence = OccurrenceId::for_record(subject_uri);
            vec![
                identity,
                external_ref_stream(uri),
                external_ref_stream(subject_uri),
                occurrence.stream(),
                parked_rsvps_stream(occurrence),
                attendance_stream(occurrence),
            ]
        }
        Change::RsvpDeleted { uri } => vec![external_ref_stream(uri)],
        Change::Identity { .. } | Change::Account { .. } => vec![identity],
    }
}

/// The occurrence an event record stands for: the one it was published
/// from, when it is ours, or the one imported from it.
async fn occurrence_for<S: EventStore>(
    session: &mut Session<'_, S>,
    uri: &str,
) -> Result<OccurrenceId, Failure> {
    let link = external_ref_stream(uri);
    Ok(
        match linked_target(session.events(&link).await?.iter().map(|(_, e)| e)) {
            Some(LocalRef::Occurrence(published)) => published,
            _ => OccurrenceId::for_record(uri),
        },
    )
}

async fn decide<S: EventStore>(
    session: &mut Session<'_, S>,
    delivery: &Delivery,
) -> Result<Outcome, Failure> {
    let at = delivery.observed_at;
    match &delivery.change {
        Change::EventVersion { uri, cid, record } => {
            let (mut types, _) = observe_author(session, delivery).await?;
            let occurrence_id = occurrence_for(session, uri).await?;
            let stream = occurrence_id.stream();
            let occurrence: Occurrence = replay(session, &stream).await?;
            let command = OccurrenceCommand::Import {
                uri: uri.clone(),
                cid: cid.clone(),
                record: record.clone(),
                observed_at: at,
            };
            let events = occurrence.decide(&command, at).map_err(refused)?;
            types.extend(stage(session, &stream, delivery, "", events).await?);
            types.extend(unpark(session, occurrence_id).await?);
            Ok(outcome(types))
        }
        Change::EventDeleted { uri } => {
            let stream = occurrence_for(session, uri).await?.stream();
            if session.events(&stream).await?.is_empty() {
                return Err(Failure::Refused(
                    "delete of an event record never imported: nothing to delete".into(),
                ));
            }
            let occurrence: Occurrence = replay(session, &stream).await?;
            let command = OccurrenceCommand::DeleteExternally {
                uri: uri.clone(),
                observed_at: at,
            };
            let events = occurrence.decide(&command, at).map_err(refused)?;
            Ok(outcome(
                stage(session, &stream, delivery, "", events).await?,
            ))
        }
        Change::RsvpVersion {
            uri,
            cid,
            subject_uri,
            status,
        } => {
            let (mut types, attendee_id) = observe_author(session, delivery).await?;
            let occurrence_id = occurrence_for(session, subject_uri).await?;
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
                attendee_id: change.attendee_id,
            };
            let linked_now = linked_target(session.events(&link).await?.iter().map(|(_, e)| e));
            if linked_now != Some(target) {
                let linked = ExternalRefLinked {
                    uri: uri.clone(),
                    cid: Some(cid.clone()),
                    target,
                };
                types.extend(stage(session, &link, delivery, "link", vec![linked.into()]).await?);
            }
            if session.events(&occurrence_id.stream()).await?.is_empty() {
                let parked = RsvpParked {
                    subject_uri: subject_uri.clone(),
                    rsvp: change.recorded(),
                };
                let stream = parked_rsvps_stream(occurrence_id);
                let staged =
                    stage(session, &stream, delivery, "parked", vec![parked.into()]).await?;
                return Ok(if staged.is_empty() && types.is_empty() {
                    Outcome::AlreadyApplied
                } else {
                    Outcome::Parked
                });
            }
            let stream = attendance_stream(occurrence_id);
            let attendance: Attendance = replay(session, &stream).await?;
            let events = attendance
                .decide(&AttendanceCommand::Change(change), at)
                .unwrap_or_default();
            types.extend(stage(session, &stream, delivery, "", events).await?);
            Ok(outcome(types))
        }
        Change::RsvpDeleted { uri } => {
            let link = external_ref_stream(uri);
            let Some(LocalRef::Rsvp {
                occurrence_id,
                attendee_id,
            }) = linked_target(session.events(&link).await?.iter().map(|(_, e)| e))
            else {
                return Err(Failure::Refused(
                    "delete of an RSVP record never seen: nothing to withdraw".into(),
                ));
            };
            let stream = attendance_stream(occurrence_id);
            let mut attendance: Attendance = replay(session, &stream).await?;
            if session.events(&occurrence_id.stream()).await?.is_empty() {
                // The answer is parked until its event arrives: the
                // withdrawal is recorded now, so unparking finds the
                // answer withdrawn after it was given and skips it.
                for (_, event) in session.events(&parked_rsvps_stream(occurrence_id)).await? {
                    if let DomainEvent::RsvpParked(parked) = event {
                        attendance = attendance.evolve(&parked.rsvp.clone().into());
                    }
                }
            }
            let withdraw = WithdrawRsvp {
                occurrence_id,
                attendee_id,
                origin: Origin::Bluesky,
                withdrawn_at: at,
                rsvp_uri: Some(uri.clone()),
            };
            let events = attendance
                .decide(&AttendanceCommand::Withdraw(withdraw), at)
                .unwrap_or_default();
            Ok(outcome(
                stage(session, &stream, delivery, "", events).await?,
            ))
        }
        Change::Identity { handle } => {
            let Some(handle) = handle else {
                return Ok(Outcome::Ignored(
                    "an identity message without a handle changes nothing here".into(),
                ));
            };
            change_identity(
                session,
                delivery,
                IdentityCommand::ChangeHandle(handle.clone()),
            )
            .await
        }
        Change::Account { active, status } => {
            let command = IdentityCommand::ChangeAccountStatus {
                active: *active,
                status: status.clone(),
                observed_at: at,
            };
            change_identity(session, delivery, command).await
        }
    }
}

/// Identity and account messages come for every DID on the network; only
/// those of DIDs known here are recorded.
async fn change_identity<S: EventStore>(
    session: &mut Session<'_, S>,
    delivery: &Delivery,
    command: IdentityCommand,
) -> Result<Outcome, Failure> {
    let stream = identity_stream(&delivery.did);
    let identity: Identity = replay(session, &stream).await?;
    if identity == Identity::Unknown {
        return Ok(Outcome::Ignored(format!(
            "{} is not known here",
            delivery.did
        )));
    }
    let events = identity
        .decide(&command, delivery.observed_at)
        .map_err(refused)?;
    Ok(outcome(
        stage(session, &stream, delivery, "", events).await?,
    ))
}

/// The author of a record gets a shadow account unless it has one, or a
/// full account; returns what was staged and the author's account (a full
/// account that registered before its first record has an id of its own).
async fn observe_author<S: EventStore>(
    session: &mut Session<'_, S>,
    delivery: &Delivery,
) -> Result<(Vec<&'static str>, UserId), Failure> {
    let stream = identity_stream(&delivery.did);
    let identity: Identity = replay(session, &stream).await?;
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
    let staged = stage(session, &stream, delivery, "shadow-account", events).await?;
    Ok((staged, author))
}

/// RSVPs parked for `occurrence_id` become answers now that it exists.
async fn unpark<S: EventStore>(
    session: &mut Session<'_, S>,
    occurrence_id: OccurrenceId,
) -> Result<Vec<&'static str>, Failure> {
    let parked: Vec<(EventId, DomainEvent)> = session
        .events(&parked_rsvps_stream(occurrence_id))
        .await?
        .to_vec();
    let stream = attendance_stream(occurrence_id);
    let mut types = vec![];
    for (parked_id, event) in parked {
        let DomainEvent::RsvpParked(parked) = event else {
            continue;
        };
        let attendance: Attendance = replay(session, &stream).await?;
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
            actor: domain::Actor::system("ingest"),
        };
        types.extend(stage_labelled(session, &stream, "unparked", events, caused).await?);
    }
    Ok(types)
}

/// The state of `stream` as the session holds it.
async fn replay<S: EventStore, D: Decider>(
    session: &mut Session<'_, S>,
    stream: &StreamId,
) -> Result<D, StoreError> {
    Ok(D::replay(
        session.events(stream).await?.iter().map(|(_, e)| e),
    ))
}

/// Stages `events` decided for `delivery` on `stream`: the types staged,
/// none when nothing was decided or the message was applied before.
async fn stage<S: EventStore>(
    session: &mut Session<'_, S>,
    stream: &StreamId,
    delivery: &Delivery,
    label: &str,
    events: Vec<DomainEvent>,
) -> Result<Vec<&'static str>, Failure> {
    stage_labelled(session, stream, label, events, |label| {
        delivery.metadata(label)
    })
    .await
}

/// Stages `events` on `stream`, the first with `metadata(label)` and the
/// n-th after it with `metadata("label#n")`: the types staged, none when
/// nothing was decided or the events were staged or stored before.
async fn stage_labelled<S: EventStore>(
    session: &mut Session<'_, S>,
    stream: &StreamId,
    label: &str,
    events: Vec<DomainEvent>,
    metadata: impl Fn(&str) -> EventMetadata,
) -> Result<Vec<&'static str>, Failure> {
    let types: Vec<&'static str> = events.iter().map(DomainEvent::event_type).collect();
    let events = events
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
    // A message applied before, whose aggregate has moved on since, is
    // found by its first event id: deciding again against the newer state
    // would record the old version as a new change.
    Ok(if session.stage(stream, events).await? {
        types
    } else {
        vec![]
    })
}

/// The outcomes, corrected for messages whose every part the store found
/// stored already (another writer got there first with the same events).
fn settled(
    mut outcomes: Vec<Outcome>,
    parts: &[Range<usize>],
    appended: &[Appended],
) -> Vec<Outcome> {
    for (outcome, parts) in outcomes.iter_mut().zip(parts) {
        let repeated = !parts.is_empty()
            && appended
                .get(parts.clone())
                .is_some_and(|parts| parts.iter().all(|part| part.already_stored));
        if repeated && matches!(outcome, Outcome::Applied(_)) {
            *outcome = Outcome::AlreadyApplied;
        }
    }
    outcomes
}

fn outcome(types: Vec<&'static str>) -> Outcome {
    if types.is_empty() {
        Outcome::AlreadyApplied
    } else {
        Outcome::Applied(types)
    }
}

fn refused(err: impl std::fmt::Display) -> Failure {
    Failure::Refused(err.to_string())
}

fn subject_of(parsed: &Parsed, message: Incoming<'_>) -> String {
    let Parsed::Delivery(delivery) = parsed else {
        return match parsed {
            Parsed::Rejected { subject, .. } => subject.clone(),
            _ => message.position.to_owned(),
        };
    };
    match &delivery.change {
        Change::EventVersion { uri, .. }
        | Change::EventDeleted { uri }
        | Change::RsvpVersion { uri, .. }
        | Change::RsvpDeleted { uri } => uri.clone(),
        Change::Identity { .. } | Change::Account { .. } => delivery.did.clone(),
    }
}

fn transient(messages: &[Incoming<'_>], source: StoreError) -> TransientError {
    let positions = match messages {
        [] => String::new(),
        [one] => one.position.to_owned(),
        [first, .., last] => format!("{}..{}", first.position, last.position),
    };
    TransientError { positions, source }
}

fn into_store_error(err: AppendError) -> StoreError {
    match err {
        AppendError::Store(err) => err,
        other => StoreError::Inconsistent {
            position: domain::GlobalPosition(0),
            problem: format!("recording a rejection: {other}"),
        },
    }
}
