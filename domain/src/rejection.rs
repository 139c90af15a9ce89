//! Rejections: input that could not be applied is recorded, never dropped.

use serde::{Deserialize, Serialize};

use crate::envelope::StreamId;

/// The stream that collects rejections of one source (such as `firehose`).
pub fn rejection_stream(source: &str) -> StreamId {
    StreamId::new("rejected", source)
}

/// An input record could not be applied. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRejected {
    /// What was rejected: an AT-URI, or a source position when the input was
    /// too broken to name a record.
    pub subject: String,
    /// Why, in words an operator can act on.
    pub reason: String,
    /// The input exactly as received.
    pub raw: String,
}
