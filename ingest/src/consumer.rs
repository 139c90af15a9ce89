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
use crate::source::{Item, Source, SourceError};

/// Room for the subject and the headers of a message (message id, source,
/// cursor) beside its payload.
const HEADER_ALLOWANCE: usize = 4 * 1024;
/// Publishes awaited together; more only queue in NATS's client buffer.
const PUBLISH_WINDOW: usize = 256;

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
    /// Dead letters.
    pub dead_letters: u64,
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
    let (tx, mut rx) = mpsc::channel(options.buffer.max(1));
    let reader = tokio::spawn(source.run(started_after, tx));
    let mut pending: VecDeque<BoxFuture<'static, Result<bool, BusError>>> = VecDeque::new();
    while let Some(item) = rx.recv().await {
        metrics.buffered.set(rx.len() as i64);
        match item {
            Item::Routed(routed) => {
                metrics.received.inc();
                let lag = now_micros().saturating_sub(routed.time_us) / 1_000_000;
                metrics.lag_seconds.set(lag);
                let ack = retry("publish", || bus.publish(kind, routed.clone())).await;
                pending.push_back(ack.boxed());
                if pending.len() >= PUBLISH_WINDOW {
                    settle(&mut pending, 1, &mut report, metrics).await;
                }
            }
            Item::Dead { cursor, letter } => {
                metrics.received.inc();
                metrics.dead_letters.with_label_values(&["source"]).inc();
                report.dead_letters += 1;
                tracing::warn!(cursor, reason = %letter.reason, "source input sent to the dead-letter subject");
                let msg_id = format!(
                    "{kind}/{cursor}/{}",
                    letter.reason.len() + letter.payload.len()
                );
                retry("dead letter", || {
                    bus.dead_letter("source", &msg_id, &letter.reason, letter.payload.clone())
                })
                .await;
            }
            Item::Reconnecting => metrics.reconnects.inc(),
            Item::Lines(counts) => report.lines = Some(counts),
            Item::Filtered(count) => {
                metrics.received.inc_by(count);
                metrics.filtered.inc_by(count);
                report.filtered += count;
            }
        }
    }
    let remaining = pending.len();
    settle(&mut pending, remaining, &mut report, metrics).await;
    match reader.await {
        Ok(result) => result.map(|()| report),
        Err(err) => Err(SourceError::stopped(kind, err.to_string())),
    }
}

async fn settle(
    pending: &mut VecDeque<BoxFuture<'static, Result<bool, BusError>>>,
    count: usize,
    report: &mut ConsumeReport,
    metrics: &IngestMetrics,
) {
    for _ in 0..count {
        let Some(ack) = pending.pop_front() else {
            return;
        };
        match ack.await {
            Ok(true) => {
                report.duplicates += 1;
                metrics.duplicates.inc();
            }
            Ok(false) => {
                report.published += 1;
                metrics.published.inc();
            }
            // A lost acknowledgement may or may not have been stored; the
            // message id makes a republish safe, and the source resumes from
            // the bus on restart.
            Err(err) => tracing::error!(error = %err, "a publish was not acknowledged"),
        }
    }
}

/// Retries a bus operation with backoff until it succeeds: whatever feeds
/// it waits meanwhile, so nothing is taken that cannot be passed on.
pub(crate) async fn retry<T, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, BusError>>,
{
    let mut backoff = Backoff::RETRY;
    loop {
        match op().await {
            Ok(value) => return value,
            Err(err) => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %err, retry_in = ?delay, "{what} failed");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
