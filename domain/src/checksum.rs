//! A canonical digest of an event's meaningful content, used by dedup to
//! tell an echo of our own write (same content, CID changed by encoding)
//! from an external edit.
//!
//! The digest covers the mapped [`EventDetails`] minus `created_at`, so it
//! is stable under key order, datetime spelling (`…Z` or `….000Z` or an
//! offset) and fields we do not own (`media`, `theme`, ...).

use schemas::records::EventRecord;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::occurrence::{EventDetails, MappingError, Place};

/// The checksum of event details: `sha256:` and 64 hex digits.
pub fn content_checksum(details: &EventDetails) -> String {
    let mut content = details.clone();
    // When the record was created is not part of what the event says.
    content.created_at = crate::Timestamp::from_unix_micros(0);
    for place in &mut content.places {
        if let Place::Other(json) = place {
            *json = canonical_json_text(json);
        }
    }
    let canonical = canonical(serde_json::to_value(&content).unwrap_or_default());
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    format!(
        "sha256:{}",
        digest
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    )
}

/// The checksum of an event record's content.
pub fn record_checksum(record: &EventRecord) -> Result<String, MappingError> {
    EventDetails::from_record(record).map(|details| content_checksum(&details))
}

fn canonical_json_text(json: &str) -> String {
    serde_json::from_str(json)
        .map(|value| canonical(value).to_string())
        .unwrap_or_else(|_| json.to_owned())
}

/// The same value with every object's keys sorted.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(fields) => {
            let mut sorted: Vec<(String, Value)> =
                fields.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use schemas::records::Record;
    use serde_json::json;

    fn record(value: Value) -> EventRecord {
        EventRecord::from_json(&value).unwrap()
    }

    fn base() -> Value {
        json!({"$type": "community.lexicon.calendar.event", "name": "Rust Meetup", "createdAt": "2026-11-01T10:00:00Z",
               "startsAt": "2026-12-01T18:00:00Z",
               "locations": [{"$type": "community.lexicon.location.w3w", "words": "a.b.c", "lang": "en"}]})
    }

    #[test]
    fn datetime_spelling_and_creation_time_do_not_change_the_checksum() {
        let mut other = base();
        other["startsAt"] = json!("2026-12-01T19:00:00.000+01:00");
        other["createdAt"] = json!("2026-11-02T00:00:00Z");
        assert_eq!(
            record_checksum(&record(base())),
            record_checksum(&record(other))
        );
    }

    #[test]
    fn a_changed_name_or_time_changes_the_checksum() {
        let original = record_checksum(&record(base())).unwrap();
        let mut renamed = base();
        renamed["name"] = json!("Rust Meetup #2");
        let mut moved = base();
        moved["startsAt"] = json!("2026-12-01T18:30:00Z");
        assert_ne!(record_checksum(&record(renamed)).unwrap(), original);
        assert_ne!(record_checksum(&record(moved)).unwrap(), original);
        assert!(
            original.starts_with("sha256:") && original.len() == 71,
            "{original}"
        );
    }

    proptest! {
        #[test]
        fn key_order_and_fields_we_do_not_own_do_not_change_the_checksum(
            extra in prop::collection::btree_map("x[a-z]{1,8}", "[a-z]{0,8}", 0..5),
            reverse in any::<bool>(),
        ) {
            let mut value = base();
            for (key, text) in &extra {
                value[key.as_str()] = json!(text);
            }
            if reverse {
                let fields: Vec<(String, Value)> = value.as_object().unwrap().clone().into_iter().rev().collect();
                value = Value::Object(fields.into_iter().collect());
                let location = value["locations"][0].as_object().unwrap().clone();
                value["locations"][0] = Value::Object(location.into_iter().rev().collect());
            }
            prop_assert_eq!(record_checksum(&record(value)), record_checksum(&record(base())));
        }
    }
}
