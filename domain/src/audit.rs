//! Renders stored events for auditors: as JSON, whether or not they decode,
//! and the decisions and rejections among them as a sentence saying why.

use serde_json::{Value, json};

use crate::catalogue::{DecodeError, DomainEvent};
use crate::envelope::RecordedEvent;
use crate::external_ref::LocalRef;
use crate::sync::{ConflictResolved, FieldValue, Policy, Winner};

/// A field's value as JSON, without the variant naming the field.
fn value_json(value: &FieldValue) -> String {
    match serde_json::to_value(value) {
        Ok(Value::Object(tagged)) => tagged
            .into_iter()
            .next()
            .map(|(_, inner)| inner.to_string())
            .unwrap_or_default(),
        Ok(other) => other.to_string(),
        Err(err) => format!("<{err}>"),
    }
}

fn rule(policy: Policy) -> &'static str {
    match policy {
        Policy::SourceOfTruth => "the platform the event originates from is its source of truth",
        Policy::ManualEditPreserved => "a manual edit made in OpenMeet is preserved",
        Policy::LocationsMerged => "locations from both sides are merged, each once",
        Policy::LatestWins => "the latest change wins",
    }
}

fn conflict(decision: &ConflictResolved) -> String {
    let kept = match decision.winner {
        Winner::OpenMeet => "OpenMeet's value kept",
        Winner::Bluesky => "Bluesky's value kept",
        Winner::Merged => "both merged",
    };
    format!(
        "{field}: {kept}, because {rule}. OpenMeet had {openmeet}, Bluesky had {bluesky}; \
         the field becomes {resolved} if it still holds {in_effect}",
        field = decision.resolved.field(),
        rule = rule(decision.policy),
        openmeet = value_json(&decision.openmeet),
        bluesky = value_json(&decision.bluesky),
        resolved = value_json(&decision.resolved),
        in_effect = value_json(&decision.in_effect),
    )
}

/// Why a decision or a rejection was recorded, as one sentence; `None` for
/// events that state a fact and decide nothing.
pub fn explain(event: &DomainEvent) -> Option<String> {
    Some(match event {
        DomainEvent::ConflictResolved(decision) => conflict(decision),
        DomainEvent::SelfPublishedEchoMatched(echo) => format!(
            "our own write of {} came back as version {} (we wrote {}); the content checksum {} \
             is the same, so it changes nothing",
            echo.uri, echo.cid, echo.published_cid, echo.checksum
        ),
        DomainEvent::ExternalRefLinked(link) => {
            let target = match link.target {
                LocalRef::Occurrence(id) => format!("occurrence {}", id.0),
                LocalRef::Rsvp {
                    occurrence_id,
                    attendee_id,
                } => format!(
                    "the answer of user {attendee_id} to occurrence {}",
                    occurrence_id.0
                ),
            };
            let version = link.cid.as_deref().unwrap_or("unknown");
            format!("{} (version {version}) stands for {target}", link.uri)
        }
        DomainEvent::RecordRejected(rejected) => {
            format!("{} was rejected: {}", rejected.subject, rejected.reason)
        }
        _ => return None,
    })
}

/// One event as a JSON object: its envelope, and its decoded payload or,
/// when the payload does not decode, the error and the raw bytes in hex.
pub fn audit_json(event: &RecordedEvent) -> (Value, Option<DecodeError>) {
    let metadata = &event.metadata;
    let mut line = json!({
        "position": event.global_position.0,
        "stream": event.stream_id,
        "version": event.stream_version.0,
        "type": event.payload.event_type,
        "schema_version": event.payload.schema_version,
        "recorded_at": event.recorded_at,
        "event_id": metadata.event_id,
        "causation_id": metadata.causation_id,
        "correlation_id": metadata.correlation_id,
        "origin": metadata.origin,
        "actor": metadata.actor,
    });
    match DomainEvent::decode(&event.payload) {
        Ok(decoded) => {
            line["payload"] = decoded.payload_json();
            (line, None)
        }
        Err(err) => {
            line["decode_error"] = Value::String(err.to_string());
            line["payload_hex"] = Value::String(
                event
                    .payload
                    .bytes
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect(),
            );
            (line, Some(err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{
        Actor, EncodedPayload, EventId, EventMetadata, GlobalPosition, Origin, StreamId,
        StreamVersion,
    };
    use crate::rejection::{Input, RecordRejected};
    use crate::time::Timestamp;

    fn recorded(payload: EncodedPayload) -> RecordedEvent {
        RecordedEvent {
            stream_id: StreamId::new("rejected", "firehose"),
            stream_version: StreamVersion(4),
            global_position: GlobalPosition(17),
            recorded_at: Timestamp::from_unix_micros(0),
            metadata: EventMetadata {
                event_id: EventId(uuid::Uuid::nil()),
                causation_id: None,
                correlation_id: None,
                origin: Origin::Bluesky,
                actor: Actor::system("intake"),
            },
            payload,
        }
    }

    #[test]
    fn a_decodable_event_shows_its_payload_fields() {
        let event = DomainEvent::from(RecordRejected::new("s", "r", Input::Whole(b"{}")));
        let (line, error) = audit_json(&recorded(event.encode()));
        assert_eq!(error, None);
        assert_eq!(line["position"], 17);
        assert_eq!(line["stream"], "rejected-firehose");
        assert_eq!(line["type"], "RecordRejected");
        assert_eq!(line["origin"], "bluesky");
        assert_eq!(line["recorded_at"], "1970-01-01T00:00:00Z");
        assert_eq!(line["payload"]["reason"], "r");
    }

    #[test]
    fn an_undecodable_event_keeps_its_bytes_and_names_the_error() {
        let (line, error) = audit_json(&recorded(EncodedPayload {
            event_type: "Mystery".into(),
            schema_version: 1,
            bytes: vec![0xca, 0xfe],
        }));
        assert_eq!(
            error,
            Some(DecodeError::UnknownEventType {
                event_type: "Mystery".into()
            })
        );
        assert_eq!(line["payload_hex"], "cafe");
        assert_eq!(line["decode_error"], "unknown event type \"Mystery\"");
    }

    #[test]
    fn a_conflict_is_explained_with_its_rule_and_both_values() {
        use crate::occurrence::OccurrenceId;
        use crate::sync::ConflictSubject;
        let decision = ConflictResolved {
            subject: ConflictSubject::Occurrence(OccurrenceId(uuid::Uuid::nil())),
            openmeet: FieldValue::Name("Rust Meetup Berlin".into()),
            bluesky: FieldValue::Name("Rust meetup #12".into()),
            winner: Winner::OpenMeet,
            policy: Policy::ManualEditPreserved,
            in_effect: FieldValue::Name("Rust Meetup Berlin".into()),
            resolved: FieldValue::Name("Rust Meetup Berlin".into()),
        };
        assert_eq!(
            explain(&decision.into()).as_deref(),
            Some(
                "name: OpenMeet's value kept, because a manual edit made in OpenMeet is preserved. \
                 OpenMeet had \"Rust Meetup Berlin\", Bluesky had \"Rust meetup #12\"; the field \
                 becomes \"Rust Meetup Berlin\" if it still holds \"Rust Meetup Berlin\""
            )
        );
    }

    #[test]
    fn a_rejection_is_explained_and_a_plain_fact_is_not() {
        let rejected = DomainEvent::from(RecordRejected::new(
            "at://did:plc:x/community.lexicon.calendar.rsvp/1",
            "status \"maybe\" is not a known RSVP status",
            Input::Whole(b"{}"),
        ));
        assert_eq!(
            explain(&rejected).as_deref(),
            Some(
                "at://did:plc:x/community.lexicon.calendar.rsvp/1 was rejected: status \"maybe\" is not a known RSVP status"
            )
        );
        let handle = DomainEvent::from(crate::identity::HandleChanged {
            did: "did:plc:x".into(),
            handle: "x.bsky.social".into(),
        });
        assert_eq!(explain(&handle), None);
    }
}
