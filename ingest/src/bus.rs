//! The NATS JetStream bus between the consumer and the processor.
//!
//! One stream holds `{root}.event.*`, `{root}.rsvp.*`, `{root}.identity`
//! and `{root}.account`; a second holds the dead letters `{root}.dlq.>`.
//! The root is `firehose` in production; tests pick their own so that they
//! can run side by side. The bus is a buffer, not the source of truth: the
//! event store's derived ids absorb whatever it delivers twice.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, Context, stream};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::lines::{HEAD_BYTES, MAX_LINE_BYTES};
use crate::routing::Routed;

/// Header naming the source kind of a message (`jetstream`, `firehose`, `file`).
pub const SOURCE_HEADER: &str = "Openmeet-Source";
/// Header carrying the source's cursor for a message.
pub const CURSOR_HEADER: &str = "Openmeet-Cursor";
/// Header carrying why a message is a dead letter.
pub const REASON_HEADER: &str = "Openmeet-Reason";
/// How long JetStream remembers message ids to drop duplicates.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Where the bus lives.
#[derive(Clone, Debug)]
pub struct BusConfig {
    /// The NATS server, such as `nats://127.0.0.1:4222`.
    pub url: String,
    /// The stream of firehose messages.
    pub stream: String,
    /// The subject root, `firehose` in production.
    pub root: String,
}

/// A connected bus with its streams in place.
#[derive(Clone)]
pub struct Bus {
    js: Context,
    config: BusConfig,
    max_payload: usize,
}

/// A bus failure; all of them are worth retrying.
#[derive(Debug, Error)]
#[error("NATS bus ({url}): {what}: {reason}")]
pub struct BusError {
    url: String,
    what: &'static str,
    reason: String,
}

/// The newest message on the bus, for resuming a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastMessage {
    /// The source kind it came from.
    pub source: String,
    /// Its source cursor.
    pub cursor: i64,
}

impl BusError {
    /// A failure of `what` against the server at `url`.
    pub fn new(url: &str, what: &'static str, err: &dyn std::fmt::Display) -> Self {
        Self {
            url: url.to_owned(),
            what,
            reason: err.to_string(),
        }
    }
}

impl Bus {
    /// Connects and creates the streams if they do not exist.
    pub async fn connect(config: BusConfig) -> Result<Bus, BusError> {
        let fail = |what| {
            let url = config.url.clone();
            move |err: &dyn std::fmt::Display| BusError {
                url,
                what,
                reason: err.to_string(),
            }
        };
        let client = async_nats::connect(&config.url)
            .await
            .map_err(|err| fail("connect")(&err))?;
        let max_payload = client.server_info().max_payload;
        let js = jetstream::new(client);
        let root = &config.root;
        js.get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![
                format!("{root}.event.*"),
                format!("{root}.rsvp.*"),
                format!("{root}.identity"),
                format!("{root}.account"),
            ],
            duplicate_window: DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|err| fail("create the firehose stream")(&err))?;
        js.get_or_create_stream(stream::Config {
            name: format!("{}_DLQ", config.stream),
            subjects: vec![format!("{root}.dlq.>")],
            duplicate_window: DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|err| fail("create the dead-letter stream")(&err))?;
        Ok(Bus {
            js,
            config,
            max_payload,
        })
    }

    /// The largest message the server accepts, in bytes (its `max_payload`).
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// The JetStream context.
    pub fn jetstream(&self) -> &Context {
        &self.js
    }

    fn error(&self, what: &'static str, err: impl std::fmt::Display) -> BusError {
        BusError {
            url: self.config.url.clone(),
            what,
            reason: err.to_string(),
        }
    }

    /// Publishes a routed message; the returned future resolves when the
    /// stream stored it, to true when JetStream dropped it as a duplicate of
    /// an earlier one. Awaiting several at once pipelines the publishes.
    pub async fn publish(
        &self,
        source: &str,
        message: Routed,
    ) -> Result<impl Future<Output = Result<bool, BusError>> + use<>, BusError> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", message.msg_id.as_str());
        headers.insert(SOURCE_HEADER, source);
        headers.insert(CURSOR_HEADER, message.cursor.to_string().as_str());
        let subject = format!("{}.{}", self.config.root, message.subject);
        let pending = self
            .js
            .publish_with_headers(subject, headers, Bytes::from(message.payload))
            .await
            .map_err(|err| self.error("publish", err))?;
        let url = self.config.url.clone();
        Ok(async move {
            pending
                .await
                .map(|ack| ack.duplicate)
                .map_err(|err| BusError {
                    url,
                    what: "publish acknowledgement",
                    reason: err.to_string(),
                })
        })
    }

    /// Publishes a dead letter under `{root}.dlq.{kind}` with its reason.
    pub async fn dead_letter(
        &self,
        kind: &str,
        msg_id: &str,
        reason: &str,
        payload: Vec<u8>,
    ) -> Result<(), BusError> {
        // A dead letter is never larger than a message: past that it keeps
        // the first bytes and says what the rest was.
        let (reason, payload) = if payload.len() > MAX_LINE_BYTES {
            let reason = format!(
                "{reason} ({} bytes, sha256 {:x}; its first {HEAD_BYTES} bytes kept)",
                payload.len(),
                Sha256::digest(&payload)
            );
            (reason, payload[..HEAD_BYTES].to_vec())
        } else {
            (reason.to_owned(), payload)
        };
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        // Header values are one line.
        headers.insert(REASON_HEADER, reason.replace(['\r', '\n'], " ").as_str());
        self.js
            .publish_with_headers(
                format!("{}.dlq.{kind}", self.config.root),
                headers,
                Bytes::from(payload),
            )
            .await
            .map_err(|err| self.error("publish a dead letter", err))?
            .await
            .map_err(|err| self.error("dead letter acknowledgement", err))?;
        Ok(())
    }

    /// The newest message in the firehose stream, if any.
    pub async fn last_message(&self) -> Result<Option<LastMessage>, BusError> {
        let mut stream = self
            .js
            .get_stream(&self.config.stream)
            .await
            .map_err(|err| self.error("open the stream", err))?;
        let last = stream
            .info()
            .await
            .map_err(|err| self.error("stream info", err))?
            .state
            .last_sequence;
        if last == 0 {
            return Ok(None);
        }
        let message = stream
            .get_raw_message(last)
            .await
            .map_err(|err| self.error("read the last message", err))?;
        let header = |name| {
            message
                .headers
                .get(name)
                .map(|value| value.as_str().to_owned())
        };
        let cursor = header(CURSOR_HEADER).and_then(|c| c.parse().ok());
        Ok(match (header(SOURCE_HEADER), cursor) {
            (Some(source), Some(cursor)) => Some(LastMessage { source, cursor }),
            _ => None,
        })
    }

    /// Deletes both streams (for tests and resets).
    pub async fn delete(self) -> Result<(), BusError> {
        for name in [
            self.config.stream.clone(),
            format!("{}_DLQ", self.config.stream),
        ] {
            self.js
                .delete_stream(&name)
                .await
                .map_err(|err| self.error("delete a stream", err))?;
        }
        Ok(())
    }
}
