//! `/api/users`: full and shadow accounts, every status included (a
//! deactivated account is found here, not only in the table). What the
//! network publishes of an account (DID, handle, display name, status,
//! shadow or not) is anyone's to read, one account at a time; its local id
//! and when its Bluesky session expires are for the account itself and
//! administrators; the list of every account is for administrators.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use domain::access::Action;
use projections::Projection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::consistency::wait_for;
use crate::events::{After, limit, page};
use crate::{ApiError, AppState};

/// A user.
#[derive(Serialize, ToSchema, sqlx::FromRow)]
pub struct UserView {
    /// Local id; only for the account itself and administrators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// Bluesky DID.
    pub bluesky_did: String,
    /// Bluesky handle.
    pub bluesky_handle: Option<String>,
    /// When the stored Bluesky session expires; only for the account itself
    /// and administrators, and absent when no session is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bluesky_token_expiry: Option<DateTime<Utc>>,
    /// Display name.
    pub display_name: Option<String>,
    /// True for a provisional account of a Bluesky user who has not joined.
    pub is_shadow_account: bool,
    /// `active`, or `deactivated`, `takendown`, `deleted`, ... as the network
    /// reports it. A deleted account's row keeps no handle or name.
    pub account_status: String,
}

/// One user by DID: what the network publishes of it to anyone, and its
/// local id and token expiry to the account itself and administrators.
#[utoipa::path(get, path = "/api/users/{did}", params(("did" = String, Path), After),
    security((), ("session" = [])),
    responses((status = 200, body = UserView), (status = 404, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody, description = "an Authorization header whose session is unknown or expired")))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Option<Authenticated>,
    Path(did): Path<String>,
    Query(query): Query<After>,
) -> Result<Json<UserView>, ApiError> {
    wait_for(&state, query.after, &[Projection::Users]).await?;
    let private = caller.is_some_and(|caller| {
        caller
            .may(Action::ReadAccountPrivate { did: did.as_str() })
            .is_ok()
    });
    let user: UserView = sqlx::query_as(
        "SELECT id, bluesky_did, bluesky_handle, bluesky_token_expiry, display_name, is_shadow_account, \
         account_status \
         FROM read.users WHERE bluesky_did = $1",
    )
    .bind(&did)
    .fetch_optional(state.store.pool())
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("no user {did:?}")))?;
    Ok(Json(if private {
        user
    } else {
        UserView {
            id: None,
            bluesky_token_expiry: None,
            ..user
        }
    }))
}

/// A page of users, by DID.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    /// The users.
    pub items: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// Filters and paging of `GET /api/users`.
#[derive(Deserialize, IntoParams)]
pub struct ListUsers {
    /// Only accounts in this status (`active`, `deactivated`, `takendown`,
    /// `deleted`, …).
    status: Option<String>,
    /// Only shadow accounts (`true`) or only full ones (`false`).
    shadow: Option<bool>,
    /// At most this many (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Wait until the read model has applied this global position.
    after: Option<u64>,
}

/// Every account, whatever its status, by DID; administrators only.
#[utoipa::path(get, path = "/api/users", params(ListUsers),
    responses((status = 200, body = UserPage), (status = 400, body = crate::error::ErrorBody)))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<ListUsers>,
) -> Result<Json<UserPage>, ApiError> {
    caller.may(Action::ListAccounts)?;
    wait_for(&state, query.after, &[Projection::Users]).await?;
    let limit = limit(query.limit)?;
    let rows: Vec<UserView> = sqlx::query_as(
        "SELECT id, bluesky_did, bluesky_handle, bluesky_token_expiry, display_name, is_shadow_account, \
         account_status FROM read.users \
         WHERE ($1::text IS NULL OR account_status = $1) AND ($2::bool IS NULL OR is_shadow_account = $2) \
         AND ($3::text IS NULL OR bluesky_did > $3) \
         ORDER BY bluesky_did LIMIT $4",
    )
    .bind(&query.status)
    .bind(query.shadow)
    .bind(&query.cursor)
    .bind(limit + 1)
    .fetch_all(state.store.pool())
    .await?;
    let (items, next_cursor) = page(rows, limit, |user| user.bluesky_did.clone());
    Ok(Json(UserPage { items, next_cursor }))
}
