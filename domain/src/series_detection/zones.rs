//! The time zone a group of events keeps its wall time in. Records on the
//! network give their times in UTC and rarely name a zone, but a series
//! repeats in local wall time: a weekly 18:30 in New York is 22:30Z in
//! summer and 23:30Z in winter, and a Monday evening in Los Angeles is a
//! Tuesday in UTC. The zone is inferred from what the members carry,
//! strongest evidence first:
//! 1. a zone the record names (its `timezone`, an OpenMeet event's zone),
//!    or the zone whose offsets are those `startsAt` was written with;
//! 2. where it happens: coordinates (zone boundaries shipped by `tzf-rs`),
//!    an address in a country that keeps one zone, or in a region whose
//!    zone [`super::regions`] knows;
//! 3. the zone, among the zones of the country an address names (else
//!    among those with distinct daylight-saving rules), in which the
//!    members' times of day repeat best across the changes in their span
//!    and fall at the hours people meet at (a guess: it lowers the
//!    confidence);
//! 4. UTC, when nothing tells.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{NaiveDateTime, Offset, Timelike};
use chrono_tz::{Africa, America, Asia, Atlantic, Australia, Europe, Pacific, Tz};
use serde::{Deserialize, Serialize};

use super::{Candidate, regions};
use crate::occurrence::Place;
use crate::recurrence::time_zone;

/// What the zone of a proposal rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSource {
    /// A zone the members name.
    Record,
    /// The zone whose UTC offsets are those the members' start times were
    /// written with.
    Offset,
    /// Where the members take place.
    Location,
    /// The zone in which the members' times of day repeat; a guess.
    Times,
    /// Nothing tells: UTC.
    Unknown,
}

impl ZoneSource {
    /// Its name, as proposals record and show it.
    pub fn name(self) -> &'static str {
        match self {
            ZoneSource::Record => "record",
            ZoneSource::Offset => "offset",
            ZoneSource::Location => "location",
            ZoneSource::Times => "times",
            ZoneSource::Unknown => "unknown",
        }
    }
}

/// The zone of a group and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Inferred {
    /// The zone.
    pub zone: Tz,
    /// What it rests on.
    pub source: ZoneSource,
    /// Evidence that was there but could not be used, in words.
    pub ignored: Vec<String>,
}

/// Zones whose daylight-saving rules, with their offsets, tell them apart:
/// one for each rule that a time of day can reveal. Ordered so that among
/// zones that fit equally, the more populous calendar regions come first.
const DISTINCT_RULES: [Tz; 24] = [
    Europe::Berlin,
    Europe::London,
    America::New_York,
    America::Chicago,
    America::Denver,
    America::Los_Angeles,
    America::Phoenix,
    America::Anchorage,
    Pacific::Honolulu,
    America::Sao_Paulo,
    America::Santiago,
    America::Halifax,
    America::St_Johns,
    Europe::Helsinki,
    Europe::Moscow,
    Asia::Jerusalem,
    Asia::Kolkata,
    Asia::Shanghai,
    Asia::Tokyo,
    Australia::Sydney,
    Australia::Adelaide,
    Australia::Brisbane,
    Australia::Perth,
    Pacific::Auckland,
];

/// Countries that keep one zone (ISO 3166 code → IANA zone), from the
/// IANA database's `zone1970.tab`. No maintained crate maps a country to
/// its zones; a country with several (US, CA, AU, BR, MX, RU, …) is in
/// [`super::regions`].
const ONE_ZONE_COUNTRIES: [(&str, Tz); 40] = [
    ("AT", Europe::Vienna),
    ("BE", Europe::Brussels),
    ("BG", Europe::Sofia),
    ("CH", Europe::Zurich),
    ("CN", Asia::Shanghai),
    ("CZ", Europe::Prague),
    ("DE", Europe::Berlin),
    ("DK", Europe::Copenhagen),
    ("EE", Europe::Tallinn),
    ("FI", Europe::Helsinki),
    ("FR", Europe::Paris),
    ("GB", Europe::London),
    ("GR", Europe::Athens),
    ("HR", Europe::Zagreb),
    ("HU", Europe::Budapest),
    ("IE", Europe::Dublin),
    ("IL", Asia::Jerusalem),
    ("IN", Asia::Kolkata),
    ("IS", Atlantic::Reykjavik),
    ("IT", Europe::Rome),
    ("JP", Asia::Tokyo),
    ("KR", Asia::Seoul),
    ("LT", Europe::Vilnius),
    ("LU", Europe::Luxembourg),
    ("LV", Europe::Riga),
    ("NG", Africa::Lagos),
    ("NL", Europe::Amsterdam),
    ("NO", Europe::Oslo),
    ("PH", Asia::Manila),
    ("PL", Europe::Warsaw),
    ("RO", Europe::Bucharest),
    ("RS", Europe::Belgrade),
    ("SE", Europe::Stockholm),
    ("SG", Asia::Singapore),
    ("SI", Europe::Ljubljana),
    ("SK", Europe::Bratislava),
    ("TW", Asia::Taipei),
    ("UA", Europe::Kyiv),
    ("UY", America::Montevideo),
    ("ZA", Africa::Johannesburg),
];

static FINDER: LazyLock<tzf_rs::DefaultFinder> = LazyLock::new(tzf_rs::DefaultFinder::new);

/// The zone `members` keep their wall time in.
pub fn infer(members: &[&Candidate]) -> Inferred {
    let mut ignored = vec![];
    let named = members.iter().filter_map(|m| {
        let name = m.time_zone.as_deref()?;
        match time_zone(name) {
            Ok(zone) => Some(zone),
            Err(_) => {
                ignored.push(format!("{}: time zone {name:?} is not an IANA zone", m.uri));
                None
            }
        }
    });
    if let Some(zone) = most_common(named.collect()) {
        return Inferred {
            zone,
            source: ZoneSource::Record,
            ignored,
        };
    }
    if let Some(zone) = zone_of_offsets(members) {
        return Inferred {
            zone,
            source: ZoneSource::Offset,
            ignored,
        };
    }
    let mut located: Vec<Tz> = vec![];
    let mut countries: Vec<&'static [Tz]> = vec![];
    for member in members {
        for place in &member.places {
            match zone_of_place(place) {
                Ok(Evidence::Zone(zone)) => located.push(zone),
                Ok(Evidence::Among(zones, unknown)) => {
                    if let Some(region) = unknown {
                        ignored.push(format!(
                            "{}: region {region:?} is not one whose zone is known; \
                             the zone is read from the times among its country's",
                            member.uri
                        ));
                    }
                    countries.push(zones);
                }
                Ok(Evidence::Nothing) => {}
                Err(why) => ignored.push(format!("{}: {why}", member.uri)),
            }
        }
    }
    if let Some(zone) = most_common(located) {
        return Inferred {
            zone,
            source: ZoneSource::Location,
            ignored,
        };
    }
    let country = most_common_set(countries);
    let (zone, source) = match zone_of_times(members, country.unwrap_or(&DISTINCT_RULES)) {
        Some(zone) => (zone, ZoneSource::Times),
        None => (chrono_tz::UTC, ZoneSource::Unknown),
    };
    Inferred {
        zone,
        source,
        ignored,
    }
}

/// What a place says of its zone.
enum Evidence {
    /// The zone.
    Zone(Tz),
    /// One of a country's zones; with the region given, when it is not
    /// one the table knows.
    Among(&'static [Tz], Option<String>),
    /// Nothing.
    Nothing,
}

/// The zones given most often; of those given equally often, the first.
fn most_common_set(sets: Vec<&'static [Tz]>) -> Option<&'static [Tz]> {
    let count = |set: &[Tz]| sets.iter().filter(|other| **other == set).count();
    let top = sets.iter().map(|set| count(set)).max()?;
    sets.iter().find(|set| count(set) == top).copied()
}

/// What a place says of its zone; an error names a coordinate that is no
/// coordinate.
fn zone_of_place(place: &Place) -> Result<Evidence, String> {
    let coordinates = match place {
        Place::Geo {
            latitude,
            longitude,
            ..
        } => Some((latitude.as_str(), longitude.as_str())),
        Place::Foursquare {
            latitude: Some(latitude),
            longitude: Some(longitude),
            ..
        } => Some((latitude.as_str(), longitude.as_str())),
        Place::Address {
            country, region, ..
        } => return Ok(zone_of_address(country, region.as_deref())),
        _ => None,
    };
    let Some((latitude, longitude)) = coordinates else {
        return Ok(Evidence::Nothing);
    };
    let degrees = |text: &str, limit: f64| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite() && value.abs() <= limit)
    };
    let (Some(lat), Some(lng)) = (degrees(latitude, 90.0), degrees(longitude, 180.0)) else {
        return Err(format!(
            "location ({latitude:?}, {longitude:?}) is not a coordinate"
        ));
    };
    Ok(FINDER
        .get_tz_name(lng, lat)
        .parse()
        .map_or(Evidence::Nothing, Evidence::Zone))
}

/// The zone of an address: its country's, when it keeps one; its
/// region's, when the table knows it; else the country's zones.
fn zone_of_address(country: &str, region: Option<&str>) -> Evidence {
    let code = country.trim().to_ascii_uppercase();
    if let Some((_, zone)) = ONE_ZONE_COUNTRIES.iter().find(|(c, _)| *c == code) {
        return Evidence::Zone(*zone);
    }
    match regions::region_zone(&code, region) {
        Some(regions::AddressZone::One(zone)) => Evidence::Zone(zone),
        Some(regions::AddressZone::Among {
            zones,
            unknown_region,
        }) => Evidence::Among(zones, unknown_region),
        None => Evidence::Nothing,
    }
}

/// The first zone whose offset at each member's start is the one the
/// member was written with, when some were written with one.
fn zone_of_offsets(members: &[&Candidate]) -> Option<Tz> {
    let written: Vec<(&Candidate, i32)> = members
        .iter()
        .filter_map(|m| Some((*m, m.utc_offset?)))
        .collect();
    if written.is_empty() {
        return None;
    }
    DISTINCT_RULES.into_iter().find(|zone| {
        written.iter().all(|(m, offset)| {
            m.starts_at
                .to_datetime()
                .with_timezone(zone)
                .offset()
                .fix()
                .local_minus_utc()
                == *offset
        })
    })
}

/// The zone, among `candidates`, in which the members' times of day
/// repeat best (their times change at daylight-saving dates only in the
/// zone they were planned in) and fall at hours people meet at; `None`
/// when UTC does as well and no country narrows the candidates. Of zones
/// that do equally well, the first.
fn zone_of_times(members: &[&Candidate], candidates: &[Tz]) -> Option<Tz> {
    let fit = |zone: Tz| {
        let local: Vec<NaiveDateTime> = members
            .iter()
            .map(|m| m.starts_at.to_datetime().with_timezone(&zone).naive_local())
            .collect();
        let mut times: Vec<u32> = local.iter().map(|at| minute_of_day(*at)).collect();
        times.sort_unstable();
        times.dedup();
        let odd_hours: u32 = local.iter().map(|at| odd_hour(at.hour())).sum();
        (times.len(), odd_hours)
    };
    let in_utc = fit(chrono_tz::UTC);
    candidates
        .iter()
        .map(|zone| (fit(*zone), *zone))
        .filter(|(fit, _)| *fit < in_utc || candidates.len() < DISTINCT_RULES.len())
        .min_by_key(|(fit, _)| *fit)
        .map(|(_, zone)| zone)
}

/// How unusual an hour is to start an event at: none from 8 to 22, a
/// little early in the morning or late at night, most at night.
fn odd_hour(hour: u32) -> u32 {
    match hour {
        8..22 => 0,
        6..8 | 22..24 => 1,
        _ => 2,
    }
}

fn minute_of_day(at: NaiveDateTime) -> u32 {
    at.hour() * 60 + at.minute()
}

/// The zone named most often; of zones named equally often, the first.
fn most_common(zones: Vec<Tz>) -> Option<Tz> {
    let mut counts: BTreeMap<&str, (usize, Tz)> = BTreeMap::new();
    for zone in &zones {
        counts.entry(zone.name()).or_insert((0, *zone)).0 += 1;
    }
    let top = counts.values().map(|(n, _)| *n).max()?;
    zones
        .into_iter()
        .find(|zone| counts.get(zone.name()).is_some_and(|(n, _)| *n == top))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn event(n: usize, starts_at: &str, places: Vec<Place>) -> Candidate {
        Candidate {
            uri: format!("at://did:plc:o/community.lexicon.calendar.event/{n}"),
            name: "Meetup".into(),
            starts_at: at(starts_at),
            time_zone: None,
            utc_offset: None,
            description: None,
            places,
        }
    }

    fn geo(latitude: &str, longitude: &str) -> Place {
        Place::Geo {
            latitude: latitude.into(),
            longitude: longitude.into(),
            altitude: None,
            name: None,
        }
    }

    #[test]
    fn coordinates_name_their_zone() {
        let members = [event(
            1,
            "2026-03-02T23:30:00Z",
            vec![geo("40.7128", "-74.0060")],
        )];
        let refs: Vec<&Candidate> = members.iter().collect();
        let inferred = infer(&refs);
        assert_eq!(inferred.zone, chrono_tz::America::New_York);
        assert_eq!(inferred.source, ZoneSource::Location);
    }

    #[test]
    fn a_weekly_time_that_moves_by_an_hour_at_the_us_change_is_new_york_time() {
        // 18:30 in New York: 23:30Z before 8 March 2026, 22:30Z after.
        let members = [
            event(1, "2026-02-24T23:30:00Z", vec![]),
            event(2, "2026-03-03T23:30:00Z", vec![]),
            event(3, "2026-03-10T22:30:00Z", vec![]),
            event(4, "2026-03-17T22:30:00Z", vec![]),
        ];
        let refs: Vec<&Candidate> = members.iter().collect();
        let inferred = infer(&refs);
        assert_eq!(inferred.zone, chrono_tz::America::New_York);
        assert_eq!(inferred.source, ZoneSource::Times);
    }

    #[test]
    fn offsets_written_in_start_times_name_the_zone_they_fit() {
        let mut winter = event(1, "2026-02-24T23:30:00Z", vec![]);
        winter.utc_offset = Some(-5 * 3600);
        let mut summer = event(2, "2026-03-10T22:30:00Z", vec![]);
        summer.utc_offset = Some(-4 * 3600);
        let inferred = infer(&[&winter, &summer]);
        assert_eq!(
            (inferred.zone, inferred.source),
            (chrono_tz::America::New_York, ZoneSource::Offset)
        );
    }

    #[test]
    fn constant_utc_times_and_no_other_evidence_stay_in_utc() {
        let members = [
            event(1, "2026-06-02T18:00:00Z", vec![]),
            event(2, "2026-06-09T18:00:00Z", vec![]),
        ];
        let refs: Vec<&Candidate> = members.iter().collect();
        assert_eq!(infer(&refs).source, ZoneSource::Unknown);
    }

    #[test]
    fn a_zone_that_is_no_zone_is_ignored_and_said() {
        let mut member = event(1, "2026-06-02T18:00:00Z", vec![]);
        member.time_zone = Some("Mars/Olympus_Mons".into());
        let inferred = infer(&[&member]);
        assert_eq!(inferred.source, ZoneSource::Unknown);
        assert_eq!(
            inferred.ignored,
            [
                "at://did:plc:o/community.lexicon.calendar.event/1: time zone \"Mars/Olympus_Mons\" is not an IANA zone"
            ]
        );
    }

    #[test]
    fn a_coordinate_that_is_none_is_ignored_and_said() {
        let members = [event(1, "2026-06-02T18:00:00Z", vec![geo("north", "east")])];
        let refs: Vec<&Candidate> = members.iter().collect();
        let inferred = infer(&refs);
        assert_eq!(inferred.source, ZoneSource::Unknown);
        assert_eq!(
            inferred.ignored,
            [
                "at://did:plc:o/community.lexicon.calendar.event/1: location (\"north\", \"east\") is not a coordinate"
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_zone_name_coordinate_or_address_text_infers_a_zone_without_panicking(
            zone in proptest::option::of(".{0,40}"),
            latitude in "[-+0-9.eE]{0,12}|.{0,12}",
            longitude in "[-+0-9.eE]{0,12}|.{0,12}",
            country in "US|us|BR|AU|[A-Z]{2}|.{0,6}",
            region in proptest::option::of("[A-Z]{2,3}|[A-Z]{2}-[A-Z]{2}|.{0,24}"),
            seconds in 0i64..4_000_000_000,
        ) {
            let address = Place::Address {
                country,
                postal_code: None,
                region,
                locality: None,
                street: None,
                name: None,
            };
            let mut member = event(
                1,
                "2026-01-01T00:00:00Z",
                vec![geo(&latitude, &longitude), address],
            );
            member.starts_at = Timestamp::from_unix_micros(seconds * 1_000_000);
            member.time_zone = zone;
            let named = member.time_zone.as_deref().and_then(|name| time_zone(name).ok());
            let inferred = infer(&[&member]);
            match named {
                Some(zone) => proptest::prop_assert_eq!(
                    (inferred.zone, inferred.source),
                    (zone, ZoneSource::Record)
                ),
                None => proptest::prop_assert_ne!(inferred.source, ZoneSource::Record),
            }
        }
    }

    #[test]
    fn a_region_names_its_zone_and_one_nobody_knows_is_said() {
        let address = |region: &str| {
            vec![Place::Address {
                country: "US".into(),
                postal_code: None,
                region: Some(region.into()),
                locality: None,
                street: None,
                name: None,
            }]
        };
        // A weekly 19:00 in Denver, before and after the US change.
        let colorado = [
            event(1, "2026-03-03T02:00:00Z", address("Colorado")),
            event(2, "2026-03-10T01:00:00Z", address("Colorado")),
        ];
        let inferred = infer(&colorado.iter().collect::<Vec<_>>());
        assert_eq!(
            (inferred.zone, inferred.source),
            (chrono_tz::America::Denver, ZoneSource::Location)
        );
        let unknown = [
            event(1, "2026-03-03T02:00:00Z", address("Atlantis")),
            event(2, "2026-03-10T01:00:00Z", address("Atlantis")),
        ];
        let inferred = infer(&unknown.iter().collect::<Vec<_>>());
        assert_eq!(inferred.source, ZoneSource::Times);
        assert!(
            regions::country_zones("US")
                .unwrap()
                .contains(&inferred.zone),
            "{inferred:?}"
        );
        assert_eq!(
            inferred.ignored[0],
            "at://did:plc:o/community.lexicon.calendar.event/1: region \"Atlantis\" is not one \
             whose zone is known; the zone is read from the times among its country's"
        );
    }

    #[test]
    fn an_address_in_a_one_zone_country_names_it() {
        let address = Place::Address {
            country: "de".into(),
            postal_code: None,
            region: None,
            locality: Some("Potsdam".into()),
            street: None,
            name: None,
        };
        let members = [event(1, "2026-06-02T18:00:00Z", vec![address])];
        let refs: Vec<&Candidate> = members.iter().collect();
        assert_eq!(infer(&refs).zone, chrono_tz::Europe::Berlin);
    }
}
