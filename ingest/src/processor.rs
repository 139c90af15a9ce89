//! The processor: a durable pull consumer on the bus. Messages are fetched
//! in batches and applied in bus order (see [`crate::apply`]), each batch
//! in one transaction, and acknowledged only after their events are
//! stored, so a crash redelivers them and the derived ids make the
//! redelivery write nothing new. Under a backlog, the next batch is fetched
//! and decided while the previous one is written; if that write fails, both
//! are applied again from the store. A database outage is waited out, batch by
//! batch, in order; bad input becomes `RecordRejected` plus a dead letter,
//! and the processor goes on.
//!
//! One processor runs per durable consumer: on start it moves the consumer
//! back to the first unacknowledged message, so messages a crashed
//! processor held are applied again at once and in order, instead of after
//! their acknowledgement deadline and behind later ones.

use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::{AckPolicy, Consumer, DeliverPolicy, pull};
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use store::EventStore;
use tracing::Instrument;

use crate::apply::{Applier, Incoming, Outcome, Refused, Writing};
use crate::backoff::Backoff;
use crate::bus::{Bus, BusError, REFUSED_SUBJECT, refusal_of};
use crate::metrics::IngestMetrics;
use crate::routing::DeadLetter;
use crate::tally::Tally;

/// How long a fetch waits for a batch to fill: a processor that keeps up
/// with the consumer still writes full batches, and a quiet bus delays a
/// message by at most this.
const FILL_WAIT: Duration = Duration::from_millis(50);

/// How to process.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// The durable consumer's name; its position survives restarts.
    pub durable: String,
    /// Messages fetched and applied together, in one transaction.
    pub batch: usize,
    /// How long a batch may stay unacknowledged before JetStream
    /// redelivers it (a live processor extends it while it retries).
    pub ack_wait: Duration,
    /// Stop once the stream holds nothing more for this consumer, instead
    /// of waiting for new messages.
    pub until_idle: bool,
}

/// Runs the processor.
pub async fn process<S: EventStore>(
    bus: &Bus,
    applier: &Applier<S>,
    options: &ProcessOptions,
    metrics: &IngestMetrics,
) -> Result<Tally, BusError> {
    let fail = |what: &'static str| {
        let url = bus.config().url.clone();
        move |err: &dyn std::fmt::Display| BusError::new(&url, what, err)
    };
    let stream = bus
        .jetstream()
        .get_stream(&bus.config().stream)
        .await
        .map_err(|err| fail("open the stream")(&err))?;
    let batch = options.batch.max(1);
    let mut consumer = open_consumer(bus, &stream, options).await?;
    let mut run = Run {
        bus,
        applier,
        metrics,
        tally: Tally::default(),
    };
    // While one batch is written, the next is fetched and decided against
    // the streams as the first leaves them.
    let mut in_flight: Option<(Fetched, Writing)> = None;
    loop {
        let fetched = consumer
            .batch()
            .max_messages(batch)
            .expires(FILL_WAIT)
            .messages()
            .await
            .map_err(|err| fail("fetch")(&err))?;
        let next = Fetched::collect(bus, fetched).await?;
        let decided = match (&next, &mut in_flight) {
            (None, _) => None,
            (Some(next), flight) => {
                let after = flight
                    .as_mut()
                    .map(|(_, writing)| writing.carry())
                    .unwrap_or_default();
                Some(applier.decide(&next.incoming(), after).await)
            }
        };
        let mut as_decided = true;
        if let Some((landing, writing)) = in_flight.take() {
            as_decided = run.land(landing, writing).await?;
        }
        let short = next.as_ref().is_none_or(|next| next.messages.len() < batch);
        if let Some(next) = next {
            match decided {
                Some(Ok(decided)) if as_decided => {
                    in_flight = Some((next, applier.write(decided)));
                }
                // Decided after a batch that was not written as decided,
                // or not decided at all: applied again from the start.
                _ => {
                    let outcomes = run.apply_patiently(&next).await;
                    run.finish(&next, outcomes).await?;
                }
            }
        }
        // A short batch is all there was: nothing to overlap its write
        // with, and the end may be reached.
        if short {
            if let Some((landing, writing)) = in_flight.take() {
                run.land(landing, writing).await?;
            }
            if options.until_idle {
                let info = consumer
                    .info()
                    .await
                    .map_err(|err| fail("consumer info")(&err))?
                    .clone();
                if info.num_pending == 0 && info.num_ack_pending == 0 {
                    return Ok(run.tally);
                }
            }
        }
    }
}

/// A fetched batch of messages.
struct Fetched {
    messages: Vec<Message>,
    positions: Vec<String>,
    raws: Vec<String>,
    /// For each message, the refusal it carries, if it is one.
    refusals: Vec<Option<Refusal>>,
}

/// A refusal read off a `{root}.source.refused` message.
struct Refusal {
    position: String,
    letter: DeadLetter,
}

impl Fetched {
    /// The batch, `None` when it is empty.
    async fn collect(bus: &Bus, mut batch: pull::Batch) -> Result<Option<Self>, BusError> {
        let fail = |what: &'static str, err: &dyn std::fmt::Display| {
            BusError::new(&bus.config().url, what, err)
        };
        let mut fetched = Fetched {
            messages: vec![],
            positions: vec![],
            raws: vec![],
            refusals: vec![],
        };
        let refused_subject = format!("{}.{REFUSED_SUBJECT}", bus.config().root);
        while let Some(message) = batch.next().await {
            let message = message.map_err(|err| fail("receive", &err))?;
            let sequence = message
                .info()
                .map(|info| info.stream_sequence)
                .map_err(|err| fail("message info", &*err))?;
            fetched
                .positions
                .push(format!("{}:{sequence}", bus.config().stream));
            fetched
                .raws
                .push(String::from_utf8_lossy(&message.payload).into_owned());
            let refusal = (message.subject.as_str() == refused_subject).then(|| {
                let (position, reason, cut) =
                    refusal_of(message.headers.as_ref()).unwrap_or_else(|| {
                        (
                            format!("{}:{sequence}", bus.config().stream),
                            "refused by the source, for a reason its headers do not say".into(),
                            None,
                        )
                    });
                Refusal {
                    position,
                    letter: DeadLetter {
                        reason,
                        payload: message.payload.to_vec(),
                        cut,
                    },
                }
            });
            fetched.refusals.push(refusal);
            fetched.messages.push(message);
        }
        Ok((!fetched.messages.is_empty()).then_some(fetched))
    }

    fn incoming(&self) -> Vec<Incoming<'_>> {
        self.raws
            .iter()
            .zip(&self.positions)
            .zip(&self.refusals)
            .map(|((raw, position), refusal)| Incoming {
                refused: refusal.as_ref().map(|refusal| Refused {
                    subject: &refusal.position,
                    reason: &refusal.letter.reason,
                    input: refusal.letter.input(),
                }),
                ..Incoming::message(raw, position)
            })
            .collect()
    }

    fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "batch",
            first = %self.positions[0],
            last = %self.positions[self.positions.len() - 1],
            size = self.messages.len()
        )
    }
}

/// What a run shares between batches.
struct Run<'a, S> {
    bus: &'a Bus,
    applier: &'a Applier<S>,
    metrics: &'a IngestMetrics,
    tally: Tally,
}

impl<S: EventStore> Run<'_, S> {
    /// Waits for a batch's write and finishes it. `false` when it was not
    /// written as decided and had to be applied again.
    async fn land(&mut self, fetched: Fetched, writing: Writing) -> Result<bool, BusError> {
        let (outcomes, as_decided) = match writing.written().await {
            Ok(outcomes) => (outcomes, true),
            Err(unwritten) => {
                tracing::info!(parent: &fetched.span(), reason = %unwritten, "applying the batch again");
                (self.apply_patiently(&fetched).await, false)
            }
        };
        self.finish(&fetched, outcomes).await?;
        Ok(as_decided)
    }

    /// Applies a batch, waiting out transient failures.
    async fn apply_patiently(&self, fetched: &Fetched) -> Vec<Outcome> {
        let span = fetched.span();
        let incoming = fetched.incoming();
        let mut backoff = Backoff::RETRY;
        loop {
            match self
                .applier
                .apply_batch(&incoming)
                .instrument(span.clone())
                .await
            {
                Ok(outcomes) => return outcomes,
                Err(err) => {
                    let delay = backoff.next_delay();
                    self.metrics.retries.inc();
                    tracing::warn!(parent: &span, error = %err, retry_in = ?delay, "transient failure; the batch stays unacknowledged");
                    // Keeps JetStream from redelivering them elsewhere meanwhile.
                    for message in &fetched.messages {
                        let _ = message.ack_with(AckKind::Progress).await;
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Counts a batch's outcomes, sends its dead letters, and acknowledges it.
    async fn finish(&mut self, fetched: &Fetched, outcomes: Vec<Outcome>) -> Result<(), BusError> {
        for (((message, position), refusal), outcome) in fetched
            .messages
            .iter()
            .zip(&fetched.positions)
            .zip(&fetched.refusals)
            .zip(&outcomes)
        {
            let letter = refusal.as_ref().map(|refusal| &refusal.letter);
            count(self.bus, message, position, letter, outcome, self.metrics).await;
            self.tally.count(outcome);
        }
        if let Some(last) = fetched.messages.last() {
            last.double_ack()
                .await
                .map_err(|err| BusError::new(&self.bus.config().url, "acknowledge", &*err))?;
        }
        Ok(())
    }
}

/// The durable consumer, restarted at its first unacknowledged message
/// when a previous processor left messages in flight or ran with other
/// settings.
async fn open_consumer(
    bus: &Bus,
    stream: &Stream,
    options: &ProcessOptions,
) -> Result<Consumer<pull::Config>, BusError> {
    let fail = |what: &'static str, err: &dyn std::fmt::Display| {
        BusError::new(&bus.config().url, what, err)
    };
    let batch = options.batch.max(1);
    let mut config = pull::Config {
        durable_name: Some(options.durable.clone()),
        // Acknowledging a batch's last message acknowledges the batch.
        ack_policy: AckPolicy::All,
        ack_wait: options.ack_wait,
        // Two batches in flight (one written, the next decided) and no
        // more keep the bus order, which is each repository's commit order.
        max_ack_pending: 2 * batch as i64,
        ..Default::default()
    };
    let mut consumer: Consumer<pull::Config> = stream
        .get_or_create_consumer(&options.durable, config.clone())
        .await
        .map_err(|err| fail("create the consumer", &err))?;
    let info = consumer
        .info()
        .await
        .map_err(|err| fail("consumer info", &err))?
        .clone();
    let settled = info.num_ack_pending == 0
        && info.config.ack_policy == AckPolicy::All
        && info.config.max_ack_pending == 2 * batch as i64
        && info.config.ack_wait == options.ack_wait;
    if !settled {
        let start_sequence = info.ack_floor.stream_sequence + 1;
        tracing::info!(
            durable = %options.durable,
            in_flight = info.num_ack_pending,
            start_sequence,
            "restarting the consumer at its first unacknowledged message"
        );
        stream
            .delete_consumer(&options.durable)
            .await
            .map_err(|err| fail("restart the consumer", &err))?;
        config.deliver_policy = DeliverPolicy::ByStartSequence { start_sequence };
        consumer = stream
            .create_consumer(config)
            .await
            .map_err(|err| fail("restart the consumer", &err))?;
    }
    Ok(consumer)
}

/// Counts what became of a message; a rejected one goes to the
/// dead-letter subject, a refusal as the consumer sent it.
async fn count(
    bus: &Bus,
    message: &Message,
    position: &str,
    refusal: Option<&DeadLetter>,
    outcome: &Outcome,
    metrics: &IngestMetrics,
) {
    match outcome {
        Outcome::Applied(types) => {
            for event_type in types {
                metrics.appended.with_label_values(&[event_type]).inc();
            }
            metrics.processed.with_label_values(&["applied"]).inc();
        }
        Outcome::AlreadyApplied => metrics
            .processed
            .with_label_values(&["already_applied"])
            .inc(),
        Outcome::Parked => {
            metrics.parked.inc();
            metrics.processed.with_label_values(&["parked"]).inc();
        }
        Outcome::Ignored(_) => metrics.processed.with_label_values(&["ignored"]).inc(),
        Outcome::Rejected { subject, reason } => {
            metrics.processed.with_label_values(&["rejected"]).inc();
            let kind = message
                .subject
                .as_str()
                .rsplit('.')
                .nth(1)
                .unwrap_or("message")
                .to_owned();
            metrics.dead_letters.with_label_values(&[&kind]).inc();
            tracing::warn!(%position, %subject, %reason, "rejected; recorded and sent to the dead-letter subject");
            let letter = match refusal {
                Some(letter) => letter.clone(),
                None => DeadLetter::new(reason.clone(), message.payload.to_vec()),
            };
            dead_letter(bus, &kind, position, letter).await;
        }
    }
}

/// Sends a dead letter, waiting out transient failures (the batch stays
/// unacknowledged meanwhile); one the bus refuses for good is sent again
/// with only its first bytes.
async fn dead_letter(bus: &Bus, kind: &str, position: &str, mut letter: DeadLetter) {
    let mut backoff = Backoff::RETRY;
    loop {
        let Err(err) = bus.dead_letter(kind, position, &letter).await else {
            return;
        };
        if err.is_permanent() {
            match letter.head_only() {
                Some(head) => letter = head,
                None => {
                    tracing::error!(%position, error = %err, "the bus refused even the first bytes of a dead letter; its rejection is recorded");
                    return;
                }
            }
        } else {
            let delay = backoff.next_delay();
            tracing::warn!(%position, error = %err, retry_in = ?delay, "dead letter failed");
            tokio::time::sleep(delay).await;
        }
    }
}
