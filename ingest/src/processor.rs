//! The processor: a durable pull consumer on the bus. Messages are fetched
//! in batches and applied in bus order (see [`crate::apply`]), each batch
//! in one transaction, and acknowledged only after their events are
//! stored, so a crash redelivers them and the derived ids make the
//! redelivery write nothing new. A database outage is waited out, batch by
//! batch, in order; bad input becomes `RecordRejected` plus a dead letter,
//! and the processor goes on.
//!
//! One processor runs per durable consumer: on start it moves the consumer
//! back to the first unacknowledged message, so messages a crashed
//! processor held are applied again at once and in order, instead of after
//! their acknowledgement deadline and behind later ones.

use std::borrow::Cow;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::Message;
use async_nats::jetstream::consumer::{AckPolicy, Consumer, DeliverPolicy, pull};
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use store::EventStore;
use tracing::Instrument;

use crate::apply::{Applier, Incoming, Outcome};
use crate::backoff::Backoff;
use crate::bus::{Bus, BusError};
use crate::metrics::IngestMetrics;
use crate::tally::Tally;

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
    let mut consumer = open_consumer(bus, &stream, options).await?;
    let mut tally = Tally::default();
    loop {
        let mut fetched = consumer
            .fetch()
            .max_messages(options.batch.max(1))
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|err| fail("fetch")(&err))?;
        let mut messages = Vec::with_capacity(options.batch);
        while let Some(message) = fetched.next().await {
            messages.push(message.map_err(|err| fail("receive")(&err))?);
        }
        // A short batch is all there was: look for the end at once rather
        // than after another fetch's wait.
        let short = messages.len() < options.batch.max(1);
        if !messages.is_empty() {
            for outcome in handle(bus, applier, &messages, metrics).await? {
                tally.count(&outcome);
            }
        }
        if short && options.until_idle {
            let info = consumer
                .info()
                .await
                .map_err(|err| fail("consumer info")(&err))?;
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return Ok(tally);
            }
        }
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
        // One batch in flight keeps the bus order, which is each
        // repository's commit order.
        max_ack_pending: batch as i64,
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
        && info.config.max_ack_pending == batch as i64
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

/// Applies a batch, sends its dead letters, and acknowledges it.
async fn handle<S: EventStore>(
    bus: &Bus,
    applier: &Applier<S>,
    messages: &[Message],
    metrics: &IngestMetrics,
) -> Result<Vec<Outcome>, BusError> {
    let fail = |what: &'static str, err: &dyn std::fmt::Display| {
        BusError::new(&bus.config().url, what, err)
    };
    let mut positions = Vec::with_capacity(messages.len());
    for message in messages {
        let sequence = message
            .info()
            .map(|info| info.stream_sequence)
            .map_err(|err| fail("message info", &*err))?;
        positions.push(format!("{}:{sequence}", bus.config().stream));
    }
    let raws: Vec<Cow<str>> = messages
        .iter()
        .map(|message| String::from_utf8_lossy(&message.payload))
        .collect();
    let incoming: Vec<Incoming> = raws
        .iter()
        .zip(&positions)
        .map(|(raw, position)| Incoming { raw, position })
        .collect();
    let span = tracing::info_span!(
        "batch",
        first = %positions[0],
        last = %positions[positions.len() - 1],
        size = messages.len()
    );
    let mut backoff = Backoff::RETRY;
    let outcomes = loop {
        match applier
            .apply_batch(&incoming)
            .instrument(span.clone())
            .await
        {
            Ok(outcomes) => break outcomes,
            Err(err) => {
                let delay = backoff.next_delay();
                metrics.retries.inc();
                tracing::warn!(parent: &span, error = %err, retry_in = ?delay, "transient failure; the batch stays unacknowledged");
                // Keeps JetStream from redelivering them elsewhere meanwhile.
                for message in messages {
                    let _ = message.ack_with(AckKind::Progress).await;
                }
                tokio::time::sleep(delay).await;
            }
        }
    };
    for ((message, position), outcome) in messages.iter().zip(&positions).zip(&outcomes) {
        count(bus, message, position, outcome, metrics).await;
    }
    if let Some(last) = messages.last() {
        last.double_ack()
            .await
            .map_err(|err| fail("acknowledge", &*err))?;
    }
    Ok(outcomes)
}

async fn count(
    bus: &Bus,
    message: &Message,
    position: &str,
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
            crate::consumer::retry("dead letter", || {
                bus.dead_letter(&kind, position, reason, message.payload.to_vec())
            })
            .await;
        }
    }
}
