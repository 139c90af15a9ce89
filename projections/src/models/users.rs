//! `read.users`: full and shadow accounts, one per DID.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{DomainEvent, RecordedEvent};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::read_model::{ReadModel, copy_fields};

/// A row of `read.users`.
#[derive(Clone, Debug, PartialEq)]
pub struct UserRow {
    /// The account.
    pub id: Uuid,
    /// Its DID.
    pub bluesky_did: String,
    /// Its handle.
    pub bluesky_handle: Option<String>,
    /// When its Bluesky session expires (set by publishing).
    pub bluesky_token_expiry: Option<DateTime<Utc>>,
    /// Display name.
    pub display_name: Option<String>,
    /// True for a provisional account of a DID that has not joined.
    pub is_shadow_account: bool,
    /// `active`, or what the network says it is instead (`deactivated`,
    /// `takendown`, `deleted`, ...).
    pub account_status: String,
    /// The position of the last event applied.
    pub last_position: i64,
}

/// The status of an account in good standing.
pub const ACTIVE: &str = "active";

/// The users read model, keyed by DID.
pub struct Users;

impl ReadModel for Users {
    type Key = String;
    type Row = UserRow;

    const COPY_TARGET: &'static str = "users (id, bluesky_did, bluesky_handle, bluesky_token_expiry, display_name, \
         is_shadow_account, account_status, last_position)";

    fn copy_line(r: &UserRow, out: &mut String) {
        let fields = [
            Some(r.id.to_string()),
            Some(r.bluesky_did.clone()),
            r.bluesky_handle.clone(),
            r.bluesky_token_expiry.map(|at| at.to_rfc3339()),
            r.display_name.clone(),
            Some(r.is_shadow_account.to_string()),
            Some(r.account_status.clone()),
            Some(r.last_position.to_string()),
        ];
        copy_fields(out, &fields);
    }

    fn keys(event: &DomainEvent) -> Vec<String> {
        match event {
            DomainEvent::ShadowAccountCreated(e) => vec![e.did.clone()],
            DomainEvent::AccountRegistered(e) => vec![e.did.clone()],
            DomainEvent::HandleChanged(e) => vec![e.did.clone()],
            DomainEvent::ShadowClaimed(e) => vec![e.did.clone()],
            DomainEvent::DisplayNameChanged(e) => vec![e.did.clone()],
            DomainEvent::AccountStatusChanged(e) => vec![e.did.clone()],
            DomainEvent::PersonalDataErased(e) => vec![e.did.clone()],
            DomainEvent::BlueskyCredentialsStored(e) => vec![e.did.clone()],
            DomainEvent::BlueskyLoginRequired(e) => vec![e.did.clone()],
            _ => vec![],
        }
    }

    fn apply(
        row: Option<UserRow>,
        did: &String,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Option<UserRow> {
        let last_position = recorded.global_position.0 as i64;
        match (row, event) {
            (None, DomainEvent::ShadowAccountCreated(e)) => Some(UserRow {
                id: e.user_id.0,
                bluesky_did: did.clone(),
                bluesky_handle: e.handle.clone(),
                bluesky_token_expiry: None,
                display_name: e.display_name.clone(),
                is_shadow_account: true,
                account_status: ACTIVE.into(),
                last_position,
            }),
            (None, DomainEvent::AccountRegistered(e)) => Some(UserRow {
                id: e.user_id.0,
                bluesky_did: did.clone(),
                bluesky_handle: e.handle.clone(),
                bluesky_token_expiry: None,
                display_name: None,
                is_shadow_account: false,
                account_status: ACTIVE.into(),
                last_position,
            }),
            (Some(row), DomainEvent::HandleChanged(e)) => Some(UserRow {
                bluesky_handle: Some(e.handle.clone()),
                last_position,
                ..row
            }),
            (Some(row), DomainEvent::ShadowClaimed(e)) => Some(UserRow {
                bluesky_handle: e.handle.clone(),
                display_name: e.display_name.clone(),
                is_shadow_account: false,
                last_position,
                ..row
            }),
            (Some(row), DomainEvent::BlueskyCredentialsStored(e)) => Some(UserRow {
                bluesky_token_expiry: e.expires_at.map(|at| at.to_datetime()),
                last_position,
                ..row
            }),
            (Some(row), DomainEvent::BlueskyLoginRequired(_)) => Some(UserRow {
                bluesky_token_expiry: None,
                last_position,
                ..row
            }),
            (Some(row), DomainEvent::DisplayNameChanged(e)) => Some(UserRow {
                display_name: e.display_name.clone(),
                last_position,
                ..row
            }),
            (Some(row), DomainEvent::AccountStatusChanged(e)) => Some(UserRow {
                account_status: if e.active {
                    ACTIVE.into()
                } else {
                    e.status.clone().unwrap_or_else(|| "inactive".into())
                },
                last_position,
                ..row
            }),
            // The row stays, without what identifies the person, so that
            // reads keep hiding the account's events.
            (Some(row), DomainEvent::PersonalDataErased(_)) => Some(UserRow {
                bluesky_handle: None,
                display_name: None,
                bluesky_token_expiry: None,
                account_status: domain::identity::DELETED.into(),
                last_position,
                ..row
            }),
            (row, _) => row,
        }
    }

    async fn load(
        conn: &mut PgConnection,
        keys: &[String],
    ) -> Result<HashMap<String, UserRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, bluesky_did, bluesky_handle, bluesky_token_expiry, display_name, is_shadow_account, account_status, last_position \
             FROM users WHERE bluesky_did = ANY($1)",
        )
        .bind(keys)
        .fetch_all(conn)
        .await?;
        rows.iter()
            .map(|r| {
                let row = UserRow {
                    id: r.try_get("id")?,
                    bluesky_did: r.try_get("bluesky_did")?,
                    bluesky_handle: r.try_get("bluesky_handle")?,
                    bluesky_token_expiry: r.try_get("bluesky_token_expiry")?,
                    display_name: r.try_get("display_name")?,
                    is_shadow_account: r.try_get("is_shadow_account")?,
                    account_status: r.try_get("account_status")?,
                    last_position: r.try_get("last_position")?,
                };
                Ok((row.bluesky_did.clone(), row))
            })
            .collect()
    }

    async fn store(
        conn: &mut PgConnection,
        upserts: &[UserRow],
        deletes: &[String],
    ) -> Result<(), sqlx::Error> {
        if !deletes.is_empty() {
            sqlx::query("DELETE FROM users WHERE bluesky_did = ANY($1)")
                .bind(deletes)
                .execute(&mut *conn)
                .await?;
        }
        if upserts.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO users (id, bluesky_did, bluesky_handle, bluesky_token_expiry, display_name, is_shadow_account, \
             account_status, last_position) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::bool[], \
             $7::text[], $8::int8[]) \
             ON CONFLICT (bluesky_did) DO UPDATE SET id = EXCLUDED.id, bluesky_handle = EXCLUDED.bluesky_handle, \
             bluesky_token_expiry = EXCLUDED.bluesky_token_expiry, display_name = EXCLUDED.display_name, \
             is_shadow_account = EXCLUDED.is_shadow_account, \
             account_status = EXCLUDED.account_status, last_position = EXCLUDED.last_position",
        )
        .bind(upserts.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.bluesky_did.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.bluesky_handle.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.bluesky_token_expiry).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.display_name.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.is_shadow_account).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.account_status.clone()).collect::<Vec<_>>())
        .bind(upserts.iter().map(|r| r.last_position).collect::<Vec<_>>())
        .execute(conn)
        .await?;
        Ok(())
    }
}
