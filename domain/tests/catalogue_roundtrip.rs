//! Property: every domain event survives encode → decode unchanged, and its
//! audit JSON names the same fields whatever the values.

use domain::attendance::{AttendanceStatus, RsvpChanged};
use domain::identity::{ShadowAccountCreated, UserId};
use domain::occurrence::{
    EventChangedExternally, EventDeletedExternally, EventImported, OccurrenceId,
};
use domain::rejection::RecordRejected;
use domain::{DomainEvent, Origin, Timestamp};
use proptest::prelude::*;
use uuid::Uuid;

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0i64..4_102_444_800_000_000).prop_map(Timestamp::from_unix_micros)
}

fn occurrence() -> impl Strategy<Value = OccurrenceId> {
    any::<u128>().prop_map(|n| OccurrenceId(Uuid::from_u128(n)))
}

fn user() -> impl Strategy<Value = UserId> {
    any::<u128>().prop_map(|n| UserId(Uuid::from_u128(n)))
}

fn status() -> impl Strategy<Value = AttendanceStatus> {
    prop_oneof![
        Just(AttendanceStatus::Attending),
        Just(AttendanceStatus::Interested),
        Just(AttendanceStatus::Declined)
    ]
}

fn origin() -> impl Strategy<Value = Origin> {
    prop_oneof![Just(Origin::Bluesky), Just(Origin::OpenMeet)]
}

fn domain_event() -> impl Strategy<Value = DomainEvent> {
    let text = ".{0,40}";
    prop_oneof![
        (occurrence(), text, text, text, timestamp()).prop_map(
            |(occurrence_id, uri, cid, record, observed_at)| {
                EventImported {
                    occurrence_id,
                    uri,
                    cid,
                    record,
                    observed_at,
                }
                .into()
            }
        ),
        (occurrence(), text, text, text, timestamp()).prop_map(
            |(occurrence_id, uri, cid, record, observed_at)| {
                EventChangedExternally {
                    occurrence_id,
                    uri,
                    cid,
                    record,
                    observed_at,
                }
                .into()
            }
        ),
        (occurrence(), text, timestamp()).prop_map(|(occurrence_id, uri, observed_at)| {
            EventDeletedExternally {
                occurrence_id,
                uri,
                observed_at,
            }
            .into()
        }),
        (
            occurrence(),
            user(),
            status(),
            origin(),
            timestamp(),
            proptest::option::of(text),
            proptest::option::of(text)
        )
            .prop_map(
                |(occurrence_id, attendee_id, status, origin, changed_at, rsvp_uri, rsvp_cid)| {
                    RsvpChanged {
                        occurrence_id,
                        attendee_id,
                        status,
                        origin,
                        changed_at,
                        rsvp_uri,
                        rsvp_cid,
                    }
                    .into()
                }
            ),
        (
            user(),
            text,
            proptest::option::of(text),
            proptest::option::of(text)
        )
            .prop_map(
                |(user_id, did, handle, display_name)| ShadowAccountCreated {
                    user_id,
                    did,
                    handle,
                    display_name
                }
                .into()
            ),
        (text, text, text, any::<u64>(), text).prop_map(|(subject, reason, raw, size, sha256)| {
            RecordRejected {
                subject,
                reason,
                raw,
                size,
                sha256,
            }
            .into()
        }),
    ]
}

proptest! {
    #[test]
    fn encode_then_decode_is_the_identity(event in domain_event()) {
        let payload = event.encode();
        prop_assert_eq!(payload.event_type.as_str(), event.event_type());
        prop_assert_eq!(payload.schema_version, event.schema_version());
        prop_assert_eq!(DomainEvent::decode(&payload), Ok(event));
    }

    #[test]
    fn audit_json_is_an_object(event in domain_event()) {
        prop_assert!(event.payload_json().is_object());
    }
}
