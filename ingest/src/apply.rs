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

use domain::attendance::{attendance_stream, parked_rsvps_stream};
use domain::delivery::{Routing, Streams, Undecided};
use domain::external_ref::external_ref_stream;
use domain::identity::identity_stream;
use domain::intake::{Change, Delivery, Parsed, parse, rejection};
use domain::occurrence::OccurrenceId;
use domain::rejection::Input;
use std::ops::Range;

use domain::StreamId;
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

/// Decides what `delivery` means by the domain's rule
/// ([`domain::delivery::decide`]), loading each stream it asks for, and
/// stages what it decided.
async fn decide<S: EventStore>(
    session: &mut Session<'_, S>,
    delivery: &Delivery,
) -> Result<Outcome, Failure> {
    let mut streams = Streams::default();
    loop {
        match domain::delivery::decide(delivery, &streams) {
            Err(Undecided::Needs(stream)) => {
                let events = session.events(&stream).await?.to_vec();
                streams.hold(stream, events);
            }
            Err(Undecided::Refused(reason)) => return Err(Failure::Refused(reason)),
            Ok(routed) => {
                for part in routed.parts {
                    session.stage(&part.stream, part.events).await?;
                }
                return Ok(match routed.routing {
                    Routing::Applied(types) => Outcome::Applied(types),
                    Routing::AlreadyApplied => Outcome::AlreadyApplied,
                    Routing::Parked => Outcome::Parked,
                    Routing::Ignored(why) => Outcome::Ignored(why),
                });
            }
        }
    }
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
