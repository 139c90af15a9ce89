//! `openmeet.lexicon.calendar.recurrence`: our recurrence extension.

use serde::{Deserialize, Serialize};

use super::Extra;

/// The recurrence extension's NSID.
pub const RECURRENCE_NSID: &str = "openmeet.lexicon.calendar.recurrence";

/// The series an event record belongs to, as RFC 5545 rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recurrence {
    /// The RRULE value, such as `FREQ=WEEKLY;BYDAY=TU`.
    pub rrule: String,
    /// The IANA time zone the rule is evaluated in.
    pub timezone: String,
    /// Excluded instants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exdate: Option<Vec<String>>,
    /// Added instants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rdate: Option<Vec<String>>,
    /// The series page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesLink>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The link from an occurrence to its series page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesLink {
    /// The series page on OpenMeet.
    pub uri: String,
    /// The series' name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// This occurrence's 0-based place in the series.
    #[serde(
        rename = "occurrenceIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub occurrence_index: Option<i64>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}
