//! OpenMeet events shared on Bluesky, appended straight to the log (as the
//! API's routes record them), for the publishing scheduler to find.

use domain::identity::UserId;
use domain::occurrence::{EventDetails, OccurrenceId, OccurrenceScheduled};
use domain::publishing::{BlueskySettingsChanged, Owned};
use domain::{Actor, DomainEvent, EventId, EventMetadata, NewEvent, Origin, Timestamp};
use store::{EventStore, ExpectedVersion, PgEventStore};

/// The instant `text` (RFC 3339) names.
pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// An event called `name` starting at `starts_at`, nothing else said.
pub fn details(name: &str, starts_at: &str) -> EventDetails {
    EventDetails {
        name: name.into(),
        description: None,
        starts_at: Some(at(starts_at)),
        ends_at: None,
        time_zone: None,
        mode: None,
        status: None,
        places: vec![],
        links: vec![],
        rsvp_expected: None,
        created_at: at("2026-11-01T10:00:00Z"),
    }
}

/// Event `n` of OpenMeet, on the 10th of December, shared by its owner.
pub async fn shared_event(store: &PgEventStore, n: u128) -> OccurrenceId {
    let party = OccurrenceId(uuid::Uuid::from_u128(n));
    let scheduled = OccurrenceScheduled {
        occurrence_id: party,
        series_id: None,
        details: details(&format!("Launch party {n}"), "2026-12-10T18:00:00Z"),
    };
    let shared = BlueskySettingsChanged {
        target: Owned::Occurrence(party),
        enabled: true,
        account: UserId(uuid::Uuid::from_u128(7)),
        did: "did:plc:partyowner".into(),
        include_recurrence: false,
    };
    let events = [DomainEvent::from(scheduled), shared.into()].map(|event| NewEvent {
        metadata: EventMetadata {
            event_id: EventId(uuid::Uuid::new_v4()),
            causation_id: None,
            correlation_id: None,
            origin: Origin::OpenMeet,
            actor: Actor::system("test"),
        },
        payload: event.encode(),
    });
    store
        .append(&party.stream(), ExpectedVersion::NoStream, events.to_vec())
        .await
        .unwrap();
    party
}
