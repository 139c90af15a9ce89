//! The rule that generates a group's dates: weekly every one to four
//! weeks, monthly on the n-th or last weekday, or monthly on a day of the
//! month, in the events' own wall time. Candidates are fitted with date
//! arithmetic; the chosen one is checked by the `rrule` expansion (see
//! [`super::detect`]).

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, Weekday};

/// A rule fitted to a group's wall times.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// The RRULE value, such as `FREQ=MONTHLY;BYDAY=-1FR`.
    pub rule: String,
    /// The pattern in words, such as `monthly on the last Friday`.
    pub pattern: String,
    /// DTSTART, in wall time.
    pub start: NaiveDateTime,
    /// Dates the rule gives that no event takes (EXDATE).
    pub skipped: Vec<NaiveDateTime>,
    /// The events off the rule near a date of it no event takes: moved
    /// occurrences (by index; RDATE).
    pub moved: Vec<usize>,
    /// The events off the rule and near no free date of it: not members
    /// (a special, a one-off under the same name).
    pub strays: Vec<usize>,
    /// The events on the rule.
    pub matched: usize,
    /// How far the moved occurrences moved in all, in minutes: of rules
    /// that leave as much unexplained, the one that moves them least wins.
    pub displacement: i64,
}

impl Fit {
    /// What the rule leaves unexplained: a moved event or a stray costs
    /// two, a skipped date one. Of rules that fit, the cheapest is chosen.
    pub fn cost(&self) -> usize {
        2 * (self.moved.len() + self.strays.len()) + self.skipped.len()
    }

    /// How well the rule explains the group, from 0 to 1.
    pub fn timing(&self) -> f64 {
        let misses = self.skipped.len() + self.moved.len();
        self.matched as f64 / (self.matched + misses) as f64
    }
}

#[derive(Clone, Copy)]
enum Shape {
    Weekly(u32),
    NthWeekday(i8),
    MonthDay,
}

/// The best rule for `times` (sorted), or `None` when none explains most
/// of them with few dates skipped.
pub fn fit(times: &[NaiveDateTime]) -> Option<Fit> {
    let last = *times.last()?;
    let mut best: Option<((usize, usize, i64), Fit)> = None;
    // A moved first occurrence must not decide the rule: the first few
    // events each anchor candidates.
    for anchor in times.iter().take(3) {
        for shape in shapes(anchor.date()) {
            let Some(candidate) = try_shape(times, *anchor, last, shape) else {
                continue;
            };
            let cost = (
                candidate.cost(),
                candidate.strays.len(),
                candidate.displacement,
            );
            if best.as_ref().is_none_or(|(best_cost, _)| cost < *best_cost) {
                best = Some((cost, candidate));
            }
        }
    }
    best.map(|(_, fit)| fit)
}

/// The shapes a series starting at `anchor` may have; of shapes that fit
/// equally, the first is chosen, so a monthly rule comes before every four
/// weeks, which people keep less often and which three monthly dates four
/// weeks apart fit as well.
fn shapes(anchor: NaiveDate) -> Vec<Shape> {
    let mut shapes: Vec<Shape> = (1..=3).map(Shape::Weekly).collect();
    let nth = (anchor.day0() / 7 + 1) as i8;
    if nth <= 4 {
        shapes.push(Shape::NthWeekday(nth));
    }
    if last_of_month(anchor) {
        shapes.push(Shape::NthWeekday(-1));
    }
    shapes.push(Shape::MonthDay);
    shapes.push(Shape::Weekly(4));
    shapes
}

fn try_shape(
    times: &[NaiveDateTime],
    anchor: NaiveDateTime,
    last: NaiveDateTime,
    shape: Shape,
) -> Option<Fit> {
    let dates: Vec<NaiveDateTime> = rule_dates(anchor.date(), last.date(), shape)
        .into_iter()
        .map(|date| date.and_time(anchor.time()))
        .collect();
    let matched: Vec<bool> = times
        .iter()
        .map(|t| dates.binary_search(t).is_ok())
        .collect();
    let on_rule = matched.iter().filter(|m| **m).count();
    let skipped: Vec<NaiveDateTime> = dates
        .iter()
        .filter(|date| times.binary_search(date).is_err())
        .copied()
        .collect();
    let off_rule: Vec<usize> = (0..times.len()).filter(|n| !matched[*n]).collect();
    let (moved, strays, displacement) = moved_or_strays(times, &off_rule, &skipped, shape);
    // Most events on the rule, and most of the rule's dates taken (a date
    // a moved occurrence stands in for is taken).
    let free = skipped.len() - moved.len();
    if on_rule < 2 || on_rule * 5 < times.len() * 3 || free * 2 > on_rule {
        return None;
    }
    let (rule, pattern) = describe(anchor.date(), shape);
    Some(Fit {
        rule,
        pattern,
        start: anchor,
        skipped,
        moved,
        strays,
        matched: on_rule,
        displacement,
    })
}

/// The events off the rule split into moved occurrences, each near a
/// date of the rule that no event takes (and taking that date's place,
/// once), and strays, near none: an occurrence is moved by a few days at
/// most, never to where the rule gives none. With how far the moved ones
/// moved, in minutes.
fn moved_or_strays(
    times: &[NaiveDateTime],
    off_rule: &[usize],
    skipped: &[NaiveDateTime],
    shape: Shape,
) -> (Vec<usize>, Vec<usize>, i64) {
    let reach = match shape {
        Shape::Weekly(1) => Duration::days(3),
        _ => Duration::days(7),
    };
    let mut free: Vec<NaiveDateTime> = skipped.to_vec();
    let (mut moved, mut strays, mut displacement) = (vec![], vec![], 0);
    for n in off_rule {
        let nearest = free
            .iter()
            .enumerate()
            .filter(|(_, date)| (**date - times[*n]).abs() <= reach)
            .min_by_key(|(_, date)| (**date - times[*n]).abs())
            .map(|(at, _)| at);
        match nearest {
            Some(at) => {
                displacement += (free.remove(at) - times[*n]).num_minutes().abs();
                moved.push(*n);
            }
            None => strays.push(*n),
        }
    }
    (moved, strays, displacement)
}

fn rule_dates(from: NaiveDate, until: NaiveDate, shape: Shape) -> Vec<NaiveDate> {
    let mut dates = vec![];
    match shape {
        Shape::Weekly(weeks) => {
            let mut date = from;
            while date <= until {
                dates.push(date);
                date += Duration::weeks(i64::from(weeks));
            }
        }
        Shape::NthWeekday(_) | Shape::MonthDay => {
            let mut month = from.with_day(1);
            while let Some(start) = month.filter(|start| *start <= until) {
                let date = match shape {
                    Shape::NthWeekday(nth) => nth_weekday(start, from.weekday(), nth),
                    _ => start.with_day(from.day()),
                };
                if let Some(date) = date.filter(|d| *d >= from && *d <= until) {
                    dates.push(date);
                }
                month = start.checked_add_months(Months::new(1));
            }
        }
    }
    dates
}

/// The `nth` (1–4, or -1 for the last) `weekday` of the month starting at
/// `month`.
fn nth_weekday(month: NaiveDate, weekday: Weekday, nth: i8) -> Option<NaiveDate> {
    if nth > 0 {
        NaiveDate::from_weekday_of_month_opt(month.year(), month.month(), weekday, nth as u8)
    } else {
        let next = month.checked_add_months(Months::new(1))?;
        let mut date = next.pred_opt()?;
        while date.weekday() != weekday {
            date = date.pred_opt()?;
        }
        Some(date)
    }
}

fn last_of_month(date: NaiveDate) -> bool {
    date.checked_add_signed(Duration::weeks(1))
        .is_none_or(|week_later| week_later.month() != date.month())
}

fn describe(anchor: NaiveDate, shape: Shape) -> (String, String) {
    let day = anchor.weekday();
    let code = &format!("{day}").to_uppercase()[..2];
    let name = weekday_name(day);
    match shape {
        Shape::Weekly(1) => (
            format!("FREQ=WEEKLY;BYDAY={code}"),
            format!("weekly on {name}"),
        ),
        Shape::Weekly(weeks) => (
            format!("FREQ=WEEKLY;INTERVAL={weeks};BYDAY={code}"),
            format!("every {weeks} weeks on {name}"),
        ),
        Shape::NthWeekday(-1) => (
            format!("FREQ=MONTHLY;BYDAY=-1{code}"),
            format!("monthly on the last {name}"),
        ),
        Shape::NthWeekday(nth) => (
            format!("FREQ=MONTHLY;BYDAY={nth}{code}"),
            format!("monthly on the {} {name}", ordinal(nth)),
        ),
        Shape::MonthDay => (
            format!("FREQ=MONTHLY;BYMONTHDAY={}", anchor.day()),
            format!("monthly on day {}", anchor.day()),
        ),
    }
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn ordinal(nth: i8) -> &'static str {
    match nth {
        1 => "first",
        2 => "second",
        3 => "third",
        _ => "fourth",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(&format!("{date} 18:00"), "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn a_weekly_series_with_a_holiday_skipped() {
        let times: Vec<_> = [
            "2026-12-01",
            "2026-12-08",
            "2026-12-15",
            "2027-01-05",
            "2027-01-12",
            "2026-12-29",
        ]
        .map(at)
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
        let fit = fit(&times).unwrap();
        assert_eq!(fit.rule, "FREQ=WEEKLY;BYDAY=TU");
        assert_eq!(fit.skipped, vec![at("2026-12-22")]);
        assert!(fit.moved.is_empty());
    }

    #[test]
    fn a_monthly_last_friday_and_a_second_tuesday() {
        let last_fridays: Vec<_> = ["2026-09-25", "2026-10-30", "2026-11-27", "2026-12-25"]
            .map(at)
            .to_vec();
        assert_eq!(fit(&last_fridays).unwrap().rule, "FREQ=MONTHLY;BYDAY=-1FR");
        let second_tuesdays: Vec<_> = ["2026-09-08", "2026-10-13", "2026-11-10", "2026-12-08"]
            .map(at)
            .to_vec();
        assert_eq!(
            fit(&second_tuesdays).unwrap().rule,
            "FREQ=MONTHLY;BYDAY=2TU"
        );
    }

    #[test]
    fn the_rule_people_use_wins_over_one_that_fits_most_dates() {
        // Every four weeks fits the last three second Thursdays, with the
        // first one moved; the monthly rule fits all four.
        let times: Vec<_> = ["2026-01-08", "2026-02-12", "2026-03-12", "2026-04-09"]
            .map(at)
            .to_vec();
        let fit = fit(&times).unwrap();
        assert_eq!(fit.rule, "FREQ=MONTHLY;BYDAY=2TH");
        assert!(fit.moved.is_empty() && fit.skipped.is_empty());
    }

    #[test]
    fn a_moved_occurrence_is_kept_off_the_rule() {
        let times: Vec<_> = [
            "2026-12-01",
            "2026-12-08",
            "2026-12-16",
            "2026-12-22",
            "2026-12-29",
        ]
        .map(at)
        .to_vec();
        let fit = fit(&times).unwrap();
        assert_eq!(fit.rule, "FREQ=WEEKLY;BYDAY=TU");
        assert_eq!(fit.moved, vec![2]);
        assert_eq!(fit.skipped, vec![at("2026-12-15")]);
    }

    #[test]
    fn scattered_dates_fit_no_rule() {
        let times: Vec<_> = ["2026-12-01", "2026-12-04", "2026-12-19", "2027-01-02"]
            .map(at)
            .to_vec();
        assert_eq!(fit(&times), None);
    }
}
