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
    /// `rate_limited`, `method_not_allowed`, `payload_too_large`,
    /// `unsupported_media_type`, `unprocessable`, `internal`.
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
    /// `?after=` asked for a position the projection did not reach in time
    /// (sent with `Retry-After: 1`).
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
    /// The body parses, but is not of the documented shape.
    #[error("{0}")]
    Unprocessable(String),
    /// Too many attempts: the caller may try again after `retry_after`
    /// (sent as `Retry-After`, in whole seconds).
    #[error("{message}")]
    RateLimited {
        /// Who was limited and for how long, for people.
        message: String,
        /// How long to wait.
        retry_after: std::time::Duration,
    },
}

/// The code of an error answered with `status`.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ if status.is_client_error() => "bad_request",
        _ => "internal",
    }
}

/// Gives every refusal the JSON error body, whoever made it: axum's own
/// extractors (a query or JSON body that does not parse, a missing
/// `Content-Type`, a body over the limit) answer in plain text.
pub async fn json_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_owned()
    } else {
        text
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    let body = serde_json::to_vec(&ErrorBody {
        code: code_of(status),
        message,
    })
    .unwrap_or_default();
    Response::from_parts(parts, axum::body::Body::from(body))
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
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        };
        let retry_after = match &self {
            ApiError::RateLimited { retry_after, .. } => Some(retry_after.as_secs().max(1)),
            // The projection is behind by a short lag: a second is enough.
            ApiError::NotCaughtUp(_) => Some(1),
            _ => None,
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
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        if challenge {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
