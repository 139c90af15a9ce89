//! Recurrence: RFC 5545 rules (RRULE, EXDATE, RDATE) expanded with the
//! `rrule` crate in the series' IANA time zone, so a weekly 18:00 event
//! stays at 18:00 wall time across DST changes.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone};
use rrule::{RRule, RRuleSet, Tz, Unvalidated};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::time::Timestamp;

/// The most occurrences one expansion returns.
pub const MAX_OCCURRENCES: u16 = u16::MAX;

/// A series' recurrence: the rule, the zone it is evaluated in, its first
/// occurrence, and the dates taken out of or added to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    /// An RRULE value such as `FREQ=WEEKLY;BYDAY=TU` (an `RRULE:` prefix is
    /// accepted).
    pub rule: String,
    /// The IANA time zone, such as `Europe/Berlin`.
    pub time_zone: String,
    /// DTSTART: the first occurrence; its wall time in `time_zone` is the
    /// time of day of every occurrence.
    pub starts_at: Timestamp,
    /// EXDATE: occurrences taken out.
    pub exdates: Vec<Timestamp>,
    /// RDATE: occurrences added.
    pub rdates: Vec<Timestamp>,
}

/// A recurrence that cannot be expanded, naming what is wrong.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RecurrenceError {
    /// The zone is not in the IANA database.
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    /// A wall time that does not exist in the zone (skipped by a DST change).
    #[error("{time} does not exist in {zone} (skipped by a daylight saving change)")]
    NonexistentLocalTime {
        /// The wall time.
        time: String,
        /// The zone.
        zone: String,
    },
    /// Text that is neither a wall time nor an RFC 3339 instant.
    #[error("{0:?} is neither a local date-time (2026-03-03T18:00:00) nor an RFC 3339 instant")]
    NotADateTime(String),
    /// The rule does not parse or validate.
    #[error("invalid recurrence rule {rule:?}: {reason}")]
    InvalidRule {
        /// The rule as given.
        rule: String,
        /// What the rrule crate reported.
        reason: String,
    },
    /// More occurrences than one expansion returns.
    #[error("the expansion has more than {0} occurrences; narrow the range")]
    TooManyOccurrences(u16),
}

/// Resolves an IANA zone name.
pub fn time_zone(name: &str) -> Result<chrono_tz::Tz, RecurrenceError> {
    name.parse()
        .map_err(|_| RecurrenceError::UnknownTimeZone(name.to_owned()))
}

/// Reads `2026-03-03T18:00:00` as wall time in `zone`, or an RFC 3339
/// instant with its own offset.
pub fn local_or_instant(text: &str, zone: chrono_tz::Tz) -> Result<Timestamp, RecurrenceError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Timestamp::from_datetime(at.to_utc()));
    }
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| RecurrenceError::NotADateTime(text.to_owned()))?;
    // In a DST fold the earlier instant is the one a calendar means.
    zone.from_local_datetime(&local)
        .earliest()
        .map(|at| Timestamp::from_datetime(at.to_utc()))
        .ok_or_else(|| RecurrenceError::NonexistentLocalTime {
            time: text.to_owned(),
            zone: zone.name().to_owned(),
        })
}

/// An instant as RFC 3339 with the offset it has in `zone`.
pub fn format_in_zone(at: Timestamp, zone: chrono_tz::Tz) -> String {
    at.to_datetime()
        .with_timezone(&zone)
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A recurrence ready to expand.
pub struct Schedule {
    set: RRuleSet,
    zone: Tz,
}

impl Recurrence {
    /// Reads the iCalendar lines detection proposes (`DTSTART;TZID=…:…`,
    /// `RRULE:…`, optional `EXDATE` and `RDATE`), with the `rrule` crate's
    /// parser, and checks that the result expands.
    pub fn from_ical(text: &str) -> Result<Recurrence, RecurrenceError> {
        let invalid = |reason: String| RecurrenceError::InvalidRule {
            rule: text.to_owned(),
            reason,
        };
        let set: RRuleSet = text
            .trim()
            .parse()
            .map_err(|err: rrule::RRuleError| invalid(err.to_string()))?;
        let [rule] = set.get_rrule().as_slice() else {
            return Err(invalid("exactly one RRULE is needed".into()));
        };
        let zone = set.get_dt_start().timezone();
        let instant = |at: &DateTime<Tz>| Timestamp::from_datetime(at.to_utc());
        // The rule as written, not as the crate prints it: its printer
        // writes the first weekday of a month (`1MO`) as `MO`, every Monday
        // (fmeringdal/rust-rrule#148, open).
        let written = text
            .lines()
            .find_map(|line| {
                let (name, value) = line.trim().split_once(':')?;
                name.eq_ignore_ascii_case("RRULE").then(|| value.to_owned())
            })
            .unwrap_or_else(|| rule.to_string());
        let recurrence = Recurrence {
            rule: written,
            time_zone: zone.name().to_owned(),
            starts_at: instant(set.get_dt_start()),
            exdates: set.get_exdate().iter().map(instant).collect(),
            rdates: set.get_rdate().iter().map(instant).collect(),
        };
        recurrence.schedule()?;
        Ok(recurrence)
    }

    /// Checks the zone and the rule, and prepares the expansion.
    pub fn schedule(&self) -> Result<Schedule, RecurrenceError> {
        let zone = Tz::Tz(time_zone(&self.time_zone)?);
        let in_zone = |at: Timestamp| at.to_datetime().with_timezone(&zone);
        let text = self
            .rule
            .trim()
            .strip_prefix("RRULE:")
            .unwrap_or(self.rule.trim());
        let invalid = |reason: String| RecurrenceError::InvalidRule {
            rule: self.rule.clone(),
            reason,
        };
        let rule: RRule<Unvalidated> = text
            .parse()
            .map_err(|err: rrule::RRuleError| invalid(err.to_string()))?;
        let set = rule
            .build(in_zone(self.starts_at))
            .map_err(|err| invalid(err.to_string()))?
            .set_exdates(self.exdates.iter().copied().map(in_zone).collect())
            .set_rdates(self.rdates.iter().copied().map(in_zone).collect());
        Ok(Schedule { set, zone })
    }
}

impl Schedule {
    /// Every occurrence from `from` to `until`, both inclusive, in order.
    pub fn between(
        &self,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<Timestamp>, RecurrenceError> {
        let in_zone = |at: Timestamp| at.to_datetime().with_timezone(&self.zone);
        self.collect(
            self.set.clone().after(in_zone(from)).before(in_zone(until)),
            MAX_OCCURRENCES,
        )
    }

    /// The first `count` occurrences.
    pub fn first(&self, count: u16) -> Result<Vec<Timestamp>, RecurrenceError> {
        let mut occurrences = self.collect(self.set.clone(), count.saturating_add(1))?;
        occurrences.truncate(usize::from(count));
        Ok(occurrences)
    }

    /// The first occurrence strictly after `at`: the next one to publish.
    pub fn next_after(&self, at: Timestamp) -> Option<Timestamp> {
        let after = Timestamp::from_unix_micros(at.as_unix_micros() + 1)
            .to_datetime()
            .with_timezone(&self.zone);
        self.set
            .clone()
            .after(after)
            .all(1)
            .dates
            .first()
            .map(|first| Timestamp::from_datetime(first.to_utc()))
    }

    fn collect(&self, set: RRuleSet, limit: u16) -> Result<Vec<Timestamp>, RecurrenceError> {
        let result = set.all(limit);
        let mut occurrences: Vec<Timestamp> = result
            .dates
            .iter()
            .map(|at| Timestamp::from_datetime(at.to_utc()))
            .collect();
        if result.limited && limit == MAX_OCCURRENCES && occurrences.len() >= usize::from(limit) {
            return Err(RecurrenceError::TooManyOccurrences(limit));
        }
        // An RDATE that equals a rule occurrence is one occurrence (RFC 5545),
        // but rrule 0.14 yields it twice.
        occurrences.sort();
        occurrences.dedup();
        Ok(occurrences)
    }
}
