//! Paths and queries are looked up in PostgreSQL, whose text cannot hold
//! NUL: a request naming one is refused (400) before any lookup, and the
//! document says so of every text parameter (see `document`).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The pattern of a text parameter: anything but NUL.
pub const WITHOUT_NUL: &str = "^[^\\u0000]*$";

/// Refuses a path or query holding NUL (`%00`).
pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let holds_nul = |text: &str| text.contains("%00");
    if holds_nul(uri.path()) || uri.query().is_some_and(holds_nul) {
        return ApiError::BadRequest(format!(
            "{}: a path or query may not hold NUL (%00)",
            uri.path()
        ))
        .into_response();
    }
    next.run(request).await
}
