//! Intake: what a Jetstream message means to this system, as domain events.
//!
//! A pure function of one message: the same message always yields the same
//! events with the same ids, so redelivery and replay are idempotent. Input
//! that cannot be applied becomes a [`RecordRejected`], never nothing.

use schemas::records::RsvpRecord;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::attendance::{AttendanceStatus, RsvpChanged, attendance_stream};
use crate::catalogue::DomainEvent;
use crate::envelope::{
    Actor, CorrelationId, EventId, EventMetadata, Origin, StreamId, derived_uuid,
};
use crate::identity::{ShadowAccountCreated, UserId, identity_stream};
use crate::occurrence::{
    EventChangedExternally, EventDeletedExternally, EventImported, OccurrenceId, details_of,
};
use crate::rejection::{RecordRejected, rejection_stream};
use crate::time::Timestamp;

/// The calendar event collection.
pub const EVENT_COLLECTION: &str = "community.lexicon.calendar.event";
/// The RSVP collection.
pub const RSVP_COLLECTION: &str = "community.lexicon.calendar.rsvp";

/// One event to append, with the stream it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intake {
    /// The stream to append to.
    pub stream: StreamId,
    /// Ids, causation and origin.
    pub metadata: EventMetadata,
    /// The event.
    pub event: DomainEvent,
}

/// What one message turned into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Events to append (possibly a rejection).
    Events(Vec<Intake>),
    /// A message about something this system does not sync (another
    /// collection, or a kind handled elsewhere), with the reason.
    Ignored(String),
}

#[derive(Deserialize)]
struct Message {
    did: String,
    time_us: i64,
    kind: String,
    commit: Option<Commit>,
}

#[derive(Deserialize)]
struct Commit {
    rev: String,
    operation: String,
    collection: String,
    rkey: String,
    /// Kept as received: the stored record must be byte-identical to the
    /// source so that redelivery is recognised and audits are faithful.
    record: Option<Box<RawValue>>,
    cid: Option<String>,
}

/// Turns one Jetstream JSON message (as received) into domain events.
/// `source_position` names the message when it is too broken to name a record.
pub fn from_jetstream(raw: &str, source_position: &str) -> Outcome {
    let message: Message = match serde_json::from_str(raw) {
        Ok(message) => message,
        Err(err) => {
            return reject(
                source_position,
                format!("not a Jetstream message: {err}"),
                raw,
            );
        }
    };
    let commit = match (message.kind.as_str(), &message.commit) {
        ("commit", Some(commit)) => commit,
        ("commit", None) => {
            return reject(
                source_position,
                "a commit message without a commit".into(),
                raw,
            );
        }
        (kind, _) => {
            return Outcome::Ignored(format!("{kind} messages are handled by identity sync"));
        }
    };
    if commit.collection != EVENT_COLLECTION && commit.collection != RSVP_COLLECTION {
        return Outcome::Ignored(format!(
            "{} is not a calendar collection",
            commit.collection
        ));
    }
    let uri = format!("at://{}/{}/{}", message.did, commit.collection, commit.rkey);
    let at = Timestamp::from_unix_micros(message.time_us);
    let version = commit.cid.as_deref().unwrap_or(&commit.rev);
    let record_event_id =
        EventId::for_record_version(&message.did, &commit.collection, &commit.rkey, version);
    let metadata = |event_id: EventId| EventMetadata {
        event_id,
        causation_id: None,
        correlation_id: Some(CorrelationId(record_event_id.0)),
        origin: Origin::Bluesky,
        actor: Actor(message.did.clone()),
    };

    let record_json = || commit.record.as_ref().map(|record| record.get().to_owned());
    let needs = |what: &str| reject(&uri, format!("a {} without {what}", commit.operation), raw);
    let occurrence_id = OccurrenceId::for_record(&uri);
    let primary: DomainEvent = match (commit.collection.as_str(), commit.operation.as_str()) {
        (EVENT_COLLECTION, "create" | "update") => {
            let (Some(record), Some(cid)) = (record_json(), commit.cid.clone()) else {
                return needs("a record and a CID");
            };
            if let Err(err) = details_of(&uri, &record) {
                return reject(&uri, err.to_string(), raw);
            }
            if commit.operation == "create" {
                EventImported {
                    occurrence_id,
                    uri: uri.clone(),
                    cid,
                    record,
                    observed_at: at,
                }
                .into()
            } else {
                EventChangedExternally {
                    occurrence_id,
                    uri: uri.clone(),
                    cid,
                    record,
                    observed_at: at,
                }
                .into()
            }
        }
        (EVENT_COLLECTION, "delete") => EventDeletedExternally {
            occurrence_id,
            uri: uri.clone(),
            observed_at: at,
        }
        .into(),
        (RSVP_COLLECTION, "create" | "update") => {
            match rsvp_changed(&message.did, &uri, commit, at) {
                Ok(rsvp) => rsvp.into(),
                Err(reason) => return reject(&uri, reason, raw),
            }
        }
        (_, operation) => {
            return reject(
                &uri,
                format!("operation {operation:?} is not supported here"),
                raw,
            );
        }
    };

    let stream = match &primary {
        DomainEvent::RsvpChanged(rsvp) => attendance_stream(rsvp.occurrence_id),
        _ => occurrence_id.stream(),
    };
    let mut events = Vec::with_capacity(2);
    if commit.operation != "delete" {
        events.push(Intake {
            stream: identity_stream(&message.did),
            metadata: metadata(EventId(derived_uuid(
                "shadow-account-created",
                &message.did,
            ))),
            event: ShadowAccountCreated {
                user_id: UserId::shadow_for(&message.did),
                did: message.did.clone(),
                handle: None,
                display_name: None,
            }
            .into(),
        });
    }
    events.push(Intake {
        stream,
        metadata: metadata(record_event_id),
        event: primary,
    });
    Outcome::Events(events)
}

fn rsvp_changed(
    did: &str,
    uri: &str,
    commit: &Commit,
    at: Timestamp,
) -> Result<RsvpChanged, String> {
    let raw = commit.record.as_ref().ok_or("an RSVP without a record")?;
    let record: RsvpRecord =
        serde_json::from_str(raw.get()).map_err(|err| format!("not an RSVP record: {err}"))?;
    let status = AttendanceStatus::from_rsvp_status(record.status.as_deref())
        .map_err(|err| err.to_string())?;
    Ok(RsvpChanged {
        occurrence_id: OccurrenceId::for_record(&record.subject.uri),
        attendee_id: UserId::shadow_for(did),
        status,
        origin: Origin::Bluesky,
        changed_at: at,
        rsvp_uri: Some(uri.to_owned()),
        rsvp_cid: commit.cid.clone(),
    })
}

fn reject(subject: &str, reason: String, raw: &str) -> Outcome {
    let event_id = EventId(derived_uuid(
        "record-rejected",
        &format!("{subject}\n{raw}"),
    ));
    Outcome::Events(vec![Intake {
        stream: rejection_stream("firehose"),
        metadata: EventMetadata {
            event_id,
            causation_id: None,
            correlation_id: None,
            origin: Origin::Bluesky,
            actor: Actor::system("intake"),
        },
        event: RecordRejected {
            subject: subject.to_owned(),
            reason,
            raw: raw.to_owned(),
        }
        .into(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = r#"{"did":"did:plc:org","time_us":1764000000000000,"kind":"commit","commit":{"rev":"3r1","operation":"create","collection":"community.lexicon.calendar.event","rkey":"3ev","record":{"$type":"community.lexicon.calendar.event","name":"Rust Meetup","createdAt":"2026-11-01T10:00:00Z"},"cid":"bafyev1"}}"#;

    fn events(outcome: Outcome) -> Vec<Intake> {
        match outcome {
            Outcome::Events(events) => events,
            Outcome::Ignored(reason) => panic!("ignored: {reason}"),
        }
    }

    #[test]
    fn a_created_event_record_is_imported_with_a_shadow_account_for_its_author() {
        let intake = events(from_jetstream(CREATE, "line 1"));
        assert_eq!(intake.len(), 2);
        assert_eq!(intake[0].stream, identity_stream("did:plc:org"));
        assert!(
            matches!(&intake[0].event, DomainEvent::ShadowAccountCreated(shadow) if shadow.did == "did:plc:org")
        );
        let uri = "at://did:plc:org/community.lexicon.calendar.event/3ev";
        assert_eq!(intake[1].stream, OccurrenceId::for_record(uri).stream());
        match &intake[1].event {
            DomainEvent::EventImported(imported) => {
                assert_eq!(
                    (imported.uri.as_str(), imported.cid.as_str()),
                    (uri, "bafyev1")
                );
                assert!(imported.record.contains("Rust Meetup"));
            }
            other => panic!("expected an import, got {other:?}"),
        }
        assert_eq!(intake[1].metadata.origin, Origin::Bluesky);
    }

    #[test]
    fn an_event_record_that_does_not_map_is_rejected_naming_the_field() {
        let raw = CREATE.replace(
            r#""createdAt":"2026-11-01T10:00:00Z""#,
            r#""createdAt":"last week""#,
        );
        let intake = events(from_jetstream(&raw, "line 1"));
        match &intake[..] {
            [
                Intake {
                    event: DomainEvent::RecordRejected(rejected),
                    ..
                },
            ] => assert_eq!(
                rejected.reason,
                "record at://did:plc:org/community.lexicon.calendar.event/3ev: createdAt is not a datetime: \"last week\""
            ),
            other => panic!("expected one rejection, got {other:?}"),
        }
    }

    #[test]
    fn the_record_is_kept_byte_for_byte_as_received() {
        let raw = CREATE.replace(
            r#""name":"Rust Meetup","createdAt""#,
            r#""name" : "Rust Meetup" ,"createdAt""#,
        );
        let intake = events(from_jetstream(&raw, "line 1"));
        let DomainEvent::EventImported(imported) = &intake[1].event else {
            panic!("not an import")
        };
        assert!(
            imported.record.contains(r#""name" : "Rust Meetup" ,"#),
            "{}",
            imported.record
        );
    }

    #[test]
    fn the_same_message_twice_yields_the_same_event_ids() {
        assert_eq!(
            from_jetstream(CREATE, "line 1"),
            from_jetstream(CREATE, "line 9")
        );
    }

    #[test]
    fn an_rsvp_maps_its_status_and_names_the_subject_occurrence() {
        let raw = r#"{"did":"did:plc:guest","time_us":1764000000000001,"kind":"commit","commit":{"rev":"3r2","operation":"update","collection":"community.lexicon.calendar.rsvp","rkey":"7T68ZD4HPRWHQ","record":{"status":"community.lexicon.calendar.rsvp#notgoing","subject":{"uri":"at://did:plc:org/community.lexicon.calendar.event/3ev","cid":"bafyev1"}},"cid":"bafyrsvp"}}"#;
        let intake = events(from_jetstream(raw, "line 2"));
        match &intake[1].event {
            DomainEvent::RsvpChanged(rsvp) => {
                assert_eq!(rsvp.status, AttendanceStatus::Declined);
                assert_eq!(
                    rsvp.occurrence_id,
                    OccurrenceId::for_record(
                        "at://did:plc:org/community.lexicon.calendar.event/3ev"
                    )
                );
                assert_eq!(rsvp.attendee_id, UserId::shadow_for("did:plc:guest"));
                assert_eq!(
                    rsvp.changed_at,
                    Timestamp::from_unix_micros(1764000000000001)
                );
            }
            other => panic!("expected an RSVP, got {other:?}"),
        }
    }

    #[test]
    fn an_rsvp_without_status_takes_the_lexicon_default_going() {
        let raw = r#"{"did":"did:plc:guest","time_us":1,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"community.lexicon.calendar.rsvp","rkey":"k","record":{"subject":{"uri":"at://did:plc:org/community.lexicon.calendar.event/3ev","cid":"bafyev1"}},"cid":"c"}}"#;
        let intake = events(from_jetstream(raw, "line 3"));
        assert!(
            matches!(&intake[1].event, DomainEvent::RsvpChanged(rsvp) if rsvp.status == AttendanceStatus::Attending)
        );
    }

    #[test]
    fn an_unknown_rsvp_status_is_rejected_with_the_raw_message() {
        let raw = r#"{"did":"did:plc:guest","time_us":1,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"community.lexicon.calendar.rsvp","rkey":"k","record":{"status":"maybe","subject":{"uri":"at://x","cid":"bafyev1"}},"cid":"c"}}"#;
        let intake = events(from_jetstream(raw, "line 4"));
        assert_eq!(intake.len(), 1);
        match &intake[0].event {
            DomainEvent::RecordRejected(rejected) => {
                assert_eq!(
                    rejected.subject,
                    "at://did:plc:guest/community.lexicon.calendar.rsvp/k"
                );
                assert_eq!(
                    rejected.reason,
                    "status \"maybe\" is not a known RSVP status"
                );
                assert_eq!(rejected.raw, raw);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_line_that_is_not_json_is_rejected_under_its_source_position() {
        let intake = events(from_jetstream("{not json", "sample.jsonl:7"));
        assert!(
            matches!(&intake[0].event, DomainEvent::RecordRejected(rejected) if rejected.subject == "sample.jsonl:7")
        );
    }

    #[test]
    fn other_collections_are_ignored_with_a_reason() {
        let raw = r#"{"did":"did:plc:x","time_us":1,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.like","rkey":"k","record":{},"cid":"c"}}"#;
        assert_eq!(
            from_jetstream(raw, "l"),
            Outcome::Ignored("app.bsky.feed.like is not a calendar collection".into())
        );
    }
}
