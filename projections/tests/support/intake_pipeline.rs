//! The pipeline from one raw message to the occurrences read model's row,
//! as pure functions, for the property test and the fuzz target.

use domain::decider::Decider;
use domain::envelope::{Actor, EventId, EventMetadata, Origin};
use domain::intake::{Change, Parsed, parse};
use domain::occurrence::{Occurrence, OccurrenceCommand, OccurrenceId};
use domain::{GlobalPosition, RecordedEvent, StreamVersion, Timestamp};
use projections::models::occurrences::{OccurrenceRow, Occurrences};
use projections::read_model::ReadModel;

fn recorded(event: &domain::DomainEvent, id: OccurrenceId) -> RecordedEvent {
    RecordedEvent {
        stream_id: id.stream(),
        stream_version: StreamVersion(1),
        global_position: GlobalPosition(1),
        recorded_at: Timestamp::from_unix_micros(0),
        metadata: EventMetadata {
            event_id: EventId(uuid::Uuid::nil()),
            causation_id: None,
            correlation_id: None,
            origin: Origin::Bluesky,
            actor: Actor::system("test"),
        },
        payload: event.encode(),
    }
}

fn storable(row: &OccurrenceRow) -> bool {
    let texts = [
        Some(row.slug.as_str()),
        Some(row.name.as_str()),
        row.description.as_deref(),
        row.time_zone.as_deref(),
        row.mode.as_deref(),
        row.status.as_deref(),
        row.external_id.as_deref(),
        row.external_cid.as_deref(),
    ];
    texts.iter().flatten().all(|text| !text.contains('\0'))
        && !domain::text::json_escapes_nul(&row.places.to_string())
        && !domain::text::json_escapes_nul(&row.links.to_string())
        && row
            .external_data
            .as_deref()
            .is_none_or(|data| !domain::text::json_escapes_nul(data))
}

/// Intake, then the decider and the read model for an event version: an
/// error says which promise broke.
pub fn through_the_read_model(raw: &str) -> Result<(), String> {
    let delivery = match parse(raw, "line 1") {
        Parsed::Delivery(delivery) => delivery,
        Parsed::Rejected { reason, .. } | Parsed::Ignored(reason) if reason.is_empty() => {
            return Err("a message was turned away without a reason".into());
        }
        Parsed::Rejected { .. } | Parsed::Ignored(_) => return Ok(()),
    };
    if !schemas::formats::is_did(&delivery.did) {
        return Err(format!("{:?} passed intake as a DID", delivery.did));
    }
    let Change::EventVersion { uri, cid, record } = delivery.change else {
        return Ok(());
    };
    let id = OccurrenceId::for_record(&uri);
    let command = OccurrenceCommand::Import {
        uri,
        cid,
        record,
        observed_at: delivery.observed_at,
    };
    let Ok(events) = Occurrence::default().decide(&command, delivery.observed_at) else {
        return Ok(());
    };
    let mut row = None;
    for event in &events {
        row = Occurrences::apply(row, &id.0, &recorded(event, id), event);
    }
    match row {
        Some(row) if !storable(&row) => Err(format!("a row no database stores: {row:?}")),
        _ => Ok(()),
    }
}
