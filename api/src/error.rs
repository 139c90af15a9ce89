//! Every error as a JSON body with a code and a message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code: `not_found`, `bad_request`,
    /// `not_caught_up`, `unavailable`, `unauthorized`, `forbidden`, `conflict`,
    /// `internal`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Nothing at that address.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong (a parameter that does not parse).
    #[error("{0}")]
    BadRequest(String),
    /// `?after=` asked for a position the projection did not reach in time.
    #[error("{0}")]
    NotCaughtUp(String),
    /// The server failed.
    #[error("{0}")]
    Internal(String),
    /// A service this request needs is unavailable; retrying may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// No valid session: a missing, forged or expired token.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request contradicts what is recorded.
    #[error("{0}")]
    Conflict(String),
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "database error");
        ApiError::Internal("the read models could not be queried".into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotCaughtUp(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_caught_up"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        };
        let challenge = matches!(self, ApiError::Unauthorized(_));
        let mut response = (
            status,
            Json(ErrorBody {
                code,
                message: self.to_string(),
            }),
        )
            .into_response();
        if challenge {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
