//! The processor: a durable pull consumer on the bus. Each message is
//! applied (see [`crate::apply`]) and acknowledged only after its events
//! are stored, so a crash redelivers it and the derived ids make the
//! redelivery write nothing new. Messages are applied strictly in bus
//! order, one in flight at a time. A database outage is waited out, message
//! by message, in order; bad input becomes `RecordRejected` plus a dead
//! letter, and the processor goes on.

use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, Consumer, pull};
use futures::StreamExt;
use store::EventStore;
use tracing::Instrument;

use crate::apply::{Applier, Outcome};
use crate::backoff::Backoff;
use crate::bus::{Bus, BusError};
use crate::metrics::IngestMetrics;
use crate::tally::Tally;

/// How to process.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// The durable consumer's name; its position survives restarts.
    pub durable: String,
    /// Messages fetched per request.
    pub batch: usize,
    /// How long a message may stay unacknowledged before JetStream
    /// redelivers it: after a crash, the next processor waits this long.
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
    let mut consumer: Consumer<pull::Config> = stream
        .get_or_create_consumer(
            &options.durable,
            pull::Config {
                durable_name: Some(options.durable.clone()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: options.ack_wait,
                // One message in flight keeps the bus order, which is each
                // repository's commit order: after a crash nothing later
                // overtakes the message that was being applied.
                max_ack_pending: 1,
                ..Default::default()
            },
        )
        .await
        .map_err(|err| fail("create the consumer")(&err))?;
    let mut tally = Tally::default();
    loop {
        let mut batch = consumer
            .fetch()
            .max_messages(options.batch.max(1))
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .map_err(|err| fail("fetch")(&err))?;
        let mut fetched = 0;
        while let Some(message) = batch.next().await {
            let message = message.map_err(|err| fail("receive")(&err))?;
            fetched += 1;
            let outcome = handle(bus, applier, &message, metrics).await?;
            tally.count(&outcome);
        }
        if fetched == 0 && options.until_idle {
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

async fn handle<S: EventStore>(
    bus: &Bus,
    applier: &Applier<S>,
    message: &async_nats::jetstream::Message,
    metrics: &IngestMetrics,
) -> Result<Outcome, BusError> {
    let fail = |what: &'static str, err: &dyn std::fmt::Display| {
        BusError::new(&bus.config().url, what, err)
    };
    let sequence = message
        .info()
        .map(|info| info.stream_sequence)
        .map_err(|err| fail("message info", &*err))?;
    let position = format!("{}:{sequence}", bus.config().stream);
    let raw = String::from_utf8_lossy(&message.payload);
    let span = tracing::info_span!("message", %position, subject = %message.subject);
    let mut backoff = Backoff::RETRY;
    let outcome = loop {
        match applier
            .apply(&raw, &position)
            .instrument(span.clone())
            .await
        {
            Ok(outcome) => break outcome,
            Err(err) => {
                let delay = backoff.next_delay();
                metrics.retries.inc();
                tracing::warn!(parent: &span, error = %err, retry_in = ?delay, "transient failure; the message stays unacknowledged");
                // Keeps JetStream from redelivering it elsewhere meanwhile.
                let _ = message.ack_with(AckKind::Progress).await;
                tokio::time::sleep(delay).await;
            }
        }
    };
    match &outcome {
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
            tracing::warn!(parent: &span, %subject, %reason, "rejected; recorded and sent to the dead-letter subject");
            crate::consumer::retry("dead letter", || {
                bus.dead_letter(&kind, &position, reason, message.payload.to_vec())
            })
            .await;
        }
    }
    message
        .double_ack()
        .await
        .map_err(|err| fail("acknowledge", &*err))?;
    Ok(outcome)
}
