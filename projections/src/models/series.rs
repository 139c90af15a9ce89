//! `read.series`: every series with its recurrence.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::series::{RecurrenceChanged, SeriesEdited};
use domain::{DomainEvent, RecordedEvent};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{at, json};
use crate::read_model::{ReadModel, copy_fields};

/// A row of `read.series`.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRow {
    /// The series id.
    pub id: Uuid,
    /// Its URL name.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// First occurrence's start.
    pub starts_at: Option<DateTime<Utc>>,
    /// First occurrence's end.
    pub ends_at: Option<DateTime<Utc>>,
    /// The zone the recurrence is evaluated in.
    pub time_zone: String,
    /// The RRULE.
    pub rrule: String,
    /// EXDATEs, as JSON.
    pub exdates: serde_json::Value,
    /// RDATEs, as JSON.
    pub rdates: serde_json::Value,
    /// `bluesky` or `openmeet`: the source of truth.
    pub origin: String,
    /// The AT-URI, for a series that came from Bluesky.
    pub external_id: Option<String>,
    /// Its CID.
    pub external_cid: Option<String>,
    /// Where it came from.
    pub external_source: Option<String>,
    /// The original record.
    pub external_data: Option<serde_json::Value>,
    /// True when changes must not be pushed back.
    pub is_read_only: bool,
    /// The shared content, as JSON.
    pub details: serde_json::Value,
    /// The position of the last event applied.
    pub last_position: i64,
}

/// The series read model.
pub struct Series;

impl ReadModel for Series {
    type Key = Uuid;
    type Row = SeriesRow;

    const COPY_TARGET: &'static str = "series (id, slug, name, description, starts_at, ends_at, time_zone, rrule, exdates, \
         rdates, origin, external_id, external_cid, external_source, external_data, is_read_only, details, last_position)";

    fn copy_line(r: &SeriesRow, out: &mut String) {
        let fields = [
            Some(r.id.to_string()),
            Some(r.slug.clone()),
            Some(r.name.clone()),
            r.description.clone(),
            r.starts_at.map(|at| at.to_rfc3339()),
            r.ends_at.map(|at| at.to_rfc3339()),
            Some(r.time_zone.clone()),
            Some(r.rrule.clone()),
            Some(r.exdates.to_string()),
            Some(r.rdates.to_string()),
            Some(r.origin.clone()),
            r.external_id.clone(),
            r.external_cid.clone(),
            r.external_source.clone(),
            r.external_data.as_ref().map(|data| data.to_string()),
            Some(r.is_read_only.to_string()),
            Some(r.details.to_string()),
            Some(r.last_position.to_string()),
        ];
        copy_fields(out, &fields);
    }

    fn keys(event: &DomainEvent) -> Vec<Uuid> {
        match event {
            DomainEvent::SeriesCreated(e) => vec![e.series_id.0],
            DomainEvent::SeriesEdited(e) => vec![e.series_id.0],
            DomainEvent::RecurrenceChanged(e) => vec![e.series_id.0],
            DomainEvent::SeriesDeleted(e) => vec![e.series_id.0],
            _ => vec![],
        }
    }

    fn apply(
        row: Option<SeriesRow>,
        id: &Uuid,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Option<SeriesRow> {
        let position = recorded.global_position.0 as i64;
        match (row, event) {
            (_, DomainEvent::SeriesCreated(e)) => Some(SeriesRow {
                id: *id,
                slug: e.slug.clone(),
                name: e.details.name.clone(),
                description: e.details.description.clone(),
                starts_at: e.details.starts_at.map(at),
                ends_at: e.details.ends_at.map(at),
                time_zone: e.recurrence.time_zone.clone(),
                rrule: e.recurrence.rule.clone(),
                exdates: json(&e.recurrence.exdates),
                rdates: json(&e.recurrence.rdates),
                origin: e.origin.as_str().into(),
                external_id: None,
                external_cid: None,
                external_source: None,
                external_data: None,
                is_read_only: e.origin == domain::Origin::Bluesky,
                details: json(&e.details),
                last_position: position,
            }),
            (Some(row), DomainEvent::SeriesEdited(SeriesEdited { details, .. })) => {
                Some(SeriesRow {
                    name: details.name.clone(),
                    description: details.description.clone(),
                    starts_at: details.starts_at.map(at),
                    ends_at: details.ends_at.map(at),
                    details: json(details),
                    last_position: position,
                    ..row
                })
            }
            (Some(row), DomainEvent::RecurrenceChanged(RecurrenceChanged { recurrence, .. })) => {
                Some(SeriesRow {
                    time_zone: recurrence.time_zone.clone(),
                    rrule: recurrence.rule.clone(),
                    exdates: json(&recurrence.exdates),
                    rdates: json(&recurrence.rdates),
                    last_position: position,
                    ..row
                })
            }
            (_, DomainEvent::SeriesDeleted(_)) => None,
            (row, _) => row,
        }
    }

    async fn load(
        conn: &mut PgConnection,
        keys: &[Uuid],
    ) -> Result<HashMap<Uuid, SeriesRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, slug, name, description, starts_at, ends_at, time_zone, rrule, exdates, rdates, origin, \
             external_id, external_cid, external_source, external_data, is_read_only, details, last_position \
             FROM series WHERE id = ANY($1)",
        )
        .bind(keys)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    SeriesRow {
                        id: r.try_get("id")?,
                        slug: r.try_get("slug")?,
                        name: r.try_get("name")?,
                        description: r.try_get("description")?,
                        starts_at: r.try_get("starts_at")?,
                        ends_at: r.try_get("ends_at")?,
                        time_zone: r.try_get("time_zone")?,
                        rrule: r.try_get("rrule")?,
                        exdates: r.try_get("exdates")?,
                        rdates: r.try_get("rdates")?,
                        origin: r.try_get("origin")?,
                        external_id: r.try_get("external_id")?,
                        external_cid: r.try_get("external_cid")?,
                        external_source: r.try_get("external_source")?,
                        external_data: r.try_get("external_data")?,
                        is_read_only: r.try_get("is_read_only")?,
                        details: r.try_get("details")?,
                        last_position: r.try_get("last_position")?,
                    },
                ))
            })
            .collect()
    }

    async fn store(
        conn: &mut PgConnection,
        upserts: &[SeriesRow],
        deletes: &[Uuid],
    ) -> Result<(), sqlx::Error> {
        if !deletes.is_empty() {
            sqlx::query("DELETE FROM series WHERE id = ANY($1)")
                .bind(deletes)
                .execute(&mut *conn)
                .await?;
        }
        // Series are few and change rarely: one statement per row is enough.
        for r in upserts {
            sqlx::query(
                "INSERT INTO series (id, slug, name, description, starts_at, ends_at, time_zone, rrule, exdates, rdates, \
                 origin, external_id, external_cid, external_source, external_data, is_read_only, details, last_position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
                 ON CONFLICT (id) DO UPDATE SET slug = $2, name = $3, description = $4, starts_at = $5, ends_at = $6, \
                 time_zone = $7, rrule = $8, exdates = $9, rdates = $10, origin = $11, external_id = $12, \
                 external_cid = $13, external_source = $14, external_data = $15, is_read_only = $16, details = $17, \
                 last_position = $18",
            )
            .bind(r.id)
            .bind(&r.slug)
            .bind(&r.name)
            .bind(&r.description)
            .bind(r.starts_at)
            .bind(r.ends_at)
            .bind(&r.time_zone)
            .bind(&r.rrule)
            .bind(&r.exdates)
            .bind(&r.rdates)
            .bind(&r.origin)
            .bind(&r.external_id)
            .bind(&r.external_cid)
            .bind(&r.external_source)
            .bind(&r.external_data)
            .bind(r.is_read_only)
            .bind(&r.details)
            .bind(r.last_position)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}
