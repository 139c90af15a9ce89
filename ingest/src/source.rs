//! Firehose sources, chosen by URL, each feeding a bounded channel:
//! - `wss://…/subscribe` (or `ws://`): Jetstream JSON;
//! - `wss://…/xrpc/com.atproto.sync.subscribeRepos`: the relay or PDS firehose;
//! - `file://PATH.jsonl`: recorded Jetstream lines, at full speed;
//! - `file://PATH` (any other name): recorded firehose frames (see [`crate::capture`]).
//!
//! Live sources reconnect with exponential backoff and jitter and resume
//! from the last cursor they delivered.

use std::path::PathBuf;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rand::Rng;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use crate::backoff::Backoff;
use crate::firehose::{Frame, decode_frame};
use crate::lines::{Line, LineCounts, Lines};
use crate::routing::{DeadLetter, Routed, Unrouted, route_jetstream};

/// The calendar collections asked of Jetstream.
const WANTED: [&str; 2] = [
    domain::intake::EVENT_COLLECTION,
    domain::intake::RSVP_COLLECTION,
];
/// Jetstream's `time_us` is not monotonic in delivery order, so a resume
/// starts this far before the newest cursor seen; the overlap is dropped
/// as duplicates by the bus and the store.
pub const JETSTREAM_OVERLAP_MICROS: i64 = 5_000_000;
/// Reconnections: 250 ms doubling to 30 s, each with ±50 % jitter.
const RECONNECT: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));

/// Where messages come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A Jetstream endpoint.
    Jetstream(Url),
    /// A `com.atproto.sync.subscribeRepos` endpoint.
    Firehose(Url),
    /// A file of Jetstream JSON lines.
    JsonLines(PathBuf),
    /// A file of firehose frames.
    Frames(PathBuf),
}

/// A source URL that names no source.
#[derive(Debug, Error)]
#[error("source {url:?}: {reason}")]
pub struct BadSource {
    url: String,
    reason: String,
}

/// What a source hands to the consumer.
#[derive(Debug)]
pub enum Item {
    /// A message for the bus.
    Routed(Routed),
    /// Input that cannot be routed.
    Dead {
        /// The source's cursor for it, when it has one of its own (a line's
        /// number, a frame's `seq`).
        cursor: Option<i64>,
        /// Names where the source held it, in its rejection: a file's path
        /// and line (as `import-jetstream` names it), or the stream and the
        /// last cursor before it.
        position: String,
        /// The input and why.
        letter: DeadLetter,
    },
    /// Messages filtered out (their count).
    Filtered(u64),
    /// What became of every line of a file of lines, at its end.
    Lines(LineCounts),
    /// A live source lost its connection and is about to reconnect.
    Reconnecting,
}

/// A source that stopped for good.
#[derive(Debug, Error)]
#[error("source {source_name}: {reason}")]
pub struct SourceError {
    source_name: String,
    reason: String,
}

impl SourceError {
    /// A source that stopped for `reason`.
    pub fn stopped(source_name: &str, reason: String) -> Self {
        Self {
            source_name: source_name.to_owned(),
            reason,
        }
    }
}

impl Source {
    /// The source a URL names.
    pub fn parse(url: &str) -> Result<Source, BadSource> {
        let bad = |reason: &str| BadSource {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = Url::parse(url).map_err(|err| bad(&err.to_string()))?;
        match parsed.scheme() {
            "file" => {
                let path = parsed
                    .to_file_path()
                    .map_err(|()| bad("not a local file path"))?;
                // Named as `import-jetstream` names it, in rejections.
                let path = std::fs::canonicalize(&path).unwrap_or(path);
                Ok(if path.extension().is_some_and(|ext| ext == "jsonl") {
                    Source::JsonLines(path)
                } else {
                    Source::Frames(path)
                })
            }
            "ws" | "wss" if parsed.path().ends_with("/com.atproto.sync.subscribeRepos") => {
                Ok(Source::Firehose(parsed))
            }
            "ws" | "wss" if parsed.path().ends_with("/subscribe") => Ok(Source::Jetstream(parsed)),
            "ws" | "wss" => Err(bad(
                "a WebSocket source must end in /subscribe (Jetstream) or /xrpc/com.atproto.sync.subscribeRepos",
            )),
            _ => Err(bad("use wss://, ws:// or file://")),
        }
    }

    /// The kind recorded with each message, so a resume only trusts cursors
    /// of its own kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Jetstream(_) => "jetstream",
            Source::Firehose(_) => "firehose",
            Source::JsonLines(_) => "file-jsonl",
            Source::Frames(_) => "file-frames",
        }
    }

    /// Where to resume after `last`, the cursor of the newest message on
    /// the bus from this kind of source.
    pub fn resume_after(&self, last: i64) -> i64 {
        match self {
            Source::Jetstream(_) => last - JETSTREAM_OVERLAP_MICROS,
            _ => last,
        }
    }

    /// Runs until a file ends or the receiver is dropped; live sources
    /// reconnect on any failure. `cursor`: start after this position.
    pub async fn run(self, cursor: Option<i64>, tx: mpsc::Sender<Item>) -> Result<(), SourceError> {
        match self {
            Source::JsonLines(path) => replay_lines(path, cursor, tx).await,
            Source::Frames(path) => replay_frames(path, cursor, tx).await,
            Source::Jetstream(url) => {
                live(url, false, cursor, tx).await;
                Ok(())
            }
            Source::Firehose(url) => {
                live(url, true, cursor, tx).await;
                Ok(())
            }
        }
    }
}

/// What a line becomes; `cursor` is its own cursor, if the source gives
/// it one (a file's line number), `position` names it.
fn items_of_line(line: &str, cursor: Option<i64>, position: impl FnOnce() -> String) -> Item {
    let letter = match route_jetstream(line, cursor) {
        Ok(routed) => return Item::Routed(routed),
        Err(Unrouted::Filtered(_)) => return Item::Filtered(1),
        Err(Unrouted::Malformed(reason)) => DeadLetter::new(reason, line.as_bytes().to_vec()),
        Err(Unrouted::Oversized(letter)) => letter,
    };
    Item::Dead {
        cursor,
        position: position(),
        letter,
    }
}

/// What a frame becomes; `position` names it.
fn items_of_frame(bytes: &[u8], position: impl FnOnce() -> String) -> Vec<Item> {
    match decode_frame(bytes) {
        Ok(Frame::Messages {
            routed,
            filtered,
            dead,
            seq,
        }) => {
            let mut items: Vec<Item> = routed.into_iter().map(Item::Routed).collect();
            if !dead.is_empty() {
                let position = format!("{} (seq {seq})", position());
                items.extend(dead.into_iter().map(|letter| Item::Dead {
                    cursor: Some(seq),
                    position: position.clone(),
                    letter,
                }));
            }
            if !filtered.is_empty() {
                items.push(Item::Filtered(filtered.len() as u64));
            }
            items
        }
        Ok(Frame::Info { name, message }) => {
            tracing::info!(%name, message = message.unwrap_or_default(), "firehose info");
            vec![]
        }
        Ok(Frame::Error { error, message }) => {
            tracing::warn!(%error, message = message.unwrap_or_default(), "firehose error frame");
            vec![]
        }
        Err(err) => vec![Item::Dead {
            cursor: None,
            position: position(),
            letter: DeadLetter::new(err.to_string(), bytes.to_vec()),
        }],
    }
}

async fn send_all(tx: &mpsc::Sender<Item>, items: Vec<Item>) -> bool {
    for item in items {
        if tx.send(item).await.is_err() {
            return false;
        }
    }
    true
}

fn file_error(path: &std::path::Path, err: impl std::fmt::Display) -> SourceError {
    SourceError::stopped(&path.display().to_string(), err.to_string())
}

/// Replays Jetstream lines; a line's cursor is its line number, so a resume
/// is exact. A line that is no message (not UTF-8, too long) is a dead
/// letter naming its line, and the reading goes on.
async fn replay_lines(
    path: PathBuf,
    after: Option<i64>,
    tx: mpsc::Sender<Item>,
) -> Result<(), SourceError> {
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|err| file_error(&path, err))?;
    let mut lines = Lines::new(tokio::io::BufReader::new(file));
    let mut counts = LineCounts::default();
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|err| file_error(&path, err))?
    {
        let number = line.number() as i64;
        let before_cursor = after.is_some_and(|after| number <= after);
        counts.count(&line, before_cursor);
        if before_cursor {
            continue;
        }
        let item = if let Line::Text { text, .. } = &line {
            items_of_line(text, Some(number), || {
                format!("{}:{number}", path.display())
            })
        } else if let Some(letter) = line.broken() {
            Item::Dead {
                cursor: Some(number),
                position: format!("{}:{number}", path.display()),
                letter,
            }
        } else {
            continue;
        };
        if !send_all(&tx, vec![item]).await {
            return Ok(());
        }
    }
    send_all(&tx, vec![Item::Lines(counts)]).await;
    Ok(())
}

/// Replays frames; a frame's cursor is its firehose `seq`. The file is
/// read a frame at a time on a blocking thread, so memory stays flat in
/// its size, and the channel's bound holds the reading back.
async fn replay_frames(
    path: PathBuf,
    after: Option<i64>,
    tx: mpsc::Sender<Item>,
) -> Result<(), SourceError> {
    let reading = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|err| file_error(&path, err))?;
        let mut input = std::io::BufReader::new(file);
        let mut position = 0i64;
        while let Some(frame) =
            crate::capture::read_frame(&mut input).map_err(|err| file_error(&path, err))?
        {
            position += 1;
            let items = items_of_frame(&frame, || format!("{}:frame {position}", path.display()))
                .into_iter()
                .filter(|item| match (item, after) {
                    (Item::Routed(routed), Some(after)) => routed.cursor > after,
                    _ => true,
                });
            for item in items {
                if tx.blocking_send(item).is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    });
    reading
        .await
        .map_err(|err| SourceError::stopped("file-frames", err.to_string()))?
}

fn with_cursor(url: &Url, firehose: bool, cursor: Option<i64>) -> Url {
    let mut url = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "cursor" && key != "wantedCollections")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (key, value) in &kept {
            query.append_pair(key, value);
        }
        if !firehose {
            for collection in WANTED {
                query.append_pair("wantedCollections", collection);
            }
        }
        if let Some(cursor) = cursor {
            query.append_pair("cursor", &cursor.to_string());
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    url
}

/// Reads a live source forever, reconnecting with backoff.
async fn live(url: Url, firehose: bool, mut cursor: Option<i64>, tx: mpsc::Sender<Item>) {
    let mut backoff = RECONNECT;
    loop {
        let target = with_cursor(&url, firehose, cursor);
        match tokio_tungstenite::connect_async(target.as_str()).await {
            Ok((mut socket, _)) => {
                tracing::info!(url = %target, "connected to the source");
                while let Some(message) = socket.next().await {
                    let position = || match cursor {
                        Some(cursor) => format!("{url} after cursor {cursor}"),
                        None => format!("{url} before its first message"),
                    };
                    let items = match message {
                        Ok(Message::Text(text)) => {
                            vec![items_of_line(text.as_str(), None, position)]
                        }
                        Ok(Message::Binary(bytes)) => items_of_frame(&bytes, position),
                        Ok(Message::Ping(payload)) => {
                            let _ = socket.send(Message::Pong(payload)).await;
                            continue;
                        }
                        Ok(Message::Close(frame)) => {
                            tracing::warn!(?frame, "the source closed the connection");
                            break;
                        }
                        Ok(_) => continue,
                        Err(err) => {
                            tracing::warn!(error = %err, "the source connection failed");
                            break;
                        }
                    };
                    backoff.reset();
                    for item in &items {
                        if let Item::Routed(routed) = item {
                            cursor = Some(routed.cursor);
                        }
                    }
                    if !send_all(&tx, items).await {
                        return;
                    }
                }
            }
            Err(err) => tracing::warn!(url = %target, error = %err, "cannot connect to the source"),
        }
        if tx.send(Item::Reconnecting).await.is_err() {
            return;
        }
        let jitter = rand::rng().random_range(0.5..1.5);
        tokio::time::sleep(backoff.next_delay().mul_f64(jitter)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_source() {
        assert!(matches!(
            Source::parse("wss://jetstream2.us-east.bsky.network/subscribe"),
            Ok(Source::Jetstream(_))
        ));
        assert!(matches!(
            Source::parse("ws://127.0.0.1:2583/xrpc/com.atproto.sync.subscribeRepos"),
            Ok(Source::Firehose(_))
        ));
        assert_eq!(
            Source::parse("file:///tmp/capture.jsonl").unwrap(),
            Source::JsonLines("/tmp/capture.jsonl".into())
        );
        assert_eq!(
            Source::parse("file:///tmp/capture.frames").unwrap(),
            Source::Frames("/tmp/capture.frames".into())
        );
        let err = Source::parse("https://example.com").unwrap_err();
        assert_eq!(
            err.to_string(),
            "source \"https://example.com\": use wss://, ws:// or file://"
        );
    }

    #[test]
    fn jetstream_asks_for_the_calendar_collections_from_the_cursor() {
        let url = Url::parse("wss://js.example/subscribe?compress=false&cursor=1").unwrap();
        assert_eq!(
            with_cursor(&url, false, Some(42)).as_str(),
            "wss://js.example/subscribe?compress=false&wantedCollections=community.lexicon.calendar.event&wantedCollections=community.lexicon.calendar.rsvp&cursor=42"
        );
        let firehose = Url::parse("ws://pds.test/xrpc/com.atproto.sync.subscribeRepos").unwrap();
        assert_eq!(
            with_cursor(&firehose, true, None).as_str(),
            "ws://pds.test/xrpc/com.atproto.sync.subscribeRepos"
        );
    }

    #[test]
    fn a_jetstream_resume_overlaps_by_five_seconds() {
        let source = Source::parse("wss://js.example/subscribe").unwrap();
        assert_eq!(source.resume_after(10_000_000), 5_000_000);
        let file = Source::parse("file:///x.jsonl").unwrap();
        assert_eq!(file.resume_after(7), 7);
    }
}
