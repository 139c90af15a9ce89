//! The domain event catalogue and its versioned binary encoding.
//!
//! Each payload struct is encoded with postcard, which is not
//! self-describing: once a `(event type, schema version)` pair has been
//! released its shape is frozen. A change to a payload adds a new schema
//! version and an upcaster from the old one; the golden files under
//! `domain/tests/golden/` keep every released version decodable forever.

use serde::Serialize;
use thiserror::Error;

use crate::attendance::{RsvpChanged, RsvpParked, RsvpWithdrawn};
use crate::backfill::RecordMissingAtPds;
use crate::envelope::EncodedPayload;
use crate::external_ref::ExternalRefLinked;
use crate::identity::{
    AccountRegistered, AccountStatusChanged, BlueskyCredentialsStored, BlueskyLoginRequired,
    DisplayNameChanged, HandleChanged, PersonalDataErased, ShadowAccountCreated, ShadowClaimed,
};
use crate::occurrence::{
    EventChangedExternally, EventDeletedExternally, EventImported, OccurrenceCancelled,
    OccurrenceDeleted, OccurrenceEdited, OccurrenceScheduled,
};
use crate::publishing::{
    BlueskySettingsChanged, OccurrencePublishFailed, OccurrencePublishRequested,
    OccurrenceUnpublished, OwnerAssigned, PublishingDecided, VisibilityChanged,
};
use crate::rejection::{RecordRejected, RecordRejectedV1};
use crate::series::{RecurrenceChanged, SeriesCreated, SeriesDeleted, SeriesEdited};
use crate::series_detection::review::{
    SeriesProposalAccepted, SeriesProposalAdjusted, SeriesProposalRejected,
};
use crate::series_detection::{SeriesProposed, SeriesProposedV1};
use crate::skips::ProjectionEventSkipped;
use crate::sync::{
    AttendanceSyncRequested, ConflictResolved, OccurrencePublished, RsvpPublishFailed,
    RsvpPublishRequested, RsvpPublished, SelfPublishedEchoMatched,
};

/// A stored payload that this build cannot turn back into a domain event.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The event type is not in the catalogue.
    #[error("unknown event type {event_type:?}")]
    UnknownEventType {
        /// The type name found in storage.
        event_type: String,
    },
    /// The event type is known, but not at this schema version.
    #[error(
        "{event_type} has no schema version {schema_version} in this build (it knows version {known})"
    )]
    UnknownSchemaVersion {
        /// The type name.
        event_type: String,
        /// The version found in storage.
        schema_version: u16,
        /// The newest version this build decodes.
        known: u16,
    },
    /// The bytes do not decode as the named payload.
    #[error("{event_type} v{schema_version} payload does not decode: {reason}")]
    Malformed {
        /// The type name.
        event_type: String,
        /// The version.
        schema_version: u16,
        /// What postcard reported.
        reason: String,
    },
}

fn decode_exact<T: serde::de::DeserializeOwned>(
    payload: &EncodedPayload,
) -> Result<T, DecodeError> {
    let malformed = |reason: String| DecodeError::Malformed {
        event_type: payload.event_type.clone(),
        schema_version: payload.schema_version,
        reason,
    };
    let (value, rest) =
        postcard::take_from_bytes(&payload.bytes).map_err(|err| malformed(err.to_string()))?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(malformed(format!(
            "{} trailing bytes after the payload",
            rest.len()
        )))
    }
}

fn encode_exact<T: Serialize>(
    event_type: &str,
    schema_version: u16,
    payload: &T,
) -> EncodedPayload {
    EncodedPayload {
        event_type: event_type.to_owned(),
        schema_version,
        // Payloads are plain structs of strings, integers, options and enums,
        // which postcard always encodes into a growable buffer.
        bytes: postcard::to_stdvec(payload).expect("fixed-shape payloads always encode"),
    }
}

/// `Name = version` for each event; an event whose payload changed also
/// names its older versions and their payload structs, `{ 1 => NameV1 }`,
/// each upcast to the current one by its `From`.
macro_rules! catalogue {
    ($($name:ident = $version:literal $({ $($old:literal => $old_payload:ty),+ })?),+ $(,)?) => {
        /// Every domain event this system records, at its current schema version.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum DomainEvent {
            $(
                #[doc = concat!("See [`", stringify!($name), "`].")]
                $name($name),
            )+
        }

        impl DomainEvent {
            /// Every `(event type, schema version)` pair ever released; each
            /// has a golden file that must keep decoding.
            pub const RELEASED: &'static [(&'static str, u16)] = &[
                $($($((stringify!($name), $old),)+)? (stringify!($name), $version),)+
            ];

            /// The catalogue name of this event.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$name(_) => stringify!($name),)+
                }
            }

            /// The schema version this build writes for this event.
            pub fn schema_version(&self) -> u16 {
                match self {
                    $(Self::$name(_) => $version,)+
                }
            }

            /// The versioned binary form, ready for the store.
            pub fn encode(&self) -> EncodedPayload {
                match self {
                    $(Self::$name(payload) => encode_exact(stringify!($name), $version, payload),)+
                }
            }

            /// Decodes a stored payload of any released version.
            pub fn decode(payload: &EncodedPayload) -> Result<Self, DecodeError> {
                match payload.event_type.as_str() {
                    $(stringify!($name) => match payload.schema_version {
                        $version => decode_exact(payload).map(Self::$name),
                        $($($old => decode_exact::<$old_payload>(payload)
                            .map(|old| Self::$name(old.into())),)+)?
                        other => Err(DecodeError::UnknownSchemaVersion {
                            event_type: payload.event_type.clone(),
                            schema_version: other,
                            known: $version,
                        }),
                    },)+
                    other => Err(DecodeError::UnknownEventType { event_type: other.to_owned() }),
                }
            }

            /// The payload as JSON, for auditors.
            pub fn payload_json(&self) -> serde_json::Value {
                // Serializing these derive-only structs to a JSON value cannot fail.
                match self {
                    $(Self::$name(payload) => serde_json::to_value(payload).unwrap_or_default(),)+
                }
            }
        }

        $(
            impl From<$name> for DomainEvent {
                fn from(payload: $name) -> Self {
                    Self::$name(payload)
                }
            }
        )+
    };
}

catalogue! {
    SeriesCreated = 1,
    SeriesEdited = 1,
    RecurrenceChanged = 1,
    OccurrenceScheduled = 1,
    OccurrenceEdited = 1,
    OccurrenceCancelled = 1,
    EventImported = 1,
    EventChangedExternally = 1,
    EventDeletedExternally = 1,
    RsvpChanged = 1,
    ShadowAccountCreated = 1,
    AccountRegistered = 1,
    HandleChanged = 1,
    RecordRejected = 2 { 1 => RecordRejectedV1 },
    RsvpWithdrawn = 1,
    RsvpParked = 1,
    AccountStatusChanged = 1,
    ExternalRefLinked = 1,
    OccurrencePublished = 1,
    SelfPublishedEchoMatched = 1,
    ConflictResolved = 1,
    SeriesProposed = 2 { 1 => SeriesProposedV1 },
    ShadowClaimed = 1,
    DisplayNameChanged = 1,
    PersonalDataErased = 1,
    SeriesProposalAccepted = 1,
    SeriesProposalAdjusted = 1,
    SeriesProposalRejected = 1,
    BlueskyCredentialsStored = 1,
    BlueskyLoginRequired = 1,
    RsvpPublishRequested = 1,
    RsvpPublished = 1,
    RsvpPublishFailed = 1,
    AttendanceSyncRequested = 1,
    OwnerAssigned = 1,
    BlueskySettingsChanged = 1,
    OccurrencePublishRequested = 1,
    OccurrencePublishFailed = 1,
    OccurrenceUnpublished = 1,
    OccurrenceDeleted = 1,
    ProjectionEventSkipped = 1,
    SeriesDeleted = 1,
    VisibilityChanged = 1,
    PublishingDecided = 1,
    RecordMissingAtPds = 1,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::UserId;

    fn shadow() -> DomainEvent {
        ShadowAccountCreated {
            user_id: UserId::shadow_for("did:plc:abc"),
            did: "did:plc:abc".into(),
            handle: Some("alice.test".into()),
            display_name: None,
        }
        .into()
    }

    #[test]
    fn an_event_decodes_to_itself() {
        let event = shadow();
        assert_eq!(DomainEvent::decode(&event.encode()), Ok(event));
    }

    #[test]
    fn an_unknown_event_type_is_named_in_the_error() {
        let mut payload = shadow().encode();
        payload.event_type = "SomethingNew".into();
        assert_eq!(
            DomainEvent::decode(&payload),
            Err(DecodeError::UnknownEventType {
                event_type: "SomethingNew".into()
            })
        );
    }

    #[test]
    fn a_newer_schema_version_is_refused_rather_than_misread() {
        let mut payload = shadow().encode();
        payload.schema_version = 2;
        let err = DomainEvent::decode(&payload).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ShadowAccountCreated has no schema version 2 in this build (it knows version 1)"
        );
    }

    #[test]
    fn trailing_bytes_are_malformed() {
        let mut payload = shadow().encode();
        payload.bytes.push(0);
        assert!(matches!(
            DomainEvent::decode(&payload),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn truncated_bytes_are_malformed() {
        let mut payload = shadow().encode();
        payload.bytes.truncate(payload.bytes.len() / 2);
        assert!(matches!(
            DomainEvent::decode(&payload),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
