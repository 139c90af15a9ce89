//! External references: which local thing an AT-URI stands for.

use serde::{Deserialize, Serialize};

use crate::envelope::StreamId;
use crate::identity::UserId;
use crate::occurrence::OccurrenceId;

/// The stream of links of one AT-URI. A record deletion carries only its
/// URI, so this is how a deletion finds what it deletes.
pub fn external_ref_stream(uri: &str) -> StreamId {
    StreamId::new("external-ref", uri)
}

/// What a record stands for here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocalRef {
    /// An occurrence.
    Occurrence(OccurrenceId),
    /// One user's answer to one occurrence.
    Rsvp {
        /// The occurrence answered.
        occurrence_id: OccurrenceId,
        /// Who answered.
        attendee_id: UserId,
    },
}

/// An AT-URI was linked to a local thing. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalRefLinked {
    /// The record.
    pub uri: String,
    /// The version linked, when known.
    pub cid: Option<String>,
    /// What it stands for.
    pub target: LocalRef,
}

/// The local thing `uri` stands for, from its link stream's events.
pub fn linked_target<'a>(
    events: impl IntoIterator<Item = &'a crate::DomainEvent>,
) -> Option<LocalRef> {
    events.into_iter().fold(None, |target, event| match event {
        crate::DomainEvent::ExternalRefLinked(linked) => Some(linked.target),
        _ => target,
    })
}
