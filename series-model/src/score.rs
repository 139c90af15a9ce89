//! What detection proposed against the truth: pairwise precision, recall
//! and F1 over member pairs, and for each true series whether a proposal
//! has exactly its members and its rule, two ways:
//! - **exact**, as issue 22 and the held-back set count it: the same RRULE
//!   line, and the same DTSTART, EXDATE and RDATE dates as UTC instants
//!   (a zone with other changes that gives the same instants so far is
//!   the same rule);
//! - **the next year right**: the same RRULE line, and the truth's
//!   occurrences for a year after the last member, as instants: a zone
//!   whose clocks change on other dates is found out.

use std::collections::{BTreeMap, BTreeSet};

use domain::Timestamp;
use domain::recurrence::Recurrence;
use domain::series_detection::Proposal;

use crate::generate::{Scenario, TrueSeries};

/// Counts for one slice of the series (all, one perturbation, one rule
/// shape, one way of giving a place).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Series in the slice.
    pub series: usize,
    /// Their member pairs.
    pub pairs: usize,
    /// Of those, pairs some proposal holds.
    pub found: usize,
    /// Series proposed with exactly their members.
    pub whole: usize,
    /// Of those, with their rule exact.
    pub exact: usize,
    /// Of those, with a rule that gives the next year right.
    pub ahead: usize,
}

impl Tally {
    /// Pairwise recall.
    pub fn recall(&self) -> f64 {
        ratio(self.found, self.pairs)
    }

    /// The share of series proposed whole with their rule exact.
    pub fn rules(&self) -> f64 {
        ratio(self.exact, self.series)
    }

    /// The share of series proposed whole with a rule that gives the next
    /// year right.
    pub fn ahead(&self) -> f64 {
        ratio(self.ahead, self.series)
    }
}

/// A whole scoring run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Pairs proposed.
    pub proposed_pairs: usize,
    /// Of those, pairs of one true series.
    pub true_pairs: usize,
    /// Every series.
    pub all: Tally,
    /// Per perturbation, rule shape and place, by name.
    pub by: BTreeMap<(&'static str, &'static str), Tally>,
    /// Series missed or proposed wrong, with what was proposed instead:
    /// seed, truth and proposals, to look at.
    pub misses: Vec<String>,
}

impl Report {
    /// Pairwise precision.
    pub fn precision(&self) -> f64 {
        ratio(self.true_pairs, self.proposed_pairs)
    }

    /// Pairwise F1.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.all.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// The report as Markdown tables.
    pub fn markdown(&self) -> String {
        let mut text = format!(
            "{} series: precision {:.3}, recall {:.3}, **F1 {:.3}**, rules exact {}/{} (**{:.3}**), \
             the next year right {:.3}\n",
            self.all.series,
            self.precision(),
            self.all.recall(),
            self.f1(),
            self.all.exact,
            self.all.series,
            self.all.rules(),
            self.all.ahead()
        );
        let mut dimension = "";
        for ((by, name), tally) in &self.by {
            if *by != dimension {
                dimension = by;
                text.push_str(&format!(
                    "\n| {by} | series | recall | proposed whole | rules exact | next year right |\n|---|---|---|---|---|---|\n"
                ));
            }
            text.push_str(&format!(
                "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
                tally.series,
                tally.recall(),
                ratio(tally.whole, tally.series),
                tally.rules(),
                tally.ahead()
            ));
        }
        text
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

fn pairs(uris: &[String]) -> BTreeSet<(&str, &str)> {
    let mut sorted: Vec<&str> = uris.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut pairs = BTreeSet::new();
    for (n, a) in sorted.iter().enumerate() {
        for b in &sorted[n + 1..] {
            pairs.insert((*a, *b));
        }
    }
    pairs
}

/// Scores `proposals`, made from the records of `scenarios`.
pub fn score(scenarios: &[Scenario], proposals: &[Proposal]) -> Report {
    let mut report = Report::default();
    let proposed: BTreeSet<(&str, &str)> = proposals.iter().flat_map(|p| pairs(&p.uris)).collect();
    let truth: BTreeSet<(&str, &str)> = scenarios
        .iter()
        .flat_map(|s| s.series.iter().flat_map(|series| pairs(&series.uris)))
        .collect();
    report.proposed_pairs = proposed.len();
    report.true_pairs = proposed.intersection(&truth).count();
    let by_members: BTreeMap<BTreeSet<&str>, &Proposal> = proposals
        .iter()
        .map(|p| (p.uris.iter().map(String::as_str).collect(), p))
        .collect();
    for scenario in scenarios {
        for series in &scenario.series {
            let own = pairs(&series.uris);
            let members: BTreeSet<&str> = series.uris.iter().map(String::as_str).collect();
            let whole = by_members.get(&members);
            let tally = Tally {
                series: 1,
                pairs: own.len(),
                found: own.intersection(&proposed).count(),
                whole: usize::from(whole.is_some()),
                exact: usize::from(
                    whole.is_some_and(|p| as_instants(&p.rrule) == as_instants(&series.rrule)),
                ),
                ahead: usize::from(whole.is_some_and(|p| next_year_right(&p.rrule, series))),
            };
            if tally.ahead == 0 {
                report.misses.push(miss(scenario.seed, series, proposals));
            }
            add(&mut report.all, &tally);
            for perturbation in &series.perturbations {
                add(
                    report
                        .by
                        .entry(("perturbation", perturbation.name()))
                        .or_default(),
                    &tally,
                );
            }
            add(
                report.by.entry(("rule", series.kind.name())).or_default(),
                &tally,
            );
            add(
                report.by.entry(("place", series.place.name())).or_default(),
                &tally,
            );
        }
    }
    report
}

fn add(total: &mut Tally, one: &Tally) {
    total.series += one.series;
    total.pairs += one.pairs;
    total.found += one.found;
    total.whole += one.whole;
    total.exact += one.exact;
    total.ahead += one.ahead;
}

fn miss(seed: u64, series: &TrueSeries, proposals: &[Proposal]) -> String {
    let members: BTreeSet<&String> = series.uris.iter().collect();
    let touching: Vec<String> = proposals
        .iter()
        .filter(|p| p.uris.iter().any(|uri| members.contains(uri)))
        .map(|p| {
            let inside = p.uris.iter().filter(|uri| members.contains(uri)).count();
            format!(
                "  proposed {inside}/{} of {} members (+{} others): {} [{} zone {} from {}]",
                inside,
                series.uris.len(),
                p.uris.len() - inside,
                p.rrule.replace('\n', " | "),
                p.explanation.pattern,
                p.explanation.zone,
                p.explanation.zone_source.name()
            )
        })
        .collect();
    let perturbations: Vec<&str> = series.perturbations.iter().map(|p| p.name()).collect();
    format!(
        "seed {seed}: {} ({}, {}), {} members: {}\n{}",
        series.kind.name(),
        perturbations.join(", "),
        series.place.name(),
        series.uris.len(),
        series.rrule.replace('\n', " | "),
        if touching.is_empty() {
            "  nothing proposed".to_owned()
        } else {
            touching.join("\n")
        }
    )
}

/// A rule's lines with each date as a UTC instant: `None` when a line
/// names no zone the database knows or a date that is none.
fn as_instants(rule: &str) -> Option<Vec<String>> {
    rule.lines()
        .map(|line| {
            let Some((head, value)) = line.split_once(':') else {
                return Some(line.to_owned());
            };
            let Some((kind, zone)) = head.split_once(";TZID=") else {
                return Some(line.to_owned());
            };
            let zone: chrono_tz::Tz = zone.parse().ok()?;
            let instants = value
                .split(',')
                .map(|local| {
                    let local =
                        chrono::NaiveDateTime::parse_from_str(local, "%Y%m%dT%H%M%S").ok()?;
                    let at = local.and_local_timezone(zone).earliest()?.to_utc();
                    Some(at.format("%Y%m%dT%H%M%SZ").to_string())
                })
                .collect::<Option<Vec<_>>>()?;
            Some(format!("{kind}:{}", instants.join(",")))
        })
        .collect()
}

/// Whether `proposed` gives the next year of `series` right: the same
/// RRULE line, and the same occurrences for a year after its last member.
fn next_year_right(proposed: &str, series: &TrueSeries) -> bool {
    let rrule = |text: &str| {
        text.lines()
            .find(|line| line.starts_with("RRULE:"))
            .map(str::to_owned)
    };
    if rrule(proposed) != rrule(&series.rrule) {
        return false;
    }
    let from = Timestamp::from_unix_micros(series.last.as_unix_micros() + 1);
    let year = Timestamp::from_unix_micros(from.as_unix_micros() + 366 * 24 * 3600 * 1_000_000);
    let ahead = |text: &str| {
        Recurrence::from_ical(text)
            .ok()?
            .schedule()
            .ok()?
            .between(from, year)
            .ok()
    };
    match (ahead(proposed), ahead(&series.rrule)) {
        (Some(a), Some(b)) => !a.is_empty() && a == b,
        _ => false,
    }
}
