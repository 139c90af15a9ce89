//! Typed records read and write back every fixture exactly, unknown fields
//! included, and survive arbitrary extra fields from newer apps.

use proptest::prelude::*;
use schemas::records::{
    EventRecord, GroupRecord, HostedBy, Location, Record, Recurrence, RsvpRecord,
};
use serde_json::{Value, json};

fn fixtures() -> Vec<(String, String, Value, bool)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/records.jsonl"
    ))
    .unwrap();
    text.lines()
        .map(|line| {
            let case: Value = serde_json::from_str(line).unwrap();
            let name = case["name"].as_str().unwrap().to_owned();
            (
                name,
                case["nsid"].as_str().unwrap().to_owned(),
                case["value"].clone(),
                case["valid"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn round_trip<R: Record>(value: &Value) -> Option<Value> {
    R::from_json(value).ok().map(|record| record.to_json())
}

fn round_trip_object<T: serde::Serialize + serde::de::DeserializeOwned>(
    value: &Value,
) -> Option<Value> {
    serde_json::from_value::<T>(value.clone())
        .ok()
        .map(|typed| serde_json::to_value(typed).unwrap())
}

#[test]
fn every_valid_fixture_fits_its_type_and_every_fixture_that_fits_writes_back_unchanged() {
    for (name, nsid, value, valid) in fixtures() {
        let written = match nsid.as_str() {
            "community.lexicon.calendar.event" => round_trip::<EventRecord>(&value),
            "community.lexicon.calendar.rsvp" => round_trip::<RsvpRecord>(&value),
            "openmeet.lexicon.group" => round_trip::<GroupRecord>(&value),
            "openmeet.lexicon.calendar.recurrence" => round_trip_object::<Recurrence>(&value),
            "openmeet.lexicon.group#hostedBy" => round_trip_object::<HostedBy>(&value),
            other => panic!("{name}: no typed record for {other}"),
        };
        match written {
            Some(written) => assert_eq!(written, value, "{name}"),
            None => assert!(!valid, "{name}: a valid record must fit its type"),
        }
    }
}

#[test]
fn a_location_without_type_is_kept_as_it_came() {
    let value = json!({"$type": "community.lexicon.calendar.event", "name": "x", "createdAt": "2026-11-01T10:00:00Z",
                       "locations": [{"name": "Various locations in Vancouver, BC"}]});
    let record = EventRecord::from_json(&value).unwrap();
    assert_eq!(
        record.locations.as_ref().unwrap()[0],
        Location::Other(json!({"name": "Various locations in Vancouver, BC"}))
    );
    assert_eq!(record.to_json(), value);
}

#[test]
fn a_record_that_does_not_fit_names_the_field() {
    let value = json!({"name": 12, "createdAt": "2026-11-01T10:00:00Z"});
    let err = EventRecord::from_json(&value).unwrap_err();
    assert!(err.to_string().starts_with("community.lexicon.calendar.event record does not fit its type: invalid type: integer `12`"), "{err}");
}

#[test]
fn a_record_built_locally_gets_its_type() {
    let value = json!({"name": "x", "createdAt": "2026-11-01T10:00:00Z"});
    let written = EventRecord::from_json(&value).unwrap().to_json();
    assert_eq!(written["$type"], "community.lexicon.calendar.event");
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,20}".prop_map(Value::String),
        Just(Value::Null),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z$][a-zA-Z0-9_]{0,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn unknown_fields_from_newer_apps_survive(extra in prop::collection::btree_map("x[a-zA-Z0-9]{0,10}", json_value(), 0..6)) {
        let mut value = json!({"$type": "community.lexicon.calendar.event", "name": "Rust Meetup",
                               "createdAt": "2026-11-01T10:00:00Z",
                               "locations": [{"$type": "community.lexicon.location.geo", "latitude": "0", "longitude": "0"}]});
        let fields = value.as_object_mut().unwrap();
        for (key, field) in &extra {
            fields.insert(key.clone(), field.clone());
        }
        let mut nested = extra.clone();
        nested.insert("$type".into(), json!("community.lexicon.location.geo"));
        nested.insert("latitude".into(), json!("1.5"));
        nested.insert("longitude".into(), json!("-2.25"));
        fields["locations"].as_array_mut().unwrap().push(Value::Object(nested.into_iter().collect()));
        let record = EventRecord::from_json(&value).unwrap();
        prop_assert_eq!(record.to_json(), value);
    }
}
