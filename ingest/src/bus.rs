//! The NATS JetStream bus between the consumer and the processor.
//!
//! One stream holds `{root}.event.*`, `{root}.rsvp.*`, `{root}.identity`,
//! `{root}.account`, and `{root}.source.refused` for input a source could
//! not pass on as a message (the processor records it as rejected, in bus
//! order); a second holds the dead letters `{root}.dlq.>`.
//! The root is `firehose` in production; tests pick their own so that they
//! can run side by side. The bus is a buffer, not the source of truth: the
//! event store's derived ids absorb whatever it delivers twice.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::{self, Context, ErrorCode, stream};
use bytes::Bytes;

use thiserror::Error;

use crate::routing::{Cut, DeadLetter, Routed};

/// Header naming the source kind of a message (`jetstream`, `firehose`, `file`).
pub const SOURCE_HEADER: &str = "Openmeet-Source";
/// Header carrying the source's cursor for a message.
pub const CURSOR_HEADER: &str = "Openmeet-Cursor";
/// Header carrying why a message is a dead letter or was refused.
pub const REASON_HEADER: &str = "Openmeet-Reason";
/// Header naming where a refused input was held (a file's path and line).
pub const POSITION_HEADER: &str = "Openmeet-Position";
/// Header carrying the size of an input cut to its first bytes.
pub const SIZE_HEADER: &str = "Openmeet-Size";
/// Header carrying the SHA-256 of an input cut to its first bytes.
pub const SHA256_HEADER: &str = "Openmeet-Sha256";
/// The subject, below the root, of input a source refused.
pub const REFUSED_SUBJECT: &str = "source.refused";
/// The longest header value written; a longer reason is cut.
const MAX_HEADER_VALUE: usize = 1024;
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

/// A bus failure: worth retrying, unless it is permanent.
#[derive(Debug, Error)]
#[error("NATS bus ({url}): {what}: {reason}")]
pub struct BusError {
    url: String,
    what: &'static str,
    reason: String,
    permanent: bool,
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
            permanent: false,
        }
    }

    /// Whether the bus refused this message for good (too large for it,
    /// say): sending it again cannot succeed.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl Bus {
    /// Connects and creates the streams if they do not exist.
    pub async fn connect(config: BusConfig) -> Result<Bus, BusError> {
        let fail = |what| {
            let url = config.url.clone();
            move |err: &dyn std::fmt::Display| BusError::new(&url, what, err)
        };
        let client = async_nats::connect(&config.url)
            .await
            .map_err(|err| fail("connect")(&err))?;
        let max_payload = client.server_info().max_payload;
        let js = jetstream::new(client);
        let root = &config.root;
        let subjects = vec![
            format!("{root}.event.*"),
            format!("{root}.rsvp.*"),
            format!("{root}.identity"),
            format!("{root}.account"),
            format!("{root}.{REFUSED_SUBJECT}"),
        ];
        let mut firehose = js
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: subjects.clone(),
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|err| fail("create the firehose stream")(&err))?;
        // A stream made by an older build lacks newer subjects; its other
        // settings (an operator's limits) are kept.
        let mut existing = firehose
            .info()
            .await
            .map_err(|err| fail("read the firehose stream")(&err))?
            .config
            .clone();
        if subjects.iter().any(|s| !existing.subjects.contains(s)) {
            existing.subjects = subjects;
            js.update_stream(existing)
                .await
                .map_err(|err| fail("add subjects to the firehose stream")(&err))?;
        }
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
        BusError::new(&self.config.url, what, &err)
    }

    /// Publishes a routed message; the returned future resolves when the
    /// stream stored it, to true when JetStream dropped it as a duplicate of
    /// an earlier one. Awaiting several at once pipelines the publishes.
    pub async fn publish(
        &self,
        source: &str,
        message: &Routed,
    ) -> Result<impl Future<Output = Result<bool, BusError>> + use<>, BusError> {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", message.msg_id.as_str());
        headers.insert(SOURCE_HEADER, source);
        headers.insert(CURSOR_HEADER, message.cursor.to_string().as_str());
        self.send(
            format!("{}.{}", self.config.root, message.subject),
            headers,
            Bytes::from(message.payload.clone()),
        )
        .await
    }

    /// Puts input that `source` could not pass on as a message on the bus,
    /// in order with the messages, for the processor to record as
    /// rejected. `position` names where the source held it; `cursor` is
    /// the source's cursor there (if it has one), so a resume passes over it.
    pub async fn refuse(
        &self,
        source: &str,
        cursor: Option<i64>,
        position: &str,
        letter: &DeadLetter,
    ) -> Result<impl Future<Output = Result<bool, BusError>> + use<>, BusError> {
        let mut headers = letter_headers(letter);
        let digest = match &letter.cut {
            Some(cut) => cut.sha256.clone(),
            None => Cut::of(&letter.payload).sha256,
        };
        headers.insert(
            "Nats-Msg-Id",
            format!("{source}/{position}/refused/{}", &digest[..16]).as_str(),
        );
        headers.insert(SOURCE_HEADER, source);
        if let Some(cursor) = cursor {
            headers.insert(CURSOR_HEADER, cursor.to_string().as_str());
        }
        headers.insert(POSITION_HEADER, header_value(position).as_str());
        self.send(
            format!("{}.{REFUSED_SUBJECT}", self.config.root),
            headers,
            Bytes::from(letter.payload.clone()),
        )
        .await
    }

    async fn send(
        &self,
        subject: String,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<impl Future<Output = Result<bool, BusError>> + use<>, BusError> {
        let pending = self
            .js
            .publish_with_headers(subject, headers, payload)
            .await
            .map_err(|err| publish_error(&self.config.url, "publish", err))?;
        let url = self.config.url.clone();
        Ok(async move {
            pending
                .await
                .map(|ack| ack.duplicate)
                .map_err(|err| publish_error(&url, "publish acknowledgement", err))
        })
    }

    /// Publishes a dead letter under `{root}.dlq.{kind}` with its reason,
    /// and for a cut one the size and digest of the whole input.
    pub async fn dead_letter(
        &self,
        kind: &str,
        msg_id: &str,
        letter: &DeadLetter,
    ) -> Result<(), BusError> {
        let mut headers = letter_headers(letter);
        headers.insert("Nats-Msg-Id", msg_id);
        self.js
            .publish_with_headers(
                format!("{}.dlq.{kind}", self.config.root),
                headers,
                Bytes::from(letter.payload.clone()),
            )
            .await
            .map_err(|err| publish_error(&self.config.url, "publish a dead letter", err))?
            .await
            .map_err(|err| publish_error(&self.config.url, "dead letter acknowledgement", err))?;
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

/// The reason of a dead letter or refusal, and what a cut one was.
fn letter_headers(letter: &DeadLetter) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(REASON_HEADER, header_value(&letter.reason).as_str());
    if let Some(Cut { size, sha256 }) = &letter.cut {
        headers.insert(SIZE_HEADER, size.to_string().as_str());
        headers.insert(SHA256_HEADER, sha256.as_str());
    }
    headers
}

/// What a header can carry of `text`: one line, cut at a character.
fn header_value(text: &str) -> String {
    let mut end = text.len().min(MAX_HEADER_VALUE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace(['\r', '\n'], " ")
}

/// A refused publish, permanent when no retry can succeed: the message is
/// larger than the server or the stream accepts, or its subject is not one.
fn publish_error(url: &str, what: &'static str, err: PublishError) -> BusError {
    let source = std::error::Error::source(&err);
    let permanent = match err.kind() {
        PublishErrorKind::MaxPayloadExceeded => true,
        PublishErrorKind::Other => source.is_some_and(|source| {
            source.is::<async_nats::subject::SubjectError>()
                || source
                    .downcast_ref::<jetstream::Error>()
                    .is_some_and(|err| {
                        err.error_code() == ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM
                    })
        }),
        _ => false,
    };
    BusError {
        permanent,
        ..BusError::new(url, what, &err)
    }
}

/// The refusal a processor reads off a `{root}.source.refused` message:
/// where the input was, why it was refused, and what a cut one was.
pub fn refusal_of(headers: Option<&HeaderMap>) -> Option<(String, String, Option<Cut>)> {
    let header = |name| {
        headers
            .and_then(|headers| headers.get(name))
            .map(|value| value.as_str().to_owned())
    };
    let cut = match (header(SIZE_HEADER), header(SHA256_HEADER)) {
        (Some(size), Some(sha256)) => Some(Cut {
            size: size.parse().ok()?,
            sha256,
        }),
        _ => None,
    };
    Some((header(POSITION_HEADER)?, header(REASON_HEADER)?, cut))
}
