//! The line reader of capture files, shared by `ingest consume file://….jsonl`
//! and `import-jetstream`: every line read is numbered and comes out as
//! exactly one [`Line`], whatever its bytes, so a broken line is accounted
//! for and never ends the reading. A line is never held whole past
//! [`MAX_LINE_BYTES`]: memory stays bounded whatever the file holds.

use std::fmt;
use std::io;

use domain::intake::MAX_RECORD_BYTES;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::routing::{Cut, DeadLetter};

/// The longest line read whole: a message is its record (at most
/// [`MAX_RECORD_BYTES`]) in an envelope of identifiers, each bounded by its
/// syntax, well within this margin.
pub const MAX_LINE_BYTES: usize = MAX_RECORD_BYTES + 16 * 1024;
/// How much of an oversized or undecodable line is kept to show it.
pub const HEAD_BYTES: usize = 256;

/// One line of a capture, numbered from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A line of text: a message to route or apply.
    Text {
        /// Its number.
        number: u64,
        /// Its text, without the line ending.
        text: String,
    },
    /// A line of nothing but whitespace.
    Empty {
        /// Its number.
        number: u64,
    },
    /// A line that is not UTF-8.
    Undecodable {
        /// Its number.
        number: u64,
        /// What is wrong with it.
        reason: String,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// A line longer than [`MAX_LINE_BYTES`].
    Oversized {
        /// Its number.
        number: u64,
        /// Its length in bytes.
        size: u64,
        /// Its SHA-256, as hex.
        sha256: String,
        /// Its first [`HEAD_BYTES`] bytes.
        head: Vec<u8>,
    },
}

impl Line {
    /// The line's number.
    pub fn number(&self) -> u64 {
        match self {
            Line::Text { number, .. }
            | Line::Empty { number }
            | Line::Undecodable { number, .. }
            | Line::Oversized { number, .. } => *number,
        }
    }
}

impl Line {
    /// Why the line is no message, with what is kept of it; `None` for a
    /// line of text or an empty one.
    pub fn broken(&self) -> Option<DeadLetter> {
        match self {
            Line::Text { .. } | Line::Empty { .. } => None,
            Line::Undecodable { reason, bytes, .. } => {
                Some(DeadLetter::new(reason.clone(), bytes.clone()))
            }
            Line::Oversized {
                number,
                size,
                sha256,
                head,
            } => Some(DeadLetter {
                reason: format!(
                    "line {number} of {size} bytes exceeds the {MAX_LINE_BYTES}-byte limit"
                ),
                payload: head.clone(),
                cut: Some(Cut {
                    size: *size,
                    sha256: sha256.clone(),
                }),
            }),
        }
    }
}

/// Reads [`Line`]s.
pub struct Lines<R> {
    reader: R,
    number: u64,
    consumed: u64,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    /// Lines of `reader`, numbered from 1.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            number: 0,
            consumed: 0,
        }
    }

    /// Bytes read so far, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.consumed
    }

    /// The next line, `None` at the end; an error only when reading fails.
    pub async fn next_line(&mut self) -> io::Result<Option<Line>> {
        let mut kept = Vec::new();
        let mut size = 0u64;
        // Only a line past the limit needs its digest: begun once it passes
        // it, over what is held and then the rest as it streams by.
        let mut digest: Option<Sha256> = None;
        let mut read_any = false;
        loop {
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                if !read_any {
                    return Ok(None);
                }
                break;
            }
            read_any = true;
            let newline = available.iter().position(|&b| b == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            size += chunk.len() as u64;
            let room = (MAX_LINE_BYTES + 1).saturating_sub(kept.len());
            let (held, past) = chunk.split_at(chunk.len().min(room));
            kept.extend_from_slice(held);
            if !past.is_empty() {
                digest
                    .get_or_insert_with(|| Sha256::new_with_prefix(&kept))
                    .update(past);
            }
            let used = newline.map_or(available.len(), |at| at + 1);
            self.reader.consume(used);
            self.consumed += used as u64;
            if newline.is_some() {
                break;
            }
        }
        self.number += 1;
        let number = self.number;
        if size > MAX_LINE_BYTES as u64 {
            let sha256 = match digest {
                Some(digest) => format!("{:x}", digest.finalize()),
                None => format!("{:x}", Sha256::digest(&kept)),
            };
            kept.truncate(HEAD_BYTES);
            return Ok(Some(Line::Oversized {
                number,
                size,
                sha256,
                head: kept,
            }));
        }
        if kept.last() == Some(&b'\r') {
            kept.pop();
        }
        if kept.iter().all(u8::is_ascii_whitespace) {
            return Ok(Some(Line::Empty { number }));
        }
        Ok(Some(match String::from_utf8(kept) {
            Ok(text) => Line::Text { number, text },
            Err(err) => Line::Undecodable {
                number,
                reason: format!("line {number} is not UTF-8: {}", err.utf8_error()),
                bytes: err.into_bytes(),
            },
        }))
    }
}

/// What became of every line of a capture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Lines read.
    pub read: u64,
    /// Lines of text passed on (to the bus or the store).
    pub text: u64,
    /// Empty lines, passed over.
    pub empty: u64,
    /// Lines that are not UTF-8: dead letters or rejections.
    pub undecodable: u64,
    /// Lines over [`MAX_LINE_BYTES`]: dead letters or rejections.
    pub oversized: u64,
    /// Lines at or before the resume cursor, passed over.
    pub before_cursor: u64,
}

impl LineCounts {
    /// Counts `line`; `before_cursor` when a resume passes over it.
    pub fn count(&mut self, line: &Line, before_cursor: bool) {
        self.read += 1;
        let bucket = match line {
            _ if before_cursor => &mut self.before_cursor,
            Line::Text { .. } => &mut self.text,
            Line::Empty { .. } => &mut self.empty,
            Line::Undecodable { .. } => &mut self.undecodable,
            Line::Oversized { .. } => &mut self.oversized,
        };
        *bucket += 1;
    }
}

impl fmt::Display for LineCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} lines: {} messages, {} empty, {} not UTF-8, {} over {} bytes",
            self.read, self.text, self.empty, self.undecodable, self.oversized, MAX_LINE_BYTES
        )?;
        if self.before_cursor > 0 {
            write!(f, ", {} before the cursor", self.before_cursor)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    async fn all(bytes: &[u8]) -> Vec<Line> {
        let mut lines = Lines::new(tokio::io::BufReader::with_capacity(7, bytes));
        let mut out = vec![];
        while let Some(line) = lines.next_line().await.unwrap() {
            out.push(line);
        }
        out
    }

    fn block_on<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn every_line_comes_out_numbered_whatever_its_bytes() {
        let lines = block_on(all(b"{\"a\":1}\r\n\n  \n\xff\xfe{}\nlast"));
        assert_eq!(
            lines,
            vec![
                Line::Text {
                    number: 1,
                    text: "{\"a\":1}".into()
                },
                Line::Empty { number: 2 },
                Line::Empty { number: 3 },
                Line::Undecodable {
                    number: 4,
                    reason: "line 4 is not UTF-8: invalid utf-8 sequence of 1 bytes from index 0"
                        .into(),
                    bytes: b"\xff\xfe{}".to_vec()
                },
                Line::Text {
                    number: 5,
                    text: "last".into()
                },
            ]
        );
    }

    #[test]
    fn a_line_past_the_limit_is_measured_and_digested_and_not_held() {
        let long = |size: usize| -> Vec<u8> { (0..size).map(|i| b'a' + (i % 26) as u8).collect() };
        let (first, second) = (long(MAX_LINE_BYTES + 10), long(MAX_LINE_BYTES + 1));
        let file = [&first[..], b"\n", &second[..], b"\nok\n"].concat();
        let lines = block_on(all(&file));
        for (number, line) in [(1, &first), (2, &second)] {
            assert_eq!(
                lines[number - 1],
                Line::Oversized {
                    number: number as u64,
                    size: line.len() as u64,
                    sha256: format!("{:x}", Sha256::digest(line)),
                    head: line[..HEAD_BYTES].to_vec()
                }
            );
        }
        assert_eq!(
            lines[2],
            Line::Text {
                number: 3,
                text: "ok".into()
            }
        );
    }

    proptest! {
        #[test]
        fn as_many_lines_come_out_as_the_bytes_hold(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let lines = block_on(all(&bytes));
            let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
            let expected = newlines + usize::from(!bytes.is_empty() && bytes.last() != Some(&b'\n'));
            prop_assert_eq!(lines.len(), expected);
            for (n, line) in lines.iter().enumerate() {
                prop_assert_eq!(line.number(), n as u64 + 1);
            }
        }
    }
}
