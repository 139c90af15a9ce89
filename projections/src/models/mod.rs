//! One module per read model.

pub mod attendees;
pub mod external_refs;
pub mod occurrences;
pub mod series;
pub mod series_proposals;
pub mod users;

use chrono::{DateTime, Utc};
use domain::Timestamp;
use domain::occurrence::{Mode, Status};

pub use domain::slug::slug;

pub(crate) fn at(timestamp: Timestamp) -> DateTime<Utc> {
    timestamp.to_datetime()
}

pub(crate) fn mode_name(mode: &Mode) -> String {
    match mode {
        Mode::InPerson => "inperson".into(),
        Mode::Virtual => "virtual".into(),
        Mode::Hybrid => "hybrid".into(),
        Mode::Other(token) => token.clone(),
    }
}

pub(crate) fn status_name(status: &Status) -> String {
    match status {
        Status::Planned => "planned".into(),
        Status::Scheduled => "scheduled".into(),
        Status::Rescheduled => "rescheduled".into(),
        Status::Cancelled => "cancelled".into(),
        Status::Postponed => "postponed".into(),
        Status::Other(token) => token.clone(),
    }
}

/// A value as stored in `jsonb`. Domain values are plain data, which always
/// serialize.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}
