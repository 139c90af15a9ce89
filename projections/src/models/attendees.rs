//! `read.attendees`: one row per (occurrence, user), the latest answer.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::attendance::{Answer, AttendanceStatus};
use domain::identity::PersonalDataErased;
use domain::{DomainEvent, Origin, RecordedEvent, Timestamp};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::at;
use crate::read_model::{ReadModel, copy_fields};

/// A row of `read.attendees`.
#[derive(Clone, Debug, PartialEq)]
pub struct AttendeeRow {
    /// The occurrence.
    pub occurrence_id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// `attending`, `interested` or `declined`.
    pub status: String,
    /// Where the answer was given.
    pub origin: String,
    /// When it was given.
    pub changed_at: DateTime<Utc>,
    /// The RSVP record, when on Bluesky.
    pub rsvp_uri: Option<String>,
    /// Its CID.
    pub rsvp_cid: Option<String>,
    /// The position of the last event applied.
    pub last_position: i64,
}

fn status_name(status: AttendanceStatus) -> &'static str {
    match status {
        AttendanceStatus::Attending => "attending",
        AttendanceStatus::Interested => "interested",
        AttendanceStatus::Declined => "declined",
    }
}

fn answer(row: &AttendeeRow) -> Option<Answer> {
    let status = match row.status.as_str() {
        "attending" => AttendanceStatus::Attending,
        "interested" => AttendanceStatus::Interested,
        "declined" => AttendanceStatus::Declined,
        _ => return None,
    };
    Some(Answer {
        status,
        origin: Origin::parse(&row.origin)?,
        changed_at: Timestamp::from_datetime(row.changed_at),
    })
}

/// The attendees read model.
pub struct Attendees;

impl ReadModel for Attendees {
    type Key = (Uuid, Uuid);
    type Row = AttendeeRow;

    const COPY_TARGET: &'static str = "attendees (occurrence_id, user_id, status, origin, changed_at, rsvp_uri, rsvp_cid, last_position)";

    fn copy_line(r: &AttendeeRow, out: &mut String) {
        let fields = [
            Some(r.occurrence_id.to_string()),
            Some(r.user_id.to_string()),
            Some(r.status.clone()),
            Some(r.origin.clone()),
            Some(r.changed_at.to_rfc3339()),
            r.rsvp_uri.clone(),
            r.rsvp_cid.clone(),
            Some(r.last_position.to_string()),
        ];
        copy_fields(out, &fields);
    }

    fn keys(event: &DomainEvent) -> Vec<(Uuid, Uuid)> {
        match event {
            DomainEvent::RsvpChanged(e) => vec![(e.occurrence_id.0, e.attendee_id.0)],
            DomainEvent::RsvpWithdrawn(e) => vec![(e.occurrence_id.0, e.attendee_id.0)],
            DomainEvent::RsvpPublished(e) => vec![(e.occurrence_id.0, e.attendee_id.0)],
            _ => vec![],
        }
    }

    fn apply(
        row: Option<AttendeeRow>,
        key: &(Uuid, Uuid),
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Option<AttendeeRow> {
        let e = match event {
            DomainEvent::RsvpChanged(e) => e,
            // A withdrawal removes the answer it follows, not a later one.
            DomainEvent::RsvpWithdrawn(w) => {
                return row.filter(|r| r.changed_at > at(w.withdrawn_at));
            }
            // An OpenMeet answer now has its record on Bluesky.
            DomainEvent::RsvpPublished(p) => {
                return row.map(|r| AttendeeRow {
                    rsvp_uri: Some(p.uri.clone()),
                    rsvp_cid: Some(p.cid.clone()),
                    last_position: recorded.global_position.0 as i64,
                    ..r
                });
            }
            _ => return row,
        };
        let new = Answer {
            status: e.status,
            origin: e.origin,
            changed_at: e.changed_at,
        };
        // The same rule as the attendance aggregate: an older answer never
        // replaces a newer one, whatever order the log holds them in.
        if let Some(current) = row.as_ref().and_then(answer)
            && !new.supersedes(&current)
        {
            return row;
        }
        Some(AttendeeRow {
            occurrence_id: key.0,
            user_id: key.1,
            status: status_name(e.status).into(),
            origin: e.origin.as_str().into(),
            changed_at: at(e.changed_at),
            rsvp_uri: e.rsvp_uri.clone(),
            rsvp_cid: e.rsvp_cid.clone(),
            last_position: recorded.global_position.0 as i64,
        })
    }

    async fn load(
        conn: &mut PgConnection,
        keys: &[(Uuid, Uuid)],
    ) -> Result<HashMap<(Uuid, Uuid), AttendeeRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT a.occurrence_id, a.user_id, a.status, a.origin, a.changed_at, a.rsvp_uri, a.rsvp_cid, a.last_position \
             FROM attendees a JOIN UNNEST($1::uuid[], $2::uuid[]) AS k(occurrence_id, user_id) \
             ON a.occurrence_id = k.occurrence_id AND a.user_id = k.user_id",
        )
        .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.1).collect::<Vec<_>>())
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                let row = AttendeeRow {
                    occurrence_id: r.try_get("occurrence_id")?,
                    user_id: r.try_get("user_id")?,
                    status: r.try_get("status")?,
                    origin: r.try_get("origin")?,
                    changed_at: r.try_get("changed_at")?,
                    rsvp_uri: r.try_get("rsvp_uri")?,
                    rsvp_cid: r.try_get("rsvp_cid")?,
                    last_position: r.try_get("last_position")?,
                };
                Ok(((row.occurrence_id, row.user_id), row))
            })
            .collect()
    }

    async fn store(
        conn: &mut PgConnection,
        upserts: &[AttendeeRow],
        deletes: &[(Uuid, Uuid)],
    ) -> Result<(), sqlx::Error> {
        if !deletes.is_empty() {
            sqlx::query(
                "DELETE FROM attendees a USING UNNEST($1::uuid[], $2::uuid[]) AS k(occurrence_id, user_id) \
                 WHERE a.occurrence_id = k.occurrence_id AND a.user_id = k.user_id",
            )
            .bind(deletes.iter().map(|k| k.0).collect::<Vec<_>>())
            .bind(deletes.iter().map(|k| k.1).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?;
        }
        if upserts.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO attendees (occurrence_id, user_id, status, origin, changed_at, rsvp_uri, rsvp_cid, last_position) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], \
             $7::text[], $8::int8[]) \
             ON CONFLICT (occurrence_id, user_id) DO UPDATE SET status = EXCLUDED.status, origin = EXCLUDED.origin, \
             changed_at = EXCLUDED.changed_at, rsvp_uri = EXCLUDED.rsvp_uri, rsvp_cid = EXCLUDED.rsvp_cid, \
             last_position = EXCLUDED.last_position",
        )
        .bind(upserts.iter().map(|r| r.occurrence_id).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.user_id).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.status.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.origin.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.changed_at).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.rsvp_uri.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.rsvp_cid.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.last_position).collect::<Vec<_>>())
        .execute(conn)
        .await?;
        Ok(())
    }

    fn erases(erased: &PersonalDataErased, row: &AttendeeRow) -> bool {
        row.user_id == erased.user_id.0
    }

    async fn erase(
        conn: &mut PgConnection,
        erased: &PersonalDataErased,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM attendees WHERE user_id = $1")
            .bind(erased.user_id.0)
            .execute(conn)
            .await?;
        Ok(())
    }
}
