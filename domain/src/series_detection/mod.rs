//! Series detection: which imported standalone events of one organizer
//! are occurrences of one series, and the rule that generates them.
//!
//! Events are grouped per organizer by their series name (numbering,
//! dates and asides taken out, then compared fuzzily) and their time of
//! day in their own time zone; each group gets the rule that explains
//! most of its dates ([`rules::fit`]), checked by expanding it with the
//! `rrule` crate: the rule with its EXDATEs (skipped dates) and RDATEs
//! (moved occurrences) must give exactly the group's start times. Pure:
//! the same events always give the same proposals.

pub mod names;
mod proposed;
pub mod regions;
pub mod review;
pub mod rules;
pub mod signals;
pub mod zones;

pub use proposed::{DETECTOR_VERSION, ProposalId, SeriesProposed, SeriesProposedV1};
pub use zones::ZoneSource;

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDateTime, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

use crate::occurrence::{Place, details_of};
use crate::recurrence::Recurrence;
use crate::time::Timestamp;

/// An imported standalone event, as detection reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The record's AT-URI; its DID is the organizer.
    pub uri: String,
    /// The event's name.
    pub name: String,
    /// When it starts.
    pub starts_at: Timestamp,
    /// The IANA time zone the record names, if any.
    pub time_zone: Option<String>,
    /// The UTC offset its `startsAt` was written with, in seconds east;
    /// `None` for UTC (`Z`), which most clients write whatever the zone.
    pub utc_offset: Option<i32>,
    /// Its description, when it has one.
    pub description: Option<String>,
    /// Where it takes place.
    pub places: Vec<Place>,
}

impl Candidate {
    /// The candidate a calendar event record makes: its name, its start
    /// and its `timezone`, or why it can make none.
    pub fn from_record(uri: &str, record: &str) -> Result<Self, String> {
        let details = details_of(uri, record).map_err(|err| err.to_string())?;
        let starts_at = details
            .starts_at
            .ok_or_else(|| format!("record {uri}: has no startsAt"))?;
        Ok(Candidate {
            uri: uri.to_owned(),
            name: details.name,
            starts_at,
            time_zone: details.time_zone,
            utc_offset: written_offset(record),
            description: details.description,
            places: details.places,
        })
    }
}

/// The offset `startsAt` is written with, when it is not UTC. Only that
/// field is read: the rest of the record is skipped, not built as a tree.
fn written_offset(record: &str) -> Option<i32> {
    #[derive(Deserialize)]
    struct Start<'a> {
        #[serde(rename = "startsAt", borrow)]
        starts_at: Option<std::borrow::Cow<'a, str>>,
    }
    let start: Start = serde_json::from_str(record).ok()?;
    let offset = chrono::DateTime::parse_from_rfc3339(&start.starts_at?)
        .ok()?
        .offset()
        .local_minus_utc();
    (offset != 0).then_some(offset)
}

/// How eager detection is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectionConfig {
    /// The fewest events a series is proposed from.
    pub min_members: usize,
    /// The lowest confidence proposed.
    pub min_confidence: f64,
    /// How alike two series names must be to belong together.
    pub name_threshold: f64,
    /// The largest gap between times of day within one series, in minutes.
    pub time_of_day_spread: u32,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            min_members: 3,
            min_confidence: 0.7,
            name_threshold: 0.75,
            time_of_day_spread: 120,
        }
    }
}

/// A proposed series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The organizer's DID.
    pub organizer: String,
    /// The member events, by start.
    pub uris: Vec<String>,
    /// `DTSTART;TZID=…`, `RRULE:…` and, when needed, `EXDATE` and `RDATE`
    /// lines.
    pub rrule: String,
    /// From 0 to 1.
    pub confidence: f64,
    /// Why.
    pub explanation: Explanation,
}

/// What a proposal rests on, signal by signal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The name the members share.
    pub series_name: String,
    /// How alike the members' names are (0 to 1).
    pub name_similarity: f64,
    /// The timing pattern, in words.
    pub pattern: String,
    /// The share of the rule's dates and the members that agree (0 to 1).
    pub timing: f64,
    /// How alike the members' locations are (0 to 1); `None` when fewer
    /// than two give one.
    pub location_similarity: Option<f64>,
    /// How alike their descriptions are (0 to 1); `None` when fewer than
    /// two give one.
    pub description_similarity: Option<f64>,
    /// Rule dates no event takes (holidays, cancellations never imported).
    pub skipped: Vec<String>,
    /// Members off the rule (moved occurrences).
    pub moved: Vec<String>,
    /// The IANA zone whose wall time the rule repeats in.
    pub zone: String,
    /// What the zone rests on; a zone guessed from the times alone lowers
    /// the confidence by [`GUESSED_ZONE_PENALTY`].
    pub zone_source: ZoneSource,
    /// Evidence the members carry that could not be used (a zone that is
    /// no IANA zone, a location that is no coordinate).
    pub ignored: Vec<String>,
    /// Each member against the next one, signal by signal.
    pub pairs: Vec<PairScore>,
}

/// What a zone inferred from the times alone takes off the confidence.
pub const GUESSED_ZONE_PENALTY: f64 = 0.05;

/// How alike two consecutive members are, with each signal's part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairScore {
    /// The earlier event.
    pub from: String,
    /// The next one.
    pub to: String,
    /// The pair's score (0 to 1), weighed as a group's confidence is.
    pub score: f64,
    /// How alike their series names are.
    pub name_similarity: f64,
    /// How close their times of day are (1: the same wall time; 0: the
    /// spread allowed within a series apart, or more).
    pub time_of_day: f64,
    /// Both on the rule (neither moved).
    pub on_rule: bool,
    /// How alike their locations are, when both give one.
    pub location_similarity: Option<f64>,
    /// How alike their descriptions are, when both give one.
    pub description_similarity: Option<f64>,
}

/// The series `candidates` hold, per organizer, most confident first.
pub fn detect(candidates: &[Candidate], config: &DetectionConfig) -> Vec<Proposal> {
    let mut by_organizer: BTreeMap<&str, Vec<&Candidate>> = BTreeMap::new();
    for candidate in candidates {
        by_organizer
            .entry(organizer_of(&candidate.uri))
            .or_default()
            .push(candidate);
    }
    let mut proposals: Vec<Proposal> = by_organizer
        .into_iter()
        .flat_map(|(organizer, events)| detect_for(organizer, events, config))
        .collect();
    proposals.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.uris.cmp(&b.uris))
    });
    proposals
}

/// The series of one organizer: a new import re-evaluates only these.
pub fn detect_for(
    organizer: &str,
    events: Vec<&Candidate>,
    config: &DetectionConfig,
) -> Vec<Proposal> {
    let mut proposals = vec![];
    for group in groups(events, config) {
        let (group, fit) = without_strays(group);
        if group.members.len() < config.min_members {
            continue;
        }
        for (part, fit) in split_at_cadence_change(group, fit, config) {
            match propose(organizer, &part, fit, config) {
                Some(proposal) => proposals.push(proposal),
                // One name at one time of day on several weekdays with no
                // rule for all of them: a series per weekday (a class on
                // Thursdays and another on Fridays, a Monday series
                // followed by a Thursday one).
                None => proposals.extend(
                    by_weekday(part)
                        .iter()
                        .filter(|day| day.members.len() >= config.min_members)
                        .filter_map(|day| {
                            propose(organizer, day, rules::fit(&day.times()), config)
                        }),
                ),
            }
        }
    }
    proposals
}

/// The group without the members its rule finds stray (near no date of
/// the rule left free), and the rule fitted again to the rest.
fn without_strays(mut group: Group<'_>) -> (Group<'_>, Option<rules::Fit>) {
    let fit = rules::fit(&group.times());
    let Some(strays) = fit.as_ref().map(|fit| fit.strays.clone()) else {
        return (group, fit);
    };
    if strays.is_empty() {
        return (group, fit);
    }
    let mut n = 0;
    group.members.retain(|_| {
        n += 1;
        !strays.contains(&(n - 1))
    });
    let fit = rules::fit(&group.times());
    (group, fit)
}

/// What a second series costs against the dates one rule leaves
/// unexplained, in the units of [`rules::Fit::cost`].
const SECOND_SERIES_COST: usize = 3;

/// A group whose cadence changes at some member (every two weeks, then
/// weekly, under one name: a series ended and another began) as the two
/// series, each with its rule; otherwise the group with `whole`, the rule
/// fitted to all of it. Only a change of rule splits it: a break in one
/// rule (a summer off) stays skipped dates of one series.
fn split_at_cadence_change<'a>(
    group: Group<'a>,
    whole: Option<rules::Fit>,
    config: &DetectionConfig,
) -> Vec<(Group<'a>, Option<rules::Fit>)> {
    let Some(whole) = whole else {
        return vec![(group, None)];
    };
    let times = group.times();
    if whole.skipped.len() < config.min_members || times.len() < 2 * config.min_members {
        return vec![(group, Some(whole))];
    }
    let best = (config.min_members..=times.len() - config.min_members)
        .filter_map(|at| {
            let (before, after) = (rules::fit(&times[..at])?, rules::fit(&times[at..])?);
            let cost = before.cost() + after.cost() + SECOND_SERIES_COST;
            (before.rule != after.rule && cost < whole.cost()).then_some((cost, at, before, after))
        })
        .min_by_key(|(cost, at, ..)| (*cost, *at));
    let Some((_, at, first, second)) = best else {
        return vec![(group, Some(whole))];
    };
    let mut before = group.members;
    let after = before.split_off(at);
    vec![
        (
            Group {
                members: before,
                zone: group.zone.clone(),
            },
            Some(first),
        ),
        (
            Group {
                members: after,
                zone: group.zone,
            },
            Some(second),
        ),
    ]
}

/// A group split by the local weekday of its members.
fn by_weekday(group: Group) -> Vec<Group> {
    let mut parts: BTreeMap<u32, Vec<Placed>> = BTreeMap::new();
    for member in group.members {
        parts
            .entry(member.local.weekday().num_days_from_monday())
            .or_default()
            .push(member);
    }
    if parts.len() < 2 {
        return vec![];
    }
    parts
        .into_values()
        .map(|members| Group {
            members,
            zone: group.zone.clone(),
        })
        .collect()
}

/// An event with its series name and wall time.
struct Placed<'a> {
    event: &'a Candidate,
    series_name: String,
    local: NaiveDateTime,
}

/// A group of events, in one zone's wall time.
struct Group<'a> {
    members: Vec<Placed<'a>>,
    zone: zones::Inferred,
}

impl Group<'_> {
    /// The members' wall times, in order.
    fn times(&self) -> Vec<NaiveDateTime> {
        self.members.iter().map(|m| m.local).collect()
    }
}

fn groups<'a>(events: Vec<&'a Candidate>, config: &DetectionConfig) -> Vec<Group<'a>> {
    // One bucket per series name, then names alike enough merged.
    let mut by_name: BTreeMap<String, Vec<&Candidate>> = BTreeMap::new();
    for event in events {
        by_name
            .entry(names::series_name(&event.name))
            .or_default()
            .push(event);
    }
    let mut merged: Vec<(String, Vec<&Candidate>)> = vec![];
    for (name, members) in by_name {
        if name.is_empty() {
            continue;
        }
        match merged
            .iter_mut()
            .find(|(kept, _)| strsim::sorensen_dice(kept, &name) >= config.name_threshold)
        {
            Some((_, kept)) => kept.extend(members),
            None => merged.push((name, members)),
        }
    }
    // Within a name, in the zone its events keep, series at different
    // times of day stay apart.
    let mut groups = vec![];
    for (_, events) in merged {
        let zone = zones::infer(&events);
        let mut members: Vec<Placed> = events
            .into_iter()
            .map(|event| Placed {
                event,
                series_name: names::series_name(&event.name),
                local: event
                    .starts_at
                    .to_datetime()
                    .with_timezone(&zone.zone)
                    .naive_local(),
            })
            .collect();
        members.sort_by_key(|m| (minutes(m.local), m.local));
        let mut group: Vec<Placed> = vec![];
        for member in members {
            let far = group.last().is_some_and(|last| {
                minutes(member.local) - minutes(last.local) > config.time_of_day_spread
            });
            if far {
                groups.push(Group {
                    members: std::mem::take(&mut group),
                    zone: zone.clone(),
                });
            }
            group.push(member);
        }
        groups.push(Group {
            members: group,
            zone,
        });
    }
    for group in &mut groups {
        group.members.sort_by(|a, b| {
            a.local
                .cmp(&b.local)
                .then_with(|| a.event.uri.cmp(&b.event.uri))
        });
        group
            .members
            .dedup_by(|a, b| a.local == b.local && a.event.uri == b.event.uri);
    }
    groups
}

fn minutes(at: NaiveDateTime) -> u32 {
    at.hour() * 60 + at.minute()
}

/// The proposal `found` makes with `fit`, its members' rule.
fn propose(
    organizer: &str,
    found: &Group,
    fit: Option<rules::Fit>,
    config: &DetectionConfig,
) -> Option<Proposal> {
    let (group, zone) = (&found.members[..], found.zone.zone);
    let times = found.times();
    let mut distinct = times.clone();
    distinct.dedup();
    if distinct.len() != times.len() {
        // Two events at one time are not two occurrences of one series.
        return None;
    }
    let fit = fit?;
    let instant = |local: NaiveDateTime| {
        zone.from_local_datetime(&local)
            .earliest()
            .map(|at| Timestamp::from_datetime(at.to_utc()))
    };
    let recurrence = Recurrence {
        rule: fit.rule.clone(),
        time_zone: zone.name().to_owned(),
        starts_at: instant(fit.start)?,
        exdates: fit
            .skipped
            .iter()
            .map(|t| instant(*t))
            .collect::<Option<_>>()?,
        rdates: fit
            .moved
            .iter()
            .map(|n| instant(times[*n]))
            .collect::<Option<_>>()?,
    };
    let starts: Vec<Timestamp> = group.iter().map(|m| m.event.starts_at).collect();
    let from = *starts.iter().min()?;
    let until = *starts.iter().max()?;
    // The rule must give exactly the members' start times, and say so
    // without contradicting itself.
    if recurrence.schedule().ok()?.between(from, until).ok()? != starts {
        return None;
    }
    let bare = Recurrence {
        exdates: vec![],
        rdates: vec![],
        ..recurrence.clone()
    };
    let rule_dates = bare.schedule().ok()?.between(from, until).ok()?;
    if !consistent(&rule_dates, &recurrence, &starts) {
        return None;
    }
    let series_name = most_common(group.iter().map(|m| m.series_name.as_str()))?.to_owned();
    let name_similarity = group
        .iter()
        .map(|m| strsim::sorensen_dice(&m.series_name, &series_name))
        .sum::<f64>()
        / group.len() as f64;
    let timing = fit.timing();
    let location = signals::location_similarity(group.iter().map(|m| m.event.places.as_slice()));
    let description =
        signals::description_similarity(group.iter().map(|m| m.event.description.as_deref()));
    let guessed = if found.zone.source == ZoneSource::Times {
        GUESSED_ZONE_PENALTY
    } else {
        0.0
    };
    let confidence =
        round(signals::confidence(name_similarity, timing, location, description) - guessed);
    if confidence < config.min_confidence {
        return None;
    }
    Some(Proposal {
        organizer: organizer.to_owned(),
        uris: group.iter().map(|m| m.event.uri.clone()).collect(),
        rrule: rrule_text(&recurrence, zone, &fit, &times),
        confidence,
        explanation: Explanation {
            series_name,
            name_similarity: round(name_similarity),
            pattern: fit.pattern.clone(),
            timing: round(timing),
            location_similarity: location.map(round),
            description_similarity: description.map(round),
            skipped: fit
                .skipped
                .iter()
                .map(|t| t.format("%Y-%m-%d").to_string())
                .collect(),
            moved: fit
                .moved
                .iter()
                .map(|n| group[*n].event.uri.clone())
                .collect(),
            zone: zone.name().to_owned(),
            zone_source: found.zone.source,
            ignored: found.zone.ignored.clone(),
            pairs: pair_scores(group, &fit.moved, config),
        },
    })
}

/// Whether `recurrence`'s EXDATEs and RDATEs agree with `rule_dates`, the
/// dates its rule alone gives, and with `starts`, the members' starts: an
/// RDATE on a date the rule already gives, an EXDATE on a date it does
/// not give, or an EXDATE where a member stands each say two things at
/// once.
fn consistent(rule_dates: &[Timestamp], recurrence: &Recurrence, starts: &[Timestamp]) -> bool {
    let redundant = recurrence.rdates.iter().any(|at| rule_dates.contains(at));
    let pointless = recurrence.exdates.iter().any(|at| !rule_dates.contains(at));
    let removes_a_member = recurrence.exdates.iter().any(|at| starts.contains(at));
    !(redundant || pointless || removes_a_member)
}

fn pair_scores(group: &[Placed], moved: &[usize], config: &DetectionConfig) -> Vec<PairScore> {
    (1..group.len())
        .map(|n| {
            let (a, b) = (&group[n - 1], &group[n]);
            let name = strsim::sorensen_dice(&a.series_name, &b.series_name);
            let apart = minutes(a.local).abs_diff(minutes(b.local)) as f64;
            let time_of_day = (1.0 - apart / f64::from(config.time_of_day_spread.max(1))).max(0.0);
            let on_rule = !moved.contains(&(n - 1)) && !moved.contains(&n);
            let timing = if on_rule {
                time_of_day
            } else {
                time_of_day / 2.0
            };
            let location = signals::places_similarity(&a.event.places, &b.event.places);
            let description = signals::texts_similarity(
                a.event.description.as_deref(),
                b.event.description.as_deref(),
            );
            PairScore {
                from: a.event.uri.clone(),
                to: b.event.uri.clone(),
                score: round(signals::confidence(name, timing, location, description)),
                name_similarity: round(name),
                time_of_day: round(time_of_day),
                on_rule,
                location_similarity: location.map(round),
                description_similarity: description.map(round),
            }
        })
        .collect()
}

fn rrule_text(
    recurrence: &Recurrence,
    zone: chrono_tz::Tz,
    fit: &rules::Fit,
    times: &[NaiveDateTime],
) -> String {
    let stamp = |t: &NaiveDateTime| t.format("%Y%m%dT%H%M%S").to_string();
    let name = zone.name();
    let mut text = format!(
        "DTSTART;TZID={name}:{}\nRRULE:{}",
        stamp(&fit.start),
        recurrence.rule
    );
    if !fit.skipped.is_empty() {
        let dates: Vec<String> = fit.skipped.iter().map(stamp).collect();
        text.push_str(&format!("\nEXDATE;TZID={name}:{}", dates.join(",")));
    }
    if !fit.moved.is_empty() {
        let dates: Vec<String> = fit.moved.iter().map(|n| stamp(&times[*n])).collect();
        text.push_str(&format!("\nRDATE;TZID={name}:{}", dates.join(",")));
    }
    text
}

/// The value given most often; of values given equally often, the smallest.
fn most_common<T: Ord>(values: impl IntoIterator<Item = T>) -> Option<T> {
    let mut counts: BTreeMap<T, usize> = BTreeMap::new();
    for value in values {
        *counts.entry(value).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(value, _)| value)
}

fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// The DID of an AT-URI (`at://did/collection/rkey`).
pub fn organizer_of(uri: &str) -> &str {
    let rest = uri.strip_prefix("at://").unwrap_or(uri);
    rest.split('/').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly_from(start: &str, weeks: &[i64]) -> Vec<Candidate> {
        let start = Timestamp::parse_rfc3339(start).unwrap().to_datetime();
        weeks
            .iter()
            .map(|week| Candidate {
                uri: format!("at://did:plc:o/community.lexicon.calendar.event/w{week}"),
                name: "Chaostreff".into(),
                starts_at: Timestamp::from_datetime(start + chrono::Duration::weeks(*week)),
                time_zone: Some("UTC".into()),
                utc_offset: None,
                description: None,
                places: vec![],
            })
            .collect()
    }

    fn rules_of(candidates: &[Candidate]) -> Vec<(usize, String)> {
        let mut found: Vec<(usize, String)> = detect(candidates, &DetectionConfig::default())
            .into_iter()
            .map(|p| (p.uris.len(), p.explanation.pattern))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn a_name_that_goes_from_every_two_weeks_to_weekly_is_two_series() {
        let weeks: Vec<i64> = (0..8).map(|n| 2 * n).chain(16..24).collect();
        assert_eq!(
            rules_of(&weekly_from("2026-01-07T18:00:00Z", &weeks)),
            [
                (8, "every 2 weeks on Wednesday".to_owned()),
                (8, "weekly on Wednesday".to_owned())
            ]
        );
    }

    #[test]
    fn an_rdate_the_rule_gives_or_an_exdate_on_a_member_is_a_contradiction() {
        let at = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
        let weekly = [
            at("2026-01-06T18:00:00Z"),
            at("2026-01-13T18:00:00Z"),
            at("2026-01-20T18:00:00Z"),
        ];
        let rule = |exdates: Vec<Timestamp>, rdates: Vec<Timestamp>| Recurrence {
            rule: "FREQ=WEEKLY;BYDAY=TU".into(),
            time_zone: "UTC".into(),
            starts_at: weekly[0],
            exdates,
            rdates,
        };
        let moved = at("2026-01-14T18:00:00Z");
        let members = [weekly[0], moved, weekly[2]];
        assert!(consistent(
            &weekly,
            &rule(vec![weekly[1]], vec![moved]),
            &members
        ));
        assert!(!consistent(
            &weekly,
            &rule(vec![], vec![weekly[1]]),
            &weekly
        ));
        assert!(!consistent(
            &weekly,
            &rule(vec![weekly[1]], vec![weekly[1]]),
            &weekly
        ));
        assert!(!consistent(&weekly, &rule(vec![moved], vec![]), &members));
    }

    #[test]
    fn a_weekly_series_with_a_summer_off_stays_one() {
        let weeks: Vec<i64> = (0..10).chain(16..26).collect();
        assert_eq!(
            rules_of(&weekly_from("2026-04-01T16:00:00Z", &weeks)),
            [(20, "weekly on Wednesday".to_owned())]
        );
    }
}
