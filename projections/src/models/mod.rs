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

/// A URL name: the name in lowercase ASCII words, then the first 8 hex
/// digits of the id, so it is unique and stable across rebuilds.
pub fn slug(name: &str, id: uuid::Uuid) -> String {
    let mut words = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            words.push(c);
        } else if !words.ends_with('-') && !words.is_empty() {
            words.push('-');
        }
        if words.len() >= 60 {
            break;
        }
    }
    let words = words.trim_end_matches('-');
    let suffix = &id.simple().to_string()[..8];
    if words.is_empty() {
        format!("event-{suffix}")
    } else {
        format!("{words}-{suffix}")
    }
}

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

#[cfg(test)]
mod tests {
    use super::slug;
    use uuid::Uuid;

    #[test]
    fn slugs_are_readable_stable_and_unique_per_id() {
        let id = Uuid::from_u128(0xabcdef12_0000_0000_0000_000000000000);
        assert_eq!(
            slug("Rust Meetup #12 (online)", id),
            "rust-meetup-12-online-abcdef12"
        );
        assert_eq!(slug("Ünïcødé 🎉", id), "n-c-d-abcdef12");
        assert_eq!(slug("🎉", id), "event-abcdef12");
    }
}
