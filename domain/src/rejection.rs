//! Rejections: input that could not be applied is recorded, never dropped.
//!
//! A rejection keeps the first [`KEPT_BYTES`] of its input with the input's
//! size and digest, not the input whole: the log is folded again and again,
//! and a flood of huge records must not make every later fold carry them.
//! The whole input, up to the line limit, is on the dead-letter subject.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::envelope::StreamId;

/// How much of a rejected input its event keeps, in bytes.
pub const KEPT_BYTES: usize = 4 * 1024;

/// The stream that collects rejections of one source (such as `firehose`).
pub fn rejection_stream(source: &str) -> StreamId {
    StreamId::new("rejected", source)
}

/// An input record could not be applied. Schema version 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRejected {
    /// What was rejected: an AT-URI, or a source position when the input was
    /// too broken to name a record.
    pub subject: String,
    /// Why, in words an operator can act on.
    pub reason: String,
    /// The input as received, up to its first [`KEPT_BYTES`] (cut at a
    /// character); all of it when `size` is no larger. Bytes that are not
    /// UTF-8 are shown as U+FFFD.
    pub raw: String,
    /// The input's size in bytes.
    pub size: u64,
    /// The SHA-256 of the whole input, as 64 hex digits.
    pub sha256: String,
}

/// What is known of a rejected input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// All of its bytes.
    Whole(&'a [u8]),
    /// Its first bytes only, with the size and digest of all of it (a line
    /// too long to be read whole).
    Part {
        /// Its first bytes.
        head: &'a [u8],
        /// Its size in bytes.
        size: u64,
        /// The SHA-256 of all of it, as hex.
        sha256: &'a str,
    },
}

impl Input<'_> {
    /// The input as text, where its bytes allow.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Input::Whole(bytes) => String::from_utf8_lossy(bytes),
            Input::Part { head, .. } => String::from_utf8_lossy(head),
        }
    }
}

impl RecordRejected {
    /// The rejection of `input` under `subject` for `reason`.
    pub fn new(subject: &str, reason: &str, input: Input) -> Self {
        let (size, sha256) = match input {
            Input::Whole(bytes) => (bytes.len() as u64, format!("{:x}", Sha256::digest(bytes))),
            Input::Part { size, sha256, .. } => (size, sha256.to_owned()),
        };
        Self {
            subject: subject.to_owned(),
            reason: reason.to_owned(),
            raw: kept(&input.text()).to_owned(),
            size,
            sha256,
        }
    }

    /// Whether `raw` is all of the input.
    pub fn is_whole(&self) -> bool {
        self.raw.len() as u64 == self.size
    }
}

/// Schema version 1 of [`RecordRejected`], which kept the input whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRejectedV1 {
    /// What was rejected.
    pub subject: String,
    /// Why.
    pub reason: String,
    /// The input exactly as received.
    pub raw: String,
}

impl From<RecordRejectedV1> for RecordRejected {
    fn from(v1: RecordRejectedV1) -> Self {
        RecordRejected::new(&v1.subject, &v1.reason, Input::Whole(v1.raw.as_bytes()))
    }
}

fn kept(text: &str) -> &str {
    if text.len() <= KEPT_BYTES {
        return text;
    }
    let mut end = KEPT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_input_is_kept_whole_with_its_size_and_digest() {
        let rejected = RecordRejected::new("s", "r", Input::Whole(b"abc"));
        assert_eq!(rejected.raw, "abc");
        assert_eq!(rejected.size, 3);
        assert_eq!(
            rejected.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(rejected.is_whole());
    }

    #[test]
    fn a_long_input_keeps_its_first_bytes_cut_at_a_character() {
        let input = format!("{}é{}", "a".repeat(KEPT_BYTES - 1), "b".repeat(10_000));
        let rejected = RecordRejected::new("s", "r", Input::Whole(input.as_bytes()));
        assert_eq!(rejected.raw, "a".repeat(KEPT_BYTES - 1));
        assert_eq!(rejected.size, input.len() as u64);
        assert!(!rejected.is_whole());
    }

    #[test]
    fn a_part_keeps_the_size_and_digest_of_the_whole() {
        let rejected = RecordRejected::new(
            "s",
            "r",
            Input::Part {
                head: b"{\"did\":",
                size: 2_000_000,
                sha256: "00ff",
            },
        );
        assert_eq!(
            (
                rejected.raw.as_str(),
                rejected.size,
                rejected.sha256.as_str()
            ),
            ("{\"did\":", 2_000_000, "00ff")
        );
    }

    #[test]
    fn version_1_upcasts_to_the_same_input_cut_to_its_first_bytes() {
        let raw = "x".repeat(3 * KEPT_BYTES);
        let upcast = RecordRejected::from(RecordRejectedV1 {
            subject: "s".into(),
            reason: "r".into(),
            raw: raw.clone(),
        });
        assert_eq!(
            upcast,
            RecordRejected::new("s", "r", Input::Whole(raw.as_bytes()))
        );
        assert_eq!(upcast.raw.len(), KEPT_BYTES);
    }
}
