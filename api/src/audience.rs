//! Who may call each route: one table for the whole API. A request to a
//! route without a row is refused (500, and logged), so a route added
//! without a rule fails closed; the suite walks every operation of the
//! OpenAPI document and checks anonymous callers, ordinary users and
//! administrators against this table.
//!
//! The table says who may call a route at all. What a caller may do to one
//! event, proposal or account is decided inside the handler by
//! [`domain::access::authorize`].

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Anyone, without a session.
    Anyone,
    /// Anyone with a session (401 without one); what they may touch is
    /// decided per object.
    Session,
    /// Administrators only (401 without a session, 403 with another).
    Administrators,
}

/// Every route of the API with its audience.
pub const ROUTES: &[(Method, &str, Audience)] = &[
    (Method::GET, "/api/events", Audience::Anyone),
    // The owner's own session, or the platform's (an administrator's).
    (Method::POST, "/api/events", Audience::Session),
    (Method::GET, "/api/events/{slug}", Audience::Anyone),
    (Method::GET, "/api/events/openmeet/{id}", Audience::Anyone),
    (Method::PATCH, "/api/events/{slug}", Audience::Session),
    (Method::DELETE, "/api/events/{slug}", Audience::Session),
    (Method::POST, "/api/events/{slug}/rsvp", Audience::Session),
    (
        Method::POST,
        "/api/events/{slug}/bluesky-settings",
        Audience::Session,
    ),
    (Method::POST, "/api/events/sync-bluesky", Audience::Session),
    (
        Method::POST,
        "/api/events/{slug}/attendees/sync",
        Audience::Session,
    ),
    (
        Method::GET,
        "/api/events/{slug}/attendees",
        Audience::Anyone,
    ),
    (Method::GET, "/api/series/{slug}", Audience::Anyone),
    (Method::GET, "/api/series/openmeet/{id}", Audience::Anyone),
    // The owner's own session, or the platform's (an administrator's).
    (Method::POST, "/api/series", Audience::Session),
    (Method::PATCH, "/api/series/{slug}", Audience::Session),
    (Method::DELETE, "/api/series/{slug}", Audience::Session),
    (
        Method::POST,
        "/api/series/{slug}/occurrences/{start}/cancel",
        Audience::Session,
    ),
    (
        Method::POST,
        "/api/series/{slug}/occurrences/{start}/move",
        Audience::Session,
    ),
    (Method::GET, "/api/users", Audience::Administrators),
    // The account's local id and token expiry only for itself and
    // administrators (see `users`).
    (Method::GET, "/api/users/{did}", Audience::Anyone),
    (Method::GET, "/api/series-proposals", Audience::Session),
    (
        Method::POST,
        "/api/series-proposals/{id}/accept",
        Audience::Session,
    ),
    (
        Method::POST,
        "/api/series-proposals/{id}/adjust",
        Audience::Session,
    ),
    (
        Method::POST,
        "/api/series-proposals/{id}/reject",
        Audience::Session,
    ),
    (Method::GET, "/api/external-refs", Audience::Anyone),
    (Method::GET, "/api/rejections", Audience::Administrators),
    (
        Method::POST,
        "/api/auth/bluesky/app-password",
        Audience::Anyone,
    ),
    (Method::GET, "/api/auth/bluesky/login", Audience::Anyone),
    (Method::GET, "/api/auth/bluesky/callback", Audience::Anyone),
    (Method::GET, "/oauth/client-metadata.json", Audience::Anyone),
    (Method::POST, "/api/auth/logout", Audience::Session),
    (Method::GET, "/api/auth/session", Audience::Session),
    (
        Method::POST,
        "/api/bluesky/events/process",
        Audience::Administrators,
    ),
    (
        Method::POST,
        "/api/bluesky/rsvps/process",
        Audience::Administrators,
    ),
    (Method::GET, "/api/openapi.json", Audience::Anyone),
    (Method::GET, "/health", Audience::Anyone),
    (Method::GET, "/metrics", Audience::Anyone),
];

/// The audience of `method` on the route `path` (as the router writes it,
/// `{param}` included), when the table has a row for it. `HEAD` has the audience of `GET`, which answers it.
pub fn of(method: &Method, path: &str) -> Option<Audience> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    ROUTES
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, audience)| *audience)
}

/// Refuses a request to a route the table has no row for: 405 with the
/// methods the table has for its path, or 500 when it has none.
pub async fn enforce(request: Request, next: Next) -> Response {
    let Some(route) = request.extensions().get::<MatchedPath>() else {
        return next.run(request).await;
    };
    if of(request.method(), route.as_str()).is_none() {
        let allowed: Vec<&str> = ROUTES
            .iter()
            .filter(|(_, path, _)| *path == route.as_str())
            .map(|(method, _, _)| method.as_str())
            .collect();
        if !allowed.is_empty() {
            let allow = allowed.join(", ");
            let message = format!("{} answers only {allow}", route.as_str());
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, allow)],
                message,
            )
                .into_response();
        }
        tracing::error!(method = %request.method(), route = route.as_str(),
            "a route without an access rule was called; add it to api::audience::ROUTES");
        return ApiError::Internal(format!(
            "{} {} has no access rule",
            request.method(),
            route.as_str()
        ))
        .into_response();
    }
    next.run(request).await
}
