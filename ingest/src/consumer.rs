//! The consumer: a source feeding the bus through a bounded buffer. A full
//! buffer stops reading the socket (backpressure) instead of growing.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use domain::intake::MAX_RECORD_BYTES;
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::bus::{Bus, BusError};
use crate::lines::{LineCounts, MAX_LINE_BYTES};
use crate::metrics::IngestMetrics;
use crate::routing::{DeadLetter, Routed};
use crate::source::{Item, Source, SourceError};

/// Room for the subject and the headers of a message (message id, source,
/// cursor) beside its payload.
const HEADER_ALLOWANCE: usize = 4 * 1024;
/// Publishes awaited together; more only queue in NATS's client buffer.
const PUBLISH_WINDOW: usize = 256;
/// Transient failures to store one message before the consumer gives up
/// (about 25 s of retries).
const PUBLISH_ATTEMPTS: u32 = 8;

/// How to consume.
#[derive(Clone, Debug)]
pub struct ConsumeOptions {
    /// Start after this source cursor instead of resuming from the bus.
    pub cursor: Option<i64>,
    /// Messages held between the socket and the bus.
    pub buffer: usize,
}

/// What a consumer run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumeReport {
    /// Where it started (after this cursor), if not at the beginning.
    pub started_after: Option<i64>,
    /// Messages stored on the bus.
    pub published: u64,
    /// Messages the bus already held.
    pub duplicates: u64,
    /// Messages filtered out.
    pub filtered: u64,
    /// Inputs refused as messages (by the source or the bus), put on the
    /// bus to be recorded as rejected.
    pub refused: u64,
    /// For a file of lines: what became of every line.
    pub lines: Option<LineCounts>,
}

/// The cursor to start after: the explicit one, or the newest message the
/// bus holds from this kind of source, minus the source's overlap.
pub async fn start_cursor(
    bus: &Bus,
    source: &Source,
    explicit: Option<i64>,
) -> Result<Option<i64>, BusError> {
    if explicit.is_some() {
        return Ok(explicit);
    }
    Ok(bus
        .last_message()
        .await?
        .filter(|last| last.source == source.kind())
        .map(|last| source.resume_after(last.cursor)))
}

/// Runs `source` into the bus until it ends (files) or fails for good.
pub async fn consume(
    bus: &Bus,
    source: Source,
    options: ConsumeOptions,
    metrics: &IngestMetrics,
) -> Result<ConsumeReport, SourceError> {
    let kind = source.kind();
    // Headers and the subject ride in the same frame as the payload.
    if bus.max_payload() < MAX_LINE_BYTES + HEADER_ALLOWANCE {
        return Err(SourceError::stopped(
            kind,
            format!(
                "the NATS server at {} accepts messages of at most {} bytes, but a message may hold up to {MAX_LINE_BYTES} bytes (a {MAX_RECORD_BYTES}-byte record in its envelope) and {HEADER_ALLOWANCE} bytes of headers: raise the server's max_payload",
                bus.config().url,
                bus.max_payload()
            ),
        ));
    }
    let started_after = match start_cursor(bus, &source, options.cursor).await {
        Ok(cursor) => cursor,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the bus to resume; starting from the source's default");
            None
        }
    };
    let mut report = ConsumeReport {
        started_after,
        ..Default::default()
    };
    let sender = Sender { bus, kind };
    let (tx, mut rx) = mpsc::channel(options.buffer.max(1));
    let reader = tokio::spawn(source.run(started_after, tx));
    let mut last_cursor = started_after;
    let mut pending: VecDeque<Pending> = VecDeque::new();
    while let Some(item) = rx.recv().await {
        metrics.buffered.set(rx.len() as i64);
        let outgoing = match item {
            Item::Routed(routed) => {
                let lag = now_micros().saturating_sub(routed.time_us) / 1_000_000;
                metrics.lag_seconds.set(lag);
                last_cursor = Some(routed.cursor);
                Outgoing::Message(routed)
            }
            Item::Dead {
                cursor,
                position,
                letter,
            } => {
                tracing::warn!(%position, reason = %letter.reason, "source input refused; it goes on the bus to be recorded as rejected");
                Outgoing::Refusal {
                    // Input without a cursor of its own stands where the
                    // source was, so that a resume from it loses nothing.
                    cursor: cursor.or(last_cursor),
                    position,
                    letter,
                }
            }
            Item::Reconnecting => {
                metrics.reconnects.inc();
                continue;
            }
            Item::Lines(counts) => {
                report.lines = Some(counts);
                continue;
            }
            Item::Filtered(count) => {
                metrics.received.inc_by(count);
                metrics.filtered.inc_by(count);
                report.filtered += count;
                continue;
            }
        };
        metrics.received.inc();
        pending.push_back(sender.start(outgoing, &mut Attempts::default()).await?);
        if pending.len() >= PUBLISH_WINDOW {
            sender.settle(&mut pending, 1, &mut report, metrics).await?;
        }
    }
    let remaining = pending.len();
    sender
        .settle(&mut pending, remaining, &mut report, metrics)
        .await?;
    match reader.await {
        Ok(result) => result.map(|()| report),
        Err(err) => Err(SourceError::stopped(kind, err.to_string())),
    }
}

/// What goes on the bus, kept until the bus stored it so that it can be
/// sent again.
enum Outgoing {
    /// A routed message.
    Message(Routed),
    /// Input the source, or the bus, refused as a message: it goes on the
    /// bus to be recorded as rejected.
    Refusal {
        cursor: Option<i64>,
        position: String,
        letter: DeadLetter,
    },
}

impl Outgoing {
    /// What it is, in logs.
    fn about(&self) -> &str {
        match self {
            Outgoing::Message(routed) => &routed.about,
            Outgoing::Refusal { position, .. } => position,
        }
    }

    /// What to send instead when the bus refused this for good: a message
    /// becomes a refusal naming it; a refusal keeps only its first bytes.
    /// `None` when nothing smaller is left to send.
    fn instead(self, err: &BusError) -> Option<Outgoing> {
        match self {
            Outgoing::Message(routed) => Some(Outgoing::Refusal {
                cursor: Some(routed.cursor),
                letter: DeadLetter::new(
                    format!("the bus refused {}: {err}", routed.about),
                    routed.payload.into_bytes(),
                ),
                position: routed.about,
            }),
            Outgoing::Refusal {
                cursor,
                position,
                letter,
            } => letter.head_only().map(|letter| Outgoing::Refusal {
                cursor,
                position,
                letter,
            }),
        }
    }
}

/// An outgoing message whose acknowledgement is awaited.
struct Pending {
    outgoing: Outgoing,
    ack: BoxFuture<'static, Result<bool, BusError>>,
}

/// The transient failures met sending one message.
#[derive(Default)]
struct Attempts {
    failed: u32,
    backoff: Option<Backoff>,
}

/// Sends to the bus for one source.
struct Sender<'a> {
    bus: &'a Bus,
    kind: &'static str,
}

impl Sender<'_> {
    /// Sends `outgoing` and returns its acknowledgement to await.
    async fn start(
        &self,
        mut outgoing: Outgoing,
        attempts: &mut Attempts,
    ) -> Result<Pending, SourceError> {
        loop {
            let sent = match &outgoing {
                Outgoing::Message(routed) => self
                    .bus
                    .publish(self.kind, routed)
                    .await
                    .map(FutureExt::boxed),
                Outgoing::Refusal {
                    cursor,
                    position,
                    letter,
                } => self
                    .bus
                    .refuse(self.kind, *cursor, position, letter)
                    .await
                    .map(FutureExt::boxed),
            };
            match sent {
                Ok(ack) => return Ok(Pending { outgoing, ack }),
                Err(err) => outgoing = self.after(err, outgoing, attempts).await?,
            }
        }
    }

    /// What to send after the bus refused `outgoing`: something smaller for
    /// a permanent refusal, the same again after a pause for a transient
    /// one, and an error once the transient ones outlast the bound.
    async fn after(
        &self,
        err: BusError,
        outgoing: Outgoing,
        attempts: &mut Attempts,
    ) -> Result<Outgoing, SourceError> {
        let about = outgoing.about().to_owned();
        if err.is_permanent() {
            tracing::warn!(%about, error = %err, "the bus refused it for good; it goes on the bus as a refusal");
            return outgoing.instead(&err).ok_or_else(|| {
                SourceError::stopped(
                    self.kind,
                    format!("the bus refused even the first bytes of {about}: {err}"),
                )
            });
        }
        attempts.failed += 1;
        if attempts.failed >= PUBLISH_ATTEMPTS {
            return Err(SourceError::stopped(
                self.kind,
                format!(
                    "the bus failed {PUBLISH_ATTEMPTS} times to store {about}, last with: {err}; nothing after it was read, and a restart resumes from the newest message the bus holds"
                ),
            ));
        }
        let delay = attempts.backoff.get_or_insert(Backoff::RETRY).next_delay();
        tracing::warn!(%about, attempt = attempts.failed, error = %err, retry_in = ?delay, "publish failed; sending it again");
        tokio::time::sleep(delay).await;
        Ok(outgoing)
    }

    /// Waits for the first `count` acknowledgements, sending again what
    /// the bus did not store.
    async fn settle(
        &self,
        pending: &mut VecDeque<Pending>,
        count: usize,
        report: &mut ConsumeReport,
        metrics: &IngestMetrics,
    ) -> Result<(), SourceError> {
        for _ in 0..count {
            let Some(Pending {
                mut outgoing,
                mut ack,
            }) = pending.pop_front()
            else {
                return Ok(());
            };
            let mut attempts = Attempts::default();
            let duplicate = loop {
                match ack.await {
                    Ok(duplicate) => break duplicate,
                    // A lost acknowledgement may or may not have been
                    // stored; the message id makes sending it again safe.
                    Err(err) => {
                        let next = self.after(err, outgoing, &mut attempts).await?;
                        Pending { outgoing, ack } = self.start(next, &mut attempts).await?;
                    }
                }
            };
            if duplicate {
                report.duplicates += 1;
                metrics.duplicates.inc();
            } else if let Outgoing::Refusal { .. } = outgoing {
                report.refused += 1;
                metrics.refused.inc();
            } else {
                report.published += 1;
                metrics.published.inc();
            }
        }
        Ok(())
    }
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
