//! `read.series_proposals`: the latest version of each proposed series.

use std::collections::HashMap;

use domain::identity::PersonalDataErased;
use domain::series_detection::SeriesProposed;
use domain::{DomainEvent, RecordedEvent};
use serde_json::json;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::read_model::{ReadModel, copy_fields};

/// A row of `read.series_proposals`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProposalRow {
    /// The proposal.
    pub id: Uuid,
    /// Its latest version.
    pub version: i32,
    /// The organizer's DID.
    pub organizer: String,
    /// The member events' AT-URIs, by start (a JSON array).
    pub uris: serde_json::Value,
    /// `DTSTART;TZID=…`, `RRULE:…`, and `EXDATE`/`RDATE` when needed.
    pub rrule: String,
    /// From 0 to 1.
    pub confidence: f64,
    /// Why: series name, name similarity, pattern, timing, skipped and
    /// moved dates.
    pub explanation: serde_json::Value,
    /// `proposed`, `accepted` or `rejected`.
    pub status: String,
    /// The series made from it, once accepted.
    pub series_id: Option<Uuid>,
    /// The position of the last event applied.
    pub last_position: i64,
}

fn score(thousandths: u16) -> f64 {
    f64::from(thousandths) / 1000.0
}

fn row_of(proposed: &SeriesProposed, last_position: i64) -> ProposalRow {
    ProposalRow {
        id: proposed.proposal_id.0,
        version: proposed.version as i32,
        organizer: proposed.organizer.clone(),
        uris: json!(proposed.uris),
        rrule: proposed.rrule.clone(),
        confidence: score(proposed.confidence),
        explanation: json!({
            "series_name": proposed.series_name,
            "name_similarity": score(proposed.name_similarity),
            "pattern": proposed.pattern,
            "timing": score(proposed.timing),
            "location_similarity": proposed.location_similarity.map(score),
            "description_similarity": proposed.description_similarity.map(score),
            "skipped": proposed.skipped,
            "moved": proposed.moved,
            "zone": proposed.zone,
            "zone_source": proposed.zone_source,
            "ignored": proposed.ignored,
            "detector": proposed.detector,
        }),
        status: "proposed".into(),
        series_id: None,
        last_position,
    }
}

/// The proposals read model, keyed by proposal.
pub struct SeriesProposals;

impl ReadModel for SeriesProposals {
    type Key = Uuid;
    type Row = ProposalRow;

    const COPY_TARGET: &'static str = "series_proposals (id, version, organizer, uris, rrule, confidence, explanation, status, series_id, \
         last_position)";

    fn copy_line(r: &ProposalRow, out: &mut String) {
        let fields = [
            Some(r.id.to_string()),
            Some(r.version.to_string()),
            Some(r.organizer.clone()),
            Some(r.uris.to_string()),
            Some(r.rrule.clone()),
            Some(r.confidence.to_string()),
            Some(r.explanation.to_string()),
            Some(r.status.clone()),
            r.series_id.map(|id| id.to_string()),
            Some(r.last_position.to_string()),
        ];
        copy_fields(out, &fields);
    }

    fn keys(event: &DomainEvent) -> Vec<Uuid> {
        match event {
            DomainEvent::SeriesProposed(e) => vec![e.proposal_id.0],
            DomainEvent::SeriesProposalAccepted(e) => vec![e.proposal_id.0],
            DomainEvent::SeriesProposalRejected(e) => vec![e.proposal_id.0],
            _ => vec![],
        }
    }

    fn apply(
        row: Option<ProposalRow>,
        _id: &Uuid,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Option<ProposalRow> {
        match event {
            // Versions arrive in order; an older one never replaces a newer.
            DomainEvent::SeriesProposed(e)
                if row.as_ref().is_none_or(|r| r.version < e.version as i32) =>
            {
                Some(row_of(e, recorded.global_position.0 as i64))
            }
            DomainEvent::SeriesProposalAccepted(e) => row.map(|row| ProposalRow {
                uris: json!(e.uris),
                rrule: e.rrule.clone(),
                status: "accepted".into(),
                series_id: Some(e.series_id.0),
                last_position: recorded.global_position.0 as i64,
                ..row
            }),
            DomainEvent::SeriesProposalRejected(_) => row.map(|row| ProposalRow {
                status: "rejected".into(),
                last_position: recorded.global_position.0 as i64,
                ..row
            }),
            _ => row,
        }
    }

    async fn load(
        conn: &mut PgConnection,
        keys: &[Uuid],
    ) -> Result<HashMap<Uuid, ProposalRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, version, organizer, uris, rrule, confidence, explanation, status, series_id, last_position \
             FROM series_proposals WHERE id = ANY($1)",
        )
        .bind(keys)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                let row = ProposalRow {
                    id: r.try_get("id")?,
                    version: r.try_get("version")?,
                    organizer: r.try_get("organizer")?,
                    uris: r.try_get("uris")?,
                    rrule: r.try_get("rrule")?,
                    confidence: r.try_get("confidence")?,
                    explanation: r.try_get("explanation")?,
                    status: r.try_get("status")?,
                    series_id: r.try_get("series_id")?,
                    last_position: r.try_get("last_position")?,
                };
                Ok((row.id, row))
            })
            .collect()
    }

    async fn store(
        conn: &mut PgConnection,
        upserts: &[ProposalRow],
        deletes: &[Uuid],
    ) -> Result<(), sqlx::Error> {
        if !deletes.is_empty() {
            sqlx::query("DELETE FROM series_proposals WHERE id = ANY($1)")
                .bind(deletes)
                .execute(&mut *conn)
                .await?;
        }
        if upserts.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO series_proposals (id, version, organizer, uris, rrule, confidence, explanation, status, \
             series_id, last_position) \
             SELECT * FROM UNNEST($1::uuid[], $2::int4[], $3::text[], $4::jsonb[], $5::text[], $6::float8[], \
             $7::jsonb[], $8::text[], $9::uuid[], $10::int8[]) \
             ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, organizer = EXCLUDED.organizer, \
             uris = EXCLUDED.uris, rrule = EXCLUDED.rrule, confidence = EXCLUDED.confidence, \
             explanation = EXCLUDED.explanation, status = EXCLUDED.status, series_id = EXCLUDED.series_id, \
             last_position = EXCLUDED.last_position",
        )
        .bind(upserts.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.version).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.organizer.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.uris.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.rrule.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.confidence).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.explanation.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.status.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.series_id).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.last_position).collect::<Vec<_>>())
        .execute(conn)
        .await?;
        Ok(())
    }

    fn erases(erased: &PersonalDataErased, row: &ProposalRow) -> bool {
        row.organizer == erased.did
    }

    async fn erase(
        conn: &mut PgConnection,
        erased: &PersonalDataErased,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM series_proposals WHERE organizer = $1")
            .bind(&erased.did)
            .execute(conn)
            .await?;
        Ok(())
    }
}
