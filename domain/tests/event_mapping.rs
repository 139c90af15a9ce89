//! Every field of the event lexicon maps to event details and back.

use domain::Timestamp;
use domain::occurrence::{
    EventDetails, Link, MappingError, Mode, Place, Status, format_datetime, parse_datetime,
};
use proptest::prelude::*;
use schemas::records::{EventRecord, Record};
use serde_json::{Value, json};

const E: &str = "community.lexicon.calendar.event";

fn record(value: Value) -> EventRecord {
    EventRecord::from_json(&value).unwrap()
}

fn minimal() -> Value {
    json!({"$type": E, "name": "Rust Meetup", "createdAt": "2026-11-01T10:00:00.000Z"})
}

fn with(field: &str, value: Value) -> Value {
    let mut base = minimal();
    base[field] = value;
    base
}

fn details(value: Value) -> EventDetails {
    EventDetails::from_record(&record(value)).unwrap()
}

fn at(text: &str) -> Timestamp {
    parse_datetime(text).unwrap()
}

#[test]
fn name_description_and_created_at_map_both_ways() {
    let d = details(with("description", json!("Talks and pizza")));
    assert_eq!(d.name, "Rust Meetup");
    assert_eq!(d.description.as_deref(), Some("Talks and pizza"));
    assert_eq!(d.created_at, at("2026-11-01T10:00:00Z"));
    let written = d.to_record(None).to_json();
    assert_eq!(written, with("description", json!("Talks and pizza")));
}

#[test]
fn start_and_end_map_to_instants_and_back_in_canonical_form() {
    let mut value = minimal();
    value["startsAt"] = json!("2026-12-01T19:00:00+01:00");
    value["endsAt"] = json!("2026-12-01T20:00:00Z");
    let d = details(value);
    assert_eq!(d.starts_at, Some(at("2026-12-01T18:00:00Z")));
    assert_eq!(d.ends_at, Some(at("2026-12-01T20:00:00Z")));
    let written = d.to_record(None);
    assert_eq!(
        written.starts_at.as_deref(),
        Some("2026-12-01T18:00:00.000Z")
    );
    assert_eq!(written.ends_at.as_deref(), Some("2026-12-01T20:00:00.000Z"));
}

#[test]
fn a_datetime_without_offset_is_utc_as_the_reference_normalises_it() {
    assert_eq!(
        parse_datetime("2026-12-01T18:00:00"),
        parse_datetime("2026-12-01T18:00:00Z")
    );
    assert_eq!(
        parse_datetime("20261201T180000Z"),
        parse_datetime("2026-12-01T18:00:00Z")
    );
    assert_eq!(
        parse_datetime("2026-12-01T19:00:00+0100"),
        parse_datetime("2026-12-01T18:00:00Z")
    );
    assert_eq!(
        format_datetime(at("2026-12-01T18:00:00.5Z")),
        "2026-12-01T18:00:00.500Z"
    );
}

#[test]
fn a_field_that_is_not_a_datetime_is_named_in_the_error() {
    let err = EventDetails::from_record(&record(with("startsAt", json!("tomorrow")))).unwrap_err();
    assert_eq!(
        err,
        MappingError::NotADatetime {
            field: "startsAt",
            value: "tomorrow".into()
        }
    );
    assert_eq!(err.to_string(), "startsAt is not a datetime: \"tomorrow\"");
}

#[test]
fn every_mode_maps_both_ways_and_an_unknown_one_is_kept() {
    for (token, mode) in [
        ("inperson", Mode::InPerson),
        ("virtual", Mode::Virtual),
        ("hybrid", Mode::Hybrid),
        ("metaverse", Mode::Other(format!("{E}#metaverse"))),
    ] {
        let value = with("mode", json!(format!("{E}#{token}")));
        let d = details(value.clone());
        assert_eq!(d.mode, Some(mode));
        assert_eq!(d.to_record(None).to_json(), value);
    }
}

#[test]
fn every_status_maps_both_ways_and_an_unknown_one_is_kept() {
    for (token, status) in [
        ("planned", Status::Planned),
        ("scheduled", Status::Scheduled),
        ("rescheduled", Status::Rescheduled),
        ("cancelled", Status::Cancelled),
        ("postponed", Status::Postponed),
        ("tentative", Status::Other(format!("{E}#tentative"))),
    ] {
        let value = with("status", json!(format!("{E}#{token}")));
        let d = details(value.clone());
        assert_eq!(d.status, Some(status));
        assert_eq!(d.to_record(None).to_json(), value);
    }
}

#[test]
fn every_location_kind_maps_both_ways() {
    let locations = json!([
        {"$type": "community.lexicon.location.address", "country": "DE", "postalCode": "10179", "region": "Berlin",
         "locality": "Berlin", "street": "Rungestraße 20", "name": "c-base"},
        {"$type": "community.lexicon.location.geo", "latitude": "52.51298", "longitude": "13.42004", "altitude": "34", "name": "c-base"},
        {"$type": "community.lexicon.location.fsq", "fsq_place_id": "4b05", "latitude": "52.5", "longitude": "13.4", "name": "c-base"},
        {"$type": "community.lexicon.location.hthree", "value": "8a1f1d4a6b67fff", "name": "Mitte"},
        {"$type": "community.lexicon.calendar.event#uri", "uri": "https://meet.example.org/rust", "name": "Stream"},
        {"$type": "community.lexicon.location.w3w", "words": "index.home.raft"},
        {"name": "Various locations in Vancouver, BC"}
    ]);
    let value = with("locations", locations);
    let d = details(value.clone());
    assert_eq!(
        d.places,
        vec![
            Place::Address {
                country: "DE".into(),
                postal_code: Some("10179".into()),
                region: Some("Berlin".into()),
                locality: Some("Berlin".into()),
                street: Some("Rungestraße 20".into()),
                name: Some("c-base".into()),
            },
            Place::Geo {
                latitude: "52.51298".into(),
                longitude: "13.42004".into(),
                altitude: Some("34".into()),
                name: Some("c-base".into())
            },
            Place::Foursquare {
                place_id: "4b05".into(),
                latitude: Some("52.5".into()),
                longitude: Some("13.4".into()),
                name: Some("c-base".into())
            },
            Place::H3 {
                value: "8a1f1d4a6b67fff".into(),
                name: Some("Mitte".into())
            },
            Place::Online(Link {
                uri: "https://meet.example.org/rust".into(),
                name: Some("Stream".into())
            }),
            Place::Other(
                r#"{"$type":"community.lexicon.location.w3w","words":"index.home.raft"}"#.into()
            ),
            Place::Other(r#"{"name":"Various locations in Vancouver, BC"}"#.into()),
        ]
    );
    assert_eq!(d.to_record(None).to_json(), value);
}

#[test]
fn coordinates_of_zero_are_coordinates() {
    let value = with(
        "locations",
        json!([{"$type": "community.lexicon.location.geo", "latitude": "0", "longitude": "0"}]),
    );
    let d = details(value.clone());
    assert_eq!(d.places[0].coordinates(), Some((0.0, 0.0)));
    assert_eq!(d.to_record(None).to_json(), value);
}

#[test]
fn uris_and_rsvp_expected_map_both_ways() {
    let mut value = with(
        "uris",
        json!([{"uri": "https://rust.example.org", "name": "Homepage"}, {"uri": "https://example.org/t"}]),
    );
    value["rsvpExpected"] = json!(false);
    let d = details(value.clone());
    assert_eq!(
        d.links,
        vec![
            Link {
                uri: "https://rust.example.org".into(),
                name: Some("Homepage".into())
            },
            Link {
                uri: "https://example.org/t".into(),
                name: None
            },
        ]
    );
    assert_eq!(d.rsvp_expected, Some(false));
    assert_eq!(d.to_record(None).to_json(), value);
}

#[test]
fn the_time_zone_real_apps_add_is_read_and_written() {
    let value = with("timezone", json!("America/New_York"));
    let d = details(value.clone());
    assert_eq!(d.time_zone.as_deref(), Some("America/New_York"));
    assert_eq!(d.to_record(None).to_json(), value);
}

#[test]
fn fields_we_do_not_own_survive_an_edit() {
    let mut value = minimal();
    value["media"] = json!([{"role": "thumbnail", "content": {"$type": "blob", "ref": {"$link": "bafkreih"}, "mimeType": "image/png", "size": 5}}]);
    value["theme"] = json!({"accentColor": "indigo"});
    let previous = record(value.clone());
    let mut d = EventDetails::from_record(&previous).unwrap();
    d.name = "Rust Meetup (moved)".into();
    let written = d.to_record(Some(&previous)).to_json();
    value["name"] = json!("Rust Meetup (moved)");
    assert_eq!(written, value);
}

#[test]
fn a_removed_end_time_or_location_clears_the_value_on_update() {
    let mut before = minimal();
    before["endsAt"] = json!("2026-12-01T20:00:00Z");
    before["locations"] =
        json!([{"$type": "community.lexicon.location.geo", "latitude": "1", "longitude": "2"}]);
    let previous = record(before);
    let after = details(minimal());
    assert_eq!((after.ends_at, after.places.len()), (None, 0));
    let written = after.to_record(Some(&previous)).to_json();
    assert_eq!(written.get("endsAt"), None);
    assert_eq!(written.get("locations"), None);
}

#[test]
fn every_valid_event_fixture_goes_through_the_domain_and_back_unchanged() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schemas/tests/fixtures/records.jsonl"
    ))
    .unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        if case["nsid"] != E || case["valid"] != true {
            continue;
        }
        let original = record(case["value"].clone());
        let d = EventDetails::from_record(&original).unwrap();
        assert_eq!(
            d.to_record(Some(&original)).to_json(),
            case["value"],
            "{}",
            case["name"]
        );
        checked += 1;
    }
    assert!(checked >= 10, "{checked}");
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 äöü🎉.,-]{0,24}"
}

fn instant() -> impl Strategy<Value = Timestamp> {
    // Whole milliseconds: the canonical record form has millisecond precision.
    (0i64..4_102_444_800_000).prop_map(|ms| Timestamp::from_unix_micros(ms * 1000))
}

fn place() -> impl Strategy<Value = Place> {
    let o = || proptest::option::of(text());
    let coordinate = || (-90.0f64..90.0).prop_map(|d| format!("{d:.5}"));
    prop_oneof![
        ("[A-Z]{2}", o(), o(), o(), o(), o()).prop_map(
            |(country, postal_code, region, locality, street, name)| Place::Address {
                country,
                postal_code,
                region,
                locality,
                street,
                name
            }
        ),
        (coordinate(), coordinate(), o(), o()).prop_map(|(latitude, longitude, altitude, name)| {
            Place::Geo {
                latitude,
                longitude,
                altitude,
                name,
            }
        }),
        ("[a-f0-9]{8}", o(), o(), o()).prop_map(|(place_id, latitude, longitude, name)| {
            Place::Foursquare {
                place_id,
                latitude,
                longitude,
                name,
            }
        }),
        ("[a-f0-9]{15}", o()).prop_map(|(value, name)| Place::H3 { value, name }),
        ("https://[a-z]{1,10}\\.org", o())
            .prop_map(|(uri, name)| Place::Online(Link { uri, name })),
    ]
}

fn event_details() -> impl Strategy<Value = EventDetails> {
    let mode = prop_oneof![
        Just(Mode::InPerson),
        Just(Mode::Virtual),
        Just(Mode::Hybrid),
        "[a-z]{3,8}#[a-z]{3}".prop_map(Mode::Other)
    ];
    let status = prop_oneof![
        Just(Status::Planned),
        Just(Status::Scheduled),
        Just(Status::Rescheduled),
        Just(Status::Cancelled),
        Just(Status::Postponed),
        "[a-z]{3,8}#[a-z]{3}".prop_map(Status::Other)
    ];
    let link = (
        "https://[a-z]{1,10}\\.org/[a-z]{0,5}",
        proptest::option::of(text()),
    )
        .prop_map(|(uri, name)| Link { uri, name });
    (
        (
            text(),
            proptest::option::of(text()),
            proptest::option::of(instant()),
            proptest::option::of(instant()),
        ),
        (
            proptest::option::of(Just("Europe/Berlin".to_owned())),
            proptest::option::of(mode),
            proptest::option::of(status),
        ),
        (
            prop::collection::vec(place(), 0..4),
            prop::collection::vec(link, 0..3),
            proptest::option::of(any::<bool>()),
            instant(),
        ),
    )
        .prop_map(
            |(
                (name, description, starts_at, ends_at),
                (time_zone, mode, status),
                (places, links, rsvp_expected, created_at),
            )| {
                EventDetails {
                    name,
                    description,
                    starts_at,
                    ends_at,
                    time_zone,
                    mode,
                    status,
                    places,
                    links,
                    rsvp_expected,
                    created_at,
                }
            },
        )
}

proptest! {
    #[test]
    fn details_written_as_a_record_read_back_the_same(d in event_details()) {
        let written = d.to_record(None);
        prop_assert!(schemas::Lexicons::ours().validate_record(E, &written.to_json()).is_ok(), "{}", written.to_json());
        prop_assert_eq!(EventDetails::from_record(&written).unwrap(), d);
    }
}
