//! Turns sqlx errors into the port's errors: unreachable versus refused.

use sqlx::error::ErrorKind;

use crate::port::StoreError;

/// SQLSTATE classes and codes that mean the server went away or is going
/// away: connection exceptions (08), admin/crash shutdown (57P01..57P03).
fn is_connection_loss(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Maps an sqlx error met while doing `operation`.
pub(crate) fn classify(operation: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |err| {
        let unavailable = match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| is_connection_loss(&code)),
            _ => false,
        };
        if unavailable {
            StoreError::Unavailable {
                operation,
                source: Box::new(err),
            }
        } else {
            StoreError::Backend {
                operation,
                source: Box::new(err),
            }
        }
    }
}

/// True when `err` is the unique violation of the event id constraint.
pub(crate) fn is_event_id_taken(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.kind() == ErrorKind::UniqueViolation
                && db.constraint() == Some("events_event_id_key")
        }
        _ => false,
    }
}
