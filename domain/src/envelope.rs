//! The envelope every stored event travels in: where it sits in the log, why
//! it happened, who caused it, and its versioned payload.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::time::Timestamp;

/// Namespace of the name-based (v5) UUIDs this system derives, so the same
/// input always yields the same id and redelivery stays idempotent.
const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f70_656e_6d65_6574_2d73_796e_632d_6964);

/// Derives a stable UUID from a kind and a natural key, for example an
/// occurrence id from the AT-URI of the record it was imported from.
pub fn derived_uuid(kind: &str, key: &str) -> Uuid {
    derived_uuid_of(kind, &[key])
}

/// [`derived_uuid`] of a key made of `parts` joined by `/`, without
/// formatting the key first.
fn derived_uuid_of(kind: &str, parts: &[&str]) -> Uuid {
    let length = kind.len() + parts.iter().map(|part| part.len() + 1).sum::<usize>();
    let mut name = String::with_capacity(length);
    name.push_str(kind);
    name.push('\n');
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            name.push('/');
        }
        name.push_str(part);
    }
    Uuid::new_v5(&ID_NAMESPACE, name.as_bytes())
}

/// The unique id of one event. Deterministic where the input is, random
/// (chosen at the edge) where it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// The id of the event recording one version of a firehose record:
    /// the same record version always maps to the same event id.
    pub fn for_record_version(did: &str, collection: &str, rkey: &str, version: &str) -> Self {
        Self(derived_uuid_of(
            "record-version",
            &[did, collection, rkey, version],
        ))
    }

    /// An event id derived from the event that caused it and a label, for
    /// decisions that follow deterministically from one input event.
    pub fn caused_by(cause: EventId, label: &str) -> Self {
        Self(derived_uuid("caused-by", &format!("{}/{label}", cause.0)))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Ties together every event of one logical operation (a firehose record,
/// an API request) across streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CorrelationId(pub Uuid);

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The platform a change came from; the origin platform of a series or
/// occurrence is its source of truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// ATProtocol: the firehose or a user's PDS.
    Bluesky,
    /// An edit made in OpenMeet.
    #[serde(rename = "openmeet")]
    OpenMeet,
}

impl Origin {
    /// The lowercase name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Bluesky => "bluesky",
            Origin::OpenMeet => "openmeet",
        }
    }

    /// Parses the lowercase name; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "bluesky" => Some(Origin::Bluesky),
            "openmeet" => Some(Origin::OpenMeet),
            _ => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who or what caused an event: a DID, an OpenMeet user, or a service
/// (`system:ingest`). Free text, never a secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(pub String);

impl Actor {
    /// An internal service acting on its own behalf.
    pub fn system(service: &str) -> Self {
        Self(format!("system:{service}"))
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a stream: one per aggregate, such as `occurrence-{id}` or
/// `identity-{did}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(pub String);

impl StreamId {
    /// A stream named `{category}-{key}`.
    pub fn new(category: &str, key: impl fmt::Display) -> Self {
        Self(format!("{category}-{key}"))
    }

    /// The stream name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The version of a stream: the number of events in it. The first event of
/// a stream has version 1; version 0 means the stream has no events.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct StreamVersion(pub u64);

impl fmt::Display for StreamVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A place in the global log. The first event has position 1; position 0
/// is "before everything". Positions are gap-free and in commit order.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct GlobalPosition(pub u64);

impl GlobalPosition {
    /// The position right after this one.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for GlobalPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why and by whom an event was recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    /// Unique id; appending an id that is already stored is idempotent.
    pub event_id: EventId,
    /// The event that caused this one, if any.
    pub causation_id: Option<EventId>,
    /// The operation this event belongs to.
    pub correlation_id: Option<CorrelationId>,
    /// The platform the change came from.
    pub origin: Origin,
    /// Who caused it.
    pub actor: Actor,
}

/// A payload in its versioned binary form: postcard bytes of the struct
/// that `event_type` at `schema_version` names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedPayload {
    /// The catalogue name, such as `EventImported`.
    pub event_type: String,
    /// The frozen version of that payload's shape.
    pub schema_version: u16,
    /// The postcard encoding.
    pub bytes: Vec<u8>,
}

/// An event on its way into the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// Ids, causation and origin.
    pub metadata: EventMetadata,
    /// The encoded payload.
    pub payload: EncodedPayload,
}

/// A decided event on its way to its stream: what intake, the process
/// manager and the publishing scheduler each decide, one type for all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Append {
    /// The stream to append to.
    pub stream: StreamId,
    /// Its id, causation and origin.
    pub metadata: EventMetadata,
    /// The event.
    pub event: crate::DomainEvent,
}

impl Append {
    /// The event, encoded for the store.
    pub fn new_event(&self) -> NewEvent {
        NewEvent {
            metadata: self.metadata.clone(),
            payload: self.event.encode(),
        }
    }
}

/// An event as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Its version within that stream.
    pub stream_version: StreamVersion,
    /// Its place in the global log.
    pub global_position: GlobalPosition,
    /// When the store committed it.
    pub recorded_at: Timestamp,
    /// Ids, causation and origin.
    pub metadata: EventMetadata,
    /// The encoded payload.
    pub payload: EncodedPayload,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        // Ids already stored were derived from the formatted key: the
        // joined parts must name exactly the same bytes.
        #[test]
        fn a_record_version_id_is_the_id_of_its_formatted_key(
            did in "[a-z:0-9]{0,20}", collection in "[a-z.]{0,30}", rkey in "[a-zA-Z0-9/]{0,13}", version in ".{0,20}"
        ) {
            let key = format!("{did}/{collection}/{rkey}/{version}");
            prop_assert_eq!(
                EventId::for_record_version(&did, &collection, &rkey, &version),
                EventId(derived_uuid("record-version", &key))
            );
        }
    }

    #[test]
    fn a_record_version_always_maps_to_the_same_event_id() {
        let first = EventId::for_record_version(
            "did:plc:abc",
            "community.lexicon.calendar.event",
            "3k",
            "bafy1",
        );
        let again = EventId::for_record_version(
            "did:plc:abc",
            "community.lexicon.calendar.event",
            "3k",
            "bafy1",
        );
        let other_cid = EventId::for_record_version(
            "did:plc:abc",
            "community.lexicon.calendar.event",
            "3k",
            "bafy2",
        );
        assert_eq!(first, again);
        assert_ne!(first, other_cid);
    }

    #[test]
    fn the_same_key_in_another_did_is_another_event() {
        let a = EventId::for_record_version("did:plc:a", "c", "k", "v");
        let b = EventId::for_record_version("did:plc:b", "c", "k", "v");
        assert_ne!(a, b);
    }

    #[test]
    fn origins_parse_their_own_names_only() {
        for origin in [Origin::Bluesky, Origin::OpenMeet] {
            assert_eq!(Origin::parse(origin.as_str()), Some(origin));
        }
        assert_eq!(Origin::parse("Bluesky"), None);
    }
}
