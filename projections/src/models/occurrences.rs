//! `read.occurrences`: every occurrence, local or imported, with the spec's
//! external-reference fields.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::identity::PersonalDataErased;
use domain::occurrence::{EventDetails, OccurrenceId, details_of};
use domain::sync::{ConflictResolved, ConflictSubject, FieldValue};
use domain::{DomainEvent, RecordedEvent, text};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{at, json, mode_name, slug, status_name};
use crate::read_model::{ReadModel, copy_fields, repository_prefix};

/// A row of `read.occurrences`.
#[derive(Clone, Debug, PartialEq)]
pub struct OccurrenceRow {
    /// The occurrence id.
    pub id: Uuid,
    /// Its URL name.
    pub slug: String,
    /// Its series, if any.
    pub series_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Start.
    pub starts_at: Option<DateTime<Utc>>,
    /// End.
    pub ends_at: Option<DateTime<Utc>>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// Attendance mode (`inperson`, `virtual`, `hybrid` or an unknown token).
    pub mode: Option<String>,
    /// Status (`scheduled`, ... or an unknown token).
    pub status: Option<String>,
    /// `active`, `cancelled`, `deleted` or `unreadable`.
    pub state: String,
    /// Places, as JSON.
    pub places: serde_json::Value,
    /// Links, as JSON.
    pub links: serde_json::Value,
    /// Whether attendees are asked to respond.
    pub rsvp_expected: Option<bool>,
    /// `bluesky` or `openmeet`: the source of truth.
    pub origin: String,
    /// The AT-URI it was imported from.
    pub external_id: Option<String>,
    /// The CID of the version last seen.
    pub external_cid: Option<String>,
    /// `bluesky` for imported occurrences.
    pub external_source: Option<String>,
    /// The original record.
    pub external_data: Option<String>,
    /// True when changes must not be pushed back (imported).
    pub is_read_only: bool,
    /// When the event was created at its source.
    pub created_at: DateTime<Utc>,
    /// The position of the last event applied.
    pub last_position: i64,
}

fn fill(row: &mut OccurrenceRow, details: &EventDetails) {
    for value in FieldValue::all_of(details) {
        write_field(row, &value);
    }
}

fn new_row(id: Uuid, details: &EventDetails, origin: &str) -> OccurrenceRow {
    let mut row = OccurrenceRow {
        id,
        slug: slug(&details.name, id),
        series_id: None,
        name: String::new(),
        description: None,
        starts_at: None,
        ends_at: None,
        time_zone: None,
        mode: None,
        status: None,
        state: "active".into(),
        places: serde_json::Value::Array(vec![]),
        links: serde_json::Value::Array(vec![]),
        rsvp_expected: None,
        origin: origin.into(),
        external_id: None,
        external_cid: None,
        external_source: None,
        external_data: None,
        is_read_only: false,
        created_at: at(details.created_at),
        last_position: 0,
    };
    fill(&mut row, details);
    row
}

/// The one field `value` names, set in `row`.
fn write_field(row: &mut OccurrenceRow, value: &FieldValue) {
    match value {
        FieldValue::Name(name) => row.name = name.clone(),
        FieldValue::Description(description) => row.description = description.clone(),
        FieldValue::StartsAt(starts_at) => row.starts_at = starts_at.map(at),
        FieldValue::EndsAt(ends_at) => row.ends_at = ends_at.map(at),
        FieldValue::TimeZone(zone) => row.time_zone = zone.clone(),
        FieldValue::Mode(mode) => row.mode = mode.as_ref().map(mode_name),
        FieldValue::Status(status) => row.status = status.as_ref().map(status_name),
        FieldValue::Places(places) => row.places = json(places),
        FieldValue::Links(links) => row.links = json(links),
        FieldValue::RsvpExpected(expected) => row.rsvp_expected = *expected,
        FieldValue::Attendance(_) => {}
    }
}

/// A Bluesky record of a local occurrence: where it is, not what it says.
fn linked(mut row: OccurrenceRow, uri: &str, cid: &str) -> OccurrenceRow {
    row.external_id = Some(uri.to_owned());
    row.external_cid = Some(cid.to_owned());
    row.external_source = Some("bluesky".into());
    row
}

/// True when `text` is JSON (checked without building a value).
fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// Applies one version of an imported record: its content when it maps,
/// otherwise the row is kept and marked unreadable.
fn imported(
    row: Option<OccurrenceRow>,
    id: Uuid,
    uri: &str,
    cid: &str,
    record: &str,
    recorded: &RecordedEvent,
) -> Option<OccurrenceRow> {
    let mapped = details_of(uri, record);
    if let Err(err) = &mapped {
        // Only a log written before today's rules holds such a version
        // (the decider refuses them now); its content stays out.
        tracing::warn!(
            position = %recorded.global_position,
            %uri,
            reason = %err,
            "the occurrences read model keeps no content of a record version it cannot map"
        );
        crate::metrics::skipped(crate::Projection::Occurrences, "unmappable");
    }
    let mut row = match (mapped, row) {
        (Ok(details), Some(mut row)) => {
            fill(&mut row, &details);
            row.state = "active".into();
            row
        }
        (Ok(details), None) => new_row(id, &details, "bluesky"),
        (Err(_), Some(mut row)) => {
            row.state = "unreadable".into();
            row
        }
        // A record that never mapped was never imported (the decider refuses
        // it); there is no row to mark.
        (Err(_), None) => return None,
    };
    row.external_id = Some(uri.to_owned());
    row.external_cid = Some(cid.to_owned());
    row.external_source = Some("bluesky".into());
    // The record text goes to the database as is (it stores it as jsonb):
    // parsing it into a value here would be the rebuild's largest cost.
    // jsonb refuses an escaped NUL as text does.
    row.external_data =
        (is_json(record) && !text::json_escapes_nul(record)).then(|| record.to_owned());
    row.is_read_only = true;
    Some(row)
}

/// The occurrences read model.
pub struct Occurrences;

impl ReadModel for Occurrences {
    type Key = Uuid;
    type Row = OccurrenceRow;

    const COPY_TARGET: &'static str = "occurrences (id, slug, series_id, name, description, starts_at, ends_at, time_zone, \
         mode, status, state, places, links, rsvp_expected, origin, external_id, external_cid, external_source, \
         external_data, is_read_only, created_at, last_position)";

    fn copy_line(r: &OccurrenceRow, out: &mut String) {
        let fields = [
            Some(r.id.to_string()),
            Some(r.slug.clone()),
            r.series_id.map(|id| id.to_string()),
            Some(r.name.clone()),
            r.description.clone(),
            r.starts_at.map(|at| at.to_rfc3339()),
            r.ends_at.map(|at| at.to_rfc3339()),
            r.time_zone.clone(),
            r.mode.clone(),
            r.status.clone(),
            Some(r.state.clone()),
            Some(r.places.to_string()),
            Some(r.links.to_string()),
            r.rsvp_expected.map(|b| b.to_string()),
            Some(r.origin.clone()),
            r.external_id.clone(),
            r.external_cid.clone(),
            r.external_source.clone(),
            r.external_data.clone(),
            Some(r.is_read_only.to_string()),
            Some(r.created_at.to_rfc3339()),
            Some(r.last_position.to_string()),
        ];
        copy_fields(out, &fields);
    }

    fn keys(event: &DomainEvent) -> Vec<Uuid> {
        match event {
            DomainEvent::EventImported(e) => vec![e.occurrence_id.0],
            DomainEvent::EventChangedExternally(e) => vec![e.occurrence_id.0],
            DomainEvent::EventDeletedExternally(e) => vec![e.occurrence_id.0],
            DomainEvent::OccurrenceScheduled(e) => vec![e.occurrence_id.0],
            DomainEvent::OccurrenceEdited(e) => vec![e.occurrence_id.0],
            DomainEvent::OccurrenceCancelled(e) => vec![e.occurrence_id.0],
            DomainEvent::OccurrenceDeleted(e) => vec![e.occurrence_id.0],
            DomainEvent::OccurrencePublished(e) => vec![e.occurrence_id.0],
            DomainEvent::ConflictResolved(ConflictResolved {
                subject: ConflictSubject::Occurrence(id),
                ..
            }) => vec![id.0],
            DomainEvent::SeriesProposalAccepted(e) => e
                .uris
                .iter()
                .map(|uri| OccurrenceId::for_record(uri).0)
                .collect(),
            _ => vec![],
        }
    }

    fn apply(
        row: Option<OccurrenceRow>,
        id: &Uuid,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Option<OccurrenceRow> {
        let mut row = match event {
            DomainEvent::EventImported(e) => {
                imported(row, *id, &e.uri, &e.cid, &e.record, recorded)?
            }
            DomainEvent::EventChangedExternally(e) => match row {
                // OpenMeet's content stays until the process manager decides.
                Some(row) if row.origin == "openmeet" || row.state == "cancelled" => {
                    linked(row, &e.uri, &e.cid)
                }
                row => imported(row, *id, &e.uri, &e.cid, &e.record, recorded)?,
            },
            DomainEvent::OccurrencePublished(e) => linked(row?, &e.uri, &e.cid),
            DomainEvent::SeriesProposalAccepted(e) => OccurrenceRow {
                series_id: Some(e.series_id.0),
                ..row?
            },
            DomainEvent::ConflictResolved(e) => {
                let mut row = row?;
                let mut probe = row.clone();
                write_field(&mut probe, &e.in_effect);
                if probe == row {
                    write_field(&mut row, &e.resolved);
                }
                row
            }
            DomainEvent::EventDeletedExternally(_) => OccurrenceRow {
                state: "deleted".into(),
                ..row?
            },
            DomainEvent::OccurrenceScheduled(e) => OccurrenceRow {
                series_id: e.series_id.map(|s| s.0),
                ..new_row(*id, &e.details, "openmeet")
            },
            DomainEvent::OccurrenceEdited(e) => {
                let mut row = row?;
                fill(&mut row, &e.details);
                row
            }
            DomainEvent::OccurrenceCancelled(_) => OccurrenceRow {
                state: "cancelled".into(),
                ..row?
            },
            DomainEvent::OccurrenceDeleted(_) => OccurrenceRow {
                state: "deleted".into(),
                ..row?
            },
            _ => return row,
        };
        row.last_position = recorded.global_position.0 as i64;
        Some(row)
    }

    async fn load(
        conn: &mut PgConnection,
        keys: &[Uuid],
    ) -> Result<HashMap<Uuid, OccurrenceRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, slug, series_id, name, description, starts_at, ends_at, time_zone, mode, status, state, places, \
             links, rsvp_expected, origin, external_id, external_cid, external_source, external_data, is_read_only, \
             created_at, last_position FROM occurrences WHERE id = ANY($1)",
        )
        .bind(keys)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    OccurrenceRow {
                        id: r.try_get("id")?,
                        slug: r.try_get("slug")?,
                        series_id: r.try_get("series_id")?,
                        name: r.try_get("name")?,
                        description: r.try_get("description")?,
                        starts_at: r.try_get("starts_at")?,
                        ends_at: r.try_get("ends_at")?,
                        time_zone: r.try_get("time_zone")?,
                        mode: r.try_get("mode")?,
                        status: r.try_get("status")?,
                        state: r.try_get("state")?,
                        places: r.try_get("places")?,
                        links: r.try_get("links")?,
                        rsvp_expected: r.try_get("rsvp_expected")?,
                        origin: r.try_get("origin")?,
                        external_id: r.try_get("external_id")?,
                        external_cid: r.try_get("external_cid")?,
                        external_source: r.try_get("external_source")?,
                        external_data: r
                            .try_get::<Option<serde_json::Value>, _>("external_data")?
                            .map(|v| v.to_string()),
                        is_read_only: r.try_get("is_read_only")?,
                        created_at: r.try_get("created_at")?,
                        last_position: r.try_get("last_position")?,
                    },
                ))
            })
            .collect()
    }

    async fn store(
        conn: &mut PgConnection,
        upserts: &[OccurrenceRow],
        deletes: &[Uuid],
    ) -> Result<(), sqlx::Error> {
        if !deletes.is_empty() {
            sqlx::query("DELETE FROM occurrences WHERE id = ANY($1)")
                .bind(deletes)
                .execute(&mut *conn)
                .await?;
        }
        if upserts.is_empty() {
            return Ok(());
        }
        let col =
            |f: fn(&OccurrenceRow) -> Option<String>| upserts.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO occurrences (id, slug, series_id, name, description, starts_at, ends_at, time_zone, mode, status, \
             state, places, links, rsvp_expected, origin, external_id, external_cid, external_source, external_data, \
             is_read_only, created_at, last_position) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], \
             $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::text[], $12::jsonb[], $13::jsonb[], \
             $14::bool[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[]::jsonb[], $20::bool[]
, \
             $21::timestamptz[], $22::int8[]) \
             ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, series_id = EXCLUDED.series_id, name = EXCLUDED.name, \
             description = EXCLUDED.description, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, \
             time_zone = EXCLUDED.time_zone, mode = EXCLUDED.mode, status = EXCLUDED.status, state = EXCLUDED.state, \
             places = EXCLUDED.places, links = EXCLUDED.links, rsvp_expected = EXCLUDED.rsvp_expected, \
             origin = EXCLUDED.origin, external_id = EXCLUDED.external_id, external_cid = EXCLUDED.external_cid, \
             external_source = EXCLUDED.external_source, external_data = EXCLUDED.external_data, \
             is_read_only = EXCLUDED.is_read_only, created_at = EXCLUDED.created_at, \
             last_position = EXCLUDED.last_position",
        )
        .bind(upserts.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.slug.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.series_id).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.name.clone()).collect::<Vec<_>>())
        .bind(col(|r| r.description.clone()))
        .bind(upserts.iter().map(|r| r.starts_at).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.ends_at).collect::<Vec<_>>())
        .bind(col(|r| r.time_zone.clone()))
        .bind(col(|r| r.mode.clone()))
        .bind(col(|r| r.status.clone()))
        .bind(upserts.iter().map(|r| r.state.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.places.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.links.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.rsvp_expected).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.origin.clone()).collect::<Vec<_>>())
        .bind(col(|r| r.external_id.clone()))
        .bind(col(|r| r.external_cid.clone()))
        .bind(col(|r| r.external_source.clone()))
        .bind(upserts.iter().map(|r| r.external_data.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.is_read_only).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.created_at).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.last_position).collect::<Vec<_>>())
        .execute(conn)
        .await?;
        Ok(())
    }

    fn erases(erased: &PersonalDataErased, row: &OccurrenceRow) -> bool {
        row.origin == "bluesky"
            && row
                .external_id
                .as_deref()
                .is_some_and(|uri| uri.starts_with(&repository_prefix(&erased.did)))
    }

    async fn erase(
        conn: &mut PgConnection,
        erased: &PersonalDataErased,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM occurrences WHERE origin = 'bluesky' AND starts_with(external_id, $1)",
        )
        .bind(repository_prefix(&erased.did))
        .execute(conn)
        .await?;
        Ok(())
    }
}
