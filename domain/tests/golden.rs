//! Every released `(event type, schema version)` has a committed binary
//! fixture that must keep decoding to the same value. A change to a payload
//! struct that would break stored history fails here.
//!
//! A new release gets its fixture with `BLESS_GOLDEN=1 cargo test -p domain
//! --test golden`; an existing fixture is never rewritten.

use std::path::PathBuf;

use domain::attendance::{AttendanceStatus, RsvpChanged, RsvpParked, RsvpWithdrawn};
use domain::backfill::RecordMissingAtPds;
use domain::external_ref::{ExternalRefLinked, LocalRef};
use domain::identity::{
    AccountRegistered, AccountStatusChanged, BlueskyCredentialsStored, BlueskyLoginRequired,
    DisplayNameChanged, HandleChanged, PersonalDataErased, ShadowAccountCreated, ShadowClaimed,
    UserId,
};
use domain::occurrence::{
    EventChangedExternally, EventDeletedExternally, EventDetails, EventImported, Link, Mode,
    OccurrenceCancelled, OccurrenceDeleted, OccurrenceEdited, OccurrenceId, OccurrenceScheduled,
    Place, Status,
};
use domain::publishing::{
    BlueskySettingsChanged, OccurrencePublishFailed, OccurrencePublishRequested,
    OccurrenceUnpublished, Owned, OwnerAssigned, PublishAction, PublishingDecided, Visibility,
    VisibilityChanged,
};
use domain::recurrence::Recurrence;
use domain::rejection::{Input, RecordRejected};
use domain::series::{RecurrenceChanged, SeriesCreated, SeriesDeleted, SeriesEdited, SeriesId};
use domain::series_detection::review::{
    SeriesProposalAccepted, SeriesProposalAdjusted, SeriesProposalRejected,
};
use domain::series_detection::{ProposalId, SeriesProposed};
use domain::skips::ProjectionEventSkipped;
use domain::sync::{
    AttendanceSyncRequested, ConflictResolved, ConflictSubject, FieldValue, OccurrencePublished,
    Policy, RsvpPublishFailed, RsvpPublishRequested, RsvpPublished, SelfPublishedEchoMatched,
    Winner,
};
use domain::{DomainEvent, EncodedPayload, Origin, Timestamp};
use uuid::Uuid;

const URI: &str = "at://did:plc:golden/community.lexicon.calendar.event/3lbgolden22k";

/// Event details exercising every variant a payload can hold.
fn details() -> EventDetails {
    EventDetails {
        name: "Rust Meetup #12".into(),
        description: Some("Talks and pizza".into()),
        starts_at: Some(Timestamp::from_unix_micros(1_764_612_000_000_000)),
        ends_at: None,
        time_zone: Some("Europe/Berlin".into()),
        mode: Some(Mode::Other(
            "community.lexicon.calendar.event#metaverse".into(),
        )),
        status: Some(Status::Rescheduled),
        places: vec![
            Place::Address {
                country: "DE".into(),
                postal_code: None,
                region: None,
                locality: Some("Berlin".into()),
                street: None,
                name: Some("c-base".into()),
            },
            Place::Geo {
                latitude: "0".into(),
                longitude: "0".into(),
                altitude: None,
                name: None,
            },
            Place::Foursquare {
                place_id: "4b05".into(),
                latitude: None,
                longitude: None,
                name: None,
            },
            Place::H3 {
                value: "8a1f1d4a6b67fff".into(),
                name: None,
            },
            Place::Online(Link {
                uri: "https://meet.example.org".into(),
                name: None,
            }),
            Place::Other(r#"{"name":"Somewhere"}"#.into()),
        ],
        links: vec![Link {
            uri: "https://rust.example.org".into(),
            name: Some("Home".into()),
        }],
        rsvp_expected: Some(true),
        created_at: Timestamp::from_unix_micros(1_761_991_200_000_000),
    }
}

fn recurrence() -> Recurrence {
    Recurrence {
        rule: "FREQ=WEEKLY;BYDAY=TU".into(),
        time_zone: "Europe/Berlin".into(),
        starts_at: Timestamp::from_unix_micros(1_764_612_000_000_000),
        exdates: vec![Timestamp::from_unix_micros(1_765_821_600_000_000)],
        rdates: vec![],
    }
}

/// The value each golden file holds, per released type and version.
fn expected(event_type: &str, schema_version: u16) -> DomainEvent {
    let occurrence_id = OccurrenceId::for_record(URI);
    let observed_at = Timestamp::from_unix_micros(1_764_000_000_123_456);
    let series_id = SeriesId(Uuid::from_u128(0x5e41e5));
    match (event_type, schema_version) {
        ("SeriesCreated", 1) => SeriesCreated {
            series_id,
            slug: "rust-meetup".into(),
            details: details(),
            recurrence: recurrence(),
            origin: Origin::OpenMeet,
        }
        .into(),
        ("SeriesEdited", 1) => SeriesEdited { series_id, details: details() }.into(),
        ("RecurrenceChanged", 1) => RecurrenceChanged { series_id, recurrence: recurrence() }.into(),
        ("OccurrenceScheduled", 1) => {
            OccurrenceScheduled { occurrence_id, series_id: Some(series_id), details: details() }.into()
        }
        ("OccurrenceEdited", 1) => OccurrenceEdited { occurrence_id, details: details() }.into(),
        ("OccurrenceCancelled", 1) => OccurrenceCancelled { occurrence_id, reason: Some("venue closed".into()) }.into(),
        ("AccountRegistered", 1) => AccountRegistered {
            user_id: UserId(Uuid::from_u128(0xacc0)),
            did: "did:plc:golden".into(),
            handle: Some("golden.test".into()),
        }
        .into(),
        ("HandleChanged", 1) => HandleChanged { did: "did:plc:golden".into(), handle: "new.golden.test".into() }.into(),
        ("EventImported", 1) => EventImported {
            occurrence_id,
            uri: URI.into(),
            cid: "bafyreigoldenimported".into(),
            record: r#"{"$type":"community.lexicon.calendar.event","name":"Rust Meetup #12","createdAt":"2026-11-01T10:00:00Z"}"#.into(),
            observed_at,
        }
        .into(),
        ("EventChangedExternally", 1) => EventChangedExternally {
            occurrence_id,
            uri: URI.into(),
            cid: "bafyreigoldenchanged".into(),
            record: r#"{"$type":"community.lexicon.calendar.event","name":"Rust Meetup #12 (moved)"}"#.into(),
            observed_at,
        }
        .into(),
        ("EventDeletedExternally", 1) => EventDeletedExternally { occurrence_id, uri: URI.into(), observed_at }.into(),
        ("RsvpChanged", 1) => RsvpChanged {
            occurrence_id,
            attendee_id: UserId::shadow_for("did:plc:attendee"),
            status: AttendanceStatus::Interested,
            origin: Origin::Bluesky,
            changed_at: observed_at,
            rsvp_uri: Some("at://did:plc:attendee/community.lexicon.calendar.rsvp/3lbrsvp".into()),
            rsvp_cid: None,
        }
        .into(),
        ("ShadowAccountCreated", 1) => ShadowAccountCreated {
            user_id: UserId::shadow_for("did:plc:golden"),
            did: "did:plc:golden".into(),
            handle: Some("golden.test".into()),
            display_name: Some("Gölden Ünicode 🎉".into()),
        }
        .into(),
        // Version 1 kept the input whole; it upcasts to its size and digest.
        ("RecordRejected", 1) => RecordRejected::new(
            URI,
            "startsAt is not a datetime: \"tomorrow\"",
            Input::Whole(br#"{"startsAt":"tomorrow"}"#),
        )
        .into(),
        ("RecordRejected", 2) => RecordRejected::new(
            "capture.jsonl:7",
            "line 7 of 2000000 bytes exceeds the 81920-byte limit",
            Input::Part {
                head: "{\"did\":\"did:plc:gölden\",".as_bytes(),
                size: 2_000_000,
                sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            },
        )
        .into(),
        ("RsvpWithdrawn", 1) => RsvpWithdrawn {
            occurrence_id: OccurrenceId::for_record(URI),
            attendee_id: UserId(Uuid::from_u128(7)),
            origin: Origin::Bluesky,
            withdrawn_at: Timestamp::from_unix_micros(1_764_000_000_000_000),
            rsvp_uri: Some("at://did:plc:golden/community.lexicon.calendar.rsvp/3lbrsvp".into()),
        }
        .into(),
        ("RsvpParked", 1) => RsvpParked {
            subject_uri: URI.into(),
            rsvp: RsvpChanged {
                occurrence_id: OccurrenceId::for_record(URI),
                attendee_id: UserId(Uuid::from_u128(7)),
                status: AttendanceStatus::Interested,
                origin: Origin::Bluesky,
                changed_at: Timestamp::from_unix_micros(1_764_000_000_000_000),
                rsvp_uri: Some("at://did:plc:golden/community.lexicon.calendar.rsvp/3lbrsvp".into()),
                rsvp_cid: Some("bafyrsvp".into()),
            },
        }
        .into(),
        ("SeriesProposalAccepted", 1) => SeriesProposalAccepted {
            proposal_id: ProposalId(Uuid::from_u128(11)),
            version: 2,
            organizer: "did:plc:golden".into(),
            series_id: SeriesId(Uuid::from_u128(12)),
            uris: vec![URI.into()],
            rrule: "DTSTART;TZID=Europe/Berlin:20261201T190000\nRRULE:FREQ=WEEKLY;BYDAY=TU".into(),
        }
        .into(),
        ("SeriesProposalAdjusted", 1) => SeriesProposalAdjusted {
            proposal_id: ProposalId(Uuid::from_u128(11)),
            version: 2,
            uris: vec![URI.into()],
            rrule: "DTSTART;TZID=Europe/Berlin:20261201T190000\nRRULE:FREQ=WEEKLY;INTERVAL=2".into(),
        }
        .into(),
        ("SeriesProposalRejected", 1) => SeriesProposalRejected {
            proposal_id: ProposalId(Uuid::from_u128(11)),
            version: 1,
            organizer: "did:plc:golden".into(),
            uris: vec![URI.into()],
        }
        .into(),
        ("BlueskyCredentialsStored", 1) => BlueskyCredentialsStored {
            user_id: UserId(Uuid::from_u128(7)),
            did: "did:plc:golden".into(),
            kind: "app-password".into(),
            expires_at: Some(Timestamp::from_unix_micros(1_772_000_000_000_000)),
        }
        .into(),
        ("BlueskyLoginRequired", 1) => BlueskyLoginRequired {
            user_id: UserId(Uuid::from_u128(7)),
            did: "did:plc:golden".into(),
            reason: "ExpiredToken: Token has been revoked".into(),
        }
        .into(),
        ("OwnerAssigned", 1) => OwnerAssigned {
            target: Owned::Series(SeriesId(Uuid::from_u128(12))),
            owner: UserId(Uuid::from_u128(7)),
            did: "did:plc:golden".into(),
        }
        .into(),
        ("BlueskySettingsChanged", 1) => BlueskySettingsChanged {
            target: Owned::Occurrence(OccurrenceId::for_record(URI)),
            enabled: true,
            account: UserId(Uuid::from_u128(7)),
            did: "did:plc:golden".into(),
            include_recurrence: true,
        }
        .into(),
        ("OccurrencePublishRequested", 1) => OccurrencePublishRequested {
            occurrence_id: OccurrenceId::for_record(URI),
            account: UserId(Uuid::from_u128(7)),
            did: "did:plc:golden".into(),
            rkey: "3lbgoldenpub2".into(),
            action: PublishAction::Put {
                record: r#"{"name":"Rust Meetup"}"#.into(),
                checksum: "sha256:golden".into(),
                swap: Some("bafyold".into()),
            },
        }
        .into(),
        ("SeriesDeleted", 1) => SeriesDeleted { series_id }.into(),
        ("PublishingDecided", 1) => PublishingDecided {
            at: Timestamp::from_unix_micros(1_764_612_000_000_000),
            after: 4_096,
            site: "https://openmeet.net".into(),
        }
        .into(),
        ("VisibilityChanged", 1) => VisibilityChanged {
            target: Owned::Series(series_id),
            visibility: Visibility::Authenticated,
        }
        .into(),
        ("OccurrenceDeleted", 1) => OccurrenceDeleted {
            occurrence_id: OccurrenceId::for_record(URI),
        }
        .into(),
        ("RecordMissingAtPds", 1) => RecordMissingAtPds::new(URI, "3lbgoldenrev2").into(),
        ("ProjectionEventSkipped", 1) => ProjectionEventSkipped {
            projection: "occurrences".into(),
            position: 4_242,
            event_type: "EventImported".into(),
            reason: "holds a NUL that no text column can store".into(),
        }
        .into(),
        ("OccurrenceUnpublished", 1) => OccurrenceUnpublished {
            occurrence_id: OccurrenceId::for_record(URI),
            rkey: "3lbgoldenpub2".into(),
        }
        .into(),
        ("OccurrencePublishFailed", 1) => OccurrencePublishFailed {
            occurrence_id: OccurrenceId::for_record(URI),
            reason: "the record keeps changing on Bluesky".into(),
        }
        .into(),
        ("AttendanceSyncRequested", 1) => AttendanceSyncRequested {
            occurrence_id: OccurrenceId::for_record(URI),
            attendee_id: Some(UserId(Uuid::from_u128(7))),
        }
        .into(),
        ("RsvpPublishRequested", 1) => RsvpPublishRequested {
            occurrence_id: OccurrenceId::for_record(URI),
            attendee_id: UserId(Uuid::from_u128(7)),
            did: "did:plc:golden".into(),
            rkey: "3lbgoldenrsvp".into(),
            subject_uri: URI.into(),
            subject_cid: "bafygolden".into(),
            status: AttendanceStatus::Declined,
            swap: Some("bafyrsvp".into()),
        }
        .into(),
        ("RsvpPublished", 1) => RsvpPublished {
            occurrence_id: OccurrenceId::for_record(URI),
            attendee_id: UserId(Uuid::from_u128(7)),
            uri: "at://did:plc:golden/community.lexicon.calendar.rsvp/3lbgoldenrsvp".into(),
            cid: "bafyrsvp".into(),
        }
        .into(),
        ("RsvpPublishFailed", 1) => RsvpPublishFailed {
            occurrence_id: OccurrenceId::for_record(URI),
            attendee_id: UserId(Uuid::from_u128(7)),
            reason: "user must log in to Bluesky again".into(),
        }
        .into(),
        ("ShadowClaimed", 1) => ShadowClaimed {
            user_id: UserId::shadow_for("did:plc:golden"),
            did: "did:plc:golden".into(),
            handle: Some("golden.test".into()),
            display_name: None,
        }
        .into(),
        ("DisplayNameChanged", 1) => DisplayNameChanged {
            did: "did:plc:golden".into(),
            display_name: Some("Gölden".into()),
        }
        .into(),
        ("PersonalDataErased", 1) => PersonalDataErased {
            user_id: UserId::shadow_for("did:plc:golden"),
            did: "did:plc:golden".into(),
        }
        .into(),
        ("AccountStatusChanged", 1) => AccountStatusChanged {
            did: "did:plc:golden".into(),
            active: false,
            status: Some("deactivated".into()),
            observed_at: Timestamp::from_unix_micros(1_764_000_000_000_000),
        }
        .into(),
        ("ExternalRefLinked", 1) => ExternalRefLinked {
            uri: "at://did:plc:golden/community.lexicon.calendar.rsvp/3lbrsvp".into(),
            cid: Some("bafyrsvp".into()),
            target: LocalRef::Rsvp {
                occurrence_id: OccurrenceId::for_record(URI),
                attendee_id: UserId(Uuid::from_u128(7)),
            },
        }
        .into(),
        ("OccurrencePublished", 1) => OccurrencePublished {
            occurrence_id,
            uri: URI.into(),
            cid: "bafyreigoldenpublished".into(),
            checksum: "sha256:00ff".into(),
        }
        .into(),
        ("SelfPublishedEchoMatched", 1) => SelfPublishedEchoMatched {
            occurrence_id,
            uri: URI.into(),
            cid: "bafyreigoldenecho".into(),
            published_cid: "bafyreigoldenpublished".into(),
            checksum: "sha256:00ff".into(),
        }
        .into(),
        ("ConflictResolved", 1) => ConflictResolved {
            subject: ConflictSubject::Attendance {
                occurrence_id,
                attendee_id: UserId(Uuid::from_u128(7)),
            },
            openmeet: FieldValue::Places(details().places),
            bluesky: FieldValue::StartsAt(Some(observed_at)),
            winner: Winner::Merged,
            policy: Policy::LocationsMerged,
            in_effect: FieldValue::Mode(details().mode),
            resolved: FieldValue::Attendance(AttendanceStatus::Declined),
        }
        .into(),
        // Version 1 did not say its zone's source; the zone is its rule's.
        ("SeriesProposed", 1) => SeriesProposed {
            zone: "Europe/Berlin".into(),
            zone_source: None,
            ignored: vec![],
            detector: 1,
            ..golden_proposal()
        }
        .into(),
        ("SeriesProposed", 2) => golden_proposal().into(),
        other => panic!("no golden value for {other:?}: add one for every released version"),
    }
}

fn golden_proposal() -> SeriesProposed {
    SeriesProposed {
        proposal_id: ProposalId(Uuid::from_u128(0x9e0)),
        version: 3,
        organizer: "did:plc:golden".into(),
        uris: vec![URI.into(), format!("{URI}2")],
        rrule: "DTSTART;TZID=Europe/Berlin:20261201T190000\nRRULE:FREQ=WEEKLY;BYDAY=TU\nEXDATE;TZID=Europe/Berlin:20261222T190000".into(),
        confidence: 913,
        series_name: "rust meetup".into(),
        name_similarity: 1000,
        pattern: "weekly on Tuesday at 19:00".into(),
        timing: 855,
        location_similarity: Some(750),
        description_similarity: None,
        skipped: vec!["2026-12-22".into()],
        moved: vec![],
        zone: "Europe/Berlin".into(),
        zone_source: Some("location".into()),
        ignored: vec!["at://did:plc:golden/x: location (\"north\", \"east\") is not a coordinate".into()],
        detector: 2,
    }
}

fn golden_path(event_type: &str, schema_version: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/golden/{event_type}.v{schema_version}.bin"))
}

#[test]
fn every_released_version_decodes_from_its_golden_file() {
    let bless = std::env::var_os("BLESS_GOLDEN").is_some();
    for &(event_type, schema_version) in DomainEvent::RELEASED {
        let path = golden_path(event_type, schema_version);
        let value = expected(event_type, schema_version);
        if !path.exists() {
            assert!(
                bless,
                "{} is missing; create it with BLESS_GOLDEN=1",
                path.display()
            );
            std::fs::write(&path, value.encode().bytes).unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        let payload = EncodedPayload {
            event_type: event_type.into(),
            schema_version,
            bytes,
        };
        assert_eq!(
            DomainEvent::decode(&payload),
            Ok(value),
            "{}",
            path.display()
        );
    }
}

#[test]
fn the_current_encoding_writes_exactly_the_golden_bytes() {
    for &(event_type, schema_version) in DomainEvent::RELEASED {
        let value = expected(event_type, schema_version);
        if value.schema_version() != schema_version {
            continue;
        }
        let path = golden_path(event_type, schema_version);
        let golden = std::fs::read(&path).unwrap_or_default();
        assert_eq!(
            value.encode().bytes,
            golden,
            "{} no longer matches the encoder",
            path.display()
        );
    }
}

#[test]
fn every_golden_file_is_a_released_version() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let released = DomainEvent::RELEASED
            .iter()
            .any(|(event_type, version)| name == format!("{event_type}.v{version}.bin"));
        assert!(
            released,
            "golden file {name} names no released event version"
        );
    }
}
