//! `read.external_refs`: local id ⇄ AT-URI (+ current CID), unique on both
//! sides, for series, occurrences and RSVPs.

use std::collections::HashMap;

use domain::envelope::derived_uuid;
use domain::identity::PersonalDataErased;
use domain::{DomainEvent, RecordedEvent};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::read_model::{ReadModel, copy_fields, repository_prefix};

/// A row of `read.external_refs`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalRefRow {
    /// The AT-URI.
    pub uri: String,
    /// `series`, `occurrence` or `rsvp`.
    pub kind: String,
    /// The local id: a series, an occurrence, or an RSVP's
    /// (occurrence, user) pair as a derived id.
    pub local_id: Uuid,
    /// The CID of the version last seen.
    pub cid: Option<String>,
    /// The position of the last event applied.
    pub last_position: i64,
}

/// The local id of a user's RSVP to an occurrence.
pub fn rsvp_id(occurrence_id: Uuid, user_id: Uuid) -> Uuid {
    derived_uuid("rsvp", &format!("{occurrence_id}/{user_id}"))
}

/// The external references read model, keyed by AT-URI.
pub struct ExternalRefs;

impl ReadModel for ExternalRefs {
    type Key = String;
    type Row = ExternalRefRow;

    const COPY_TARGET: &'static str = "external_refs (uri, kind, local_id, cid, last_position)";

    fn copy_line(r: &ExternalRefRow, out: &mut String) {
        let fields = [
            Some(r.uri.clone()),
            Some(r.kind.clone()),
            Some(r.local_id.to_string()),
            r.cid.clone(),
            Some(r.last_position.to_string()),
        ];
        copy_fields(out, &fields);
    }

    fn keys(event: &DomainEvent) -> Vec<String> {
        match event {
            DomainEvent::EventImported(e) => vec![e.uri.clone()],
            DomainEvent::EventChangedExternally(e) => vec![e.uri.clone()],
            DomainEvent::EventDeletedExternally(e) => vec![e.uri.clone()],
            DomainEvent::RsvpChanged(e) => e.rsvp_uri.iter().cloned().collect(),
            _ => vec![],
        }
    }

    fn apply(
        row: Option<ExternalRefRow>,
        uri: &String,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Option<ExternalRefRow> {
        let last_position = recorded.global_position.0 as i64;
        let reference = |kind: &str, local_id: Uuid, cid: Option<String>| {
            Some(ExternalRefRow {
                uri: uri.clone(),
                kind: kind.into(),
                local_id,
                cid,
                last_position,
            })
        };
        match event {
            DomainEvent::EventImported(e) => {
                reference("occurrence", e.occurrence_id.0, Some(e.cid.clone()))
            }
            DomainEvent::EventChangedExternally(e) => {
                reference("occurrence", e.occurrence_id.0, Some(e.cid.clone()))
            }
            // The record is gone: its URI no longer refers to anything.
            DomainEvent::EventDeletedExternally(_) => None,
            DomainEvent::RsvpChanged(e) => reference(
                "rsvp",
                rsvp_id(e.occurrence_id.0, e.attendee_id.0),
                e.rsvp_cid.clone(),
            ),
            _ => row,
        }
    }

    async fn load(
        conn: &mut PgConnection,
        keys: &[String],
    ) -> Result<HashMap<String, ExternalRefRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT uri, kind, local_id, cid, last_position FROM external_refs WHERE uri = ANY($1)",
        )
        .bind(keys)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                let row = ExternalRefRow {
                    uri: r.try_get("uri")?,
                    kind: r.try_get("kind")?,
                    local_id: r.try_get("local_id")?,
                    cid: r.try_get("cid")?,
                    last_position: r.try_get("last_position")?,
                };
                Ok((row.uri.clone(), row))
            })
            .collect()
    }

    async fn store(
        conn: &mut PgConnection,
        upserts: &[ExternalRefRow],
        deletes: &[String],
    ) -> Result<(), sqlx::Error> {
        if !deletes.is_empty() {
            sqlx::query("DELETE FROM external_refs WHERE uri = ANY($1)")
                .bind(deletes)
                .execute(&mut *conn)
                .await?;
        }
        if upserts.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO external_refs (uri, kind, local_id, cid, last_position) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::text[], $5::int8[]) \
             ON CONFLICT (uri) DO UPDATE SET kind = EXCLUDED.kind, local_id = EXCLUDED.local_id, cid = EXCLUDED.cid, \
             last_position = EXCLUDED.last_position",
        )
        .bind(upserts.iter().map(|r| r.uri.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.kind.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.local_id).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.cid.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.last_position).collect::<Vec<_>>())
        .execute(conn)
        .await?;
        Ok(())
    }

    fn erases(erased: &PersonalDataErased, row: &ExternalRefRow) -> bool {
        row.uri.starts_with(&repository_prefix(&erased.did))
    }

    async fn erase(
        conn: &mut PgConnection,
        erased: &PersonalDataErased,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM external_refs WHERE starts_with(uri, $1)")
            .bind(repository_prefix(&erased.did))
            .execute(conn)
            .await?;
        Ok(())
    }
}
