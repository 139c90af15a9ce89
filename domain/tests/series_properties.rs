//! Series detection as properties: a generated series is found with its
//! rule whatever its zone, start and skipped date, the order in which
//! events arrive changes nothing, and records with anything in their
//! times, zones and places are read or refused by name, never a panic.

use chrono::{Duration, NaiveDate, TimeZone};
use domain::Timestamp;
use domain::recurrence::time_zone;
use domain::series_detection::{Candidate, DetectionConfig, detect};
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "UTC",
];

fn candidate(uri: String, name: String, local: chrono::NaiveDateTime, zone: &str) -> Candidate {
    let tz = time_zone(zone).unwrap();
    Candidate {
        uri,
        name,
        starts_at: Timestamp::from_datetime(
            tz.from_local_datetime(&local).earliest().unwrap().to_utc(),
        ),
        time_zone: Some(zone.to_owned()),
        utc_offset: None,
        description: None,
        places: vec![],
    }
}

prop_compose! {
    /// A weekly or fortnightly series of 4 to 10 events with at most one
    /// date skipped, in some zone, at some hour.
    fn series()(
        zone in prop::sample::select(ZONES),
        day in 0i64..365,
        hour in 7u32..22,
        every in 1i64..=2,
        count in 4usize..=10,
        skip in prop::option::of(1usize..3),
    ) -> (Vec<Candidate>, String) {
        let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(day);
        let start = first.and_hms_opt(hour, 0, 0).unwrap();
        let events = (0..count)
            .filter(|n| Some(*n) != skip)
            .map(|n| {
                let at = start + Duration::weeks(every * n as i64);
                candidate(format!("at://did:plc:p/community.lexicon.calendar.event/e{n}"), format!("Meetup #{n}"), at, zone)
            })
            .collect();
        let weekday = format!("{}", first.format("%a")).to_uppercase()[..2].to_owned();
        let rule = if every == 1 {
            format!("RRULE:FREQ=WEEKLY;BYDAY={weekday}")
        } else {
            format!("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY={weekday}")
        };
        (events, rule)
    }
}

proptest! {
    #[test]
    fn a_generated_series_is_found_with_its_rule((events, rule) in series()) {
        let proposals = detect(&events, &DetectionConfig::default());
        prop_assert_eq!(proposals.len(), 1, "{:#?}", proposals);
        let uris: Vec<String> = events.iter().map(|e| e.uri.clone()).collect();
        prop_assert_eq!(&proposals[0].uris, &uris);
        prop_assert!(proposals[0].rrule.contains(&rule), "{} lacks {}", proposals[0].rrule, rule);
    }

    #[test]
    fn arrival_order_changes_nothing((events, _) in series(), seed in any::<u64>()) {
        let mut shuffled = events.clone();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for n in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(n, (state % (n as u64 + 1)) as usize);
        }
        let config = DetectionConfig::default();
        prop_assert_eq!(detect(&events, &config), detect(&shuffled, &config));
    }

    #[test]
    fn records_with_anything_in_times_zones_and_places_never_panic(
        starts in "2026-0[1-9]-[0-2][0-9]T[0-2][0-9]:[0-5][0-9]:00(Z|[+-][01][0-9]:[0-5][0-9])|.{0,30}",
        zone in proptest::option::of("Europe/Berlin|America/New_York|.{0,30}"),
        country in "US|BR|DE|[A-Z]{2}|.{0,6}",
        region in "NY|Texas|[A-Z]{2,3}|.{0,20}",
        latitude in "-?[0-9]{1,3}\\.[0-9]{1,4}|.{0,10}",
        longitude in "-?[0-9]{1,3}\\.[0-9]{1,4}|.{0,10}",
    ) {
        let record = |week: i64| {
            serde_json::json!({
                "$type": "community.lexicon.calendar.event",
                "name": "Meetup",
                "createdAt": "2026-01-01T00:00:00Z",
                "startsAt": shifted(&starts, week),
                "timezone": zone,
                "locations": [
                    {"$type": "community.lexicon.location.address", "country": country, "region": region},
                    {"$type": "community.lexicon.location.geo", "latitude": latitude, "longitude": longitude},
                ],
            })
            .to_string()
        };
        let mut candidates = vec![];
        for week in 0..4 {
            let uri = format!("at://did:plc:o/community.lexicon.calendar.event/w{week}");
            match Candidate::from_record(&uri, &record(week)) {
                Ok(candidate) => candidates.push(candidate),
                Err(why) => prop_assert!(why.contains(&uri), "{why}"),
            }
        }
        for proposal in detect(&candidates, &DetectionConfig::default()) {
            prop_assert!(proposal.uris.len() >= 3);
            prop_assert!(domain::recurrence::Recurrence::from_ical(&proposal.rrule).is_ok());
        }
    }
}

/// `starts` a week later per `week` when it is an RFC 3339 time, else as
/// it is.
fn shifted(starts: &str, week: i64) -> String {
    match chrono::DateTime::parse_from_rfc3339(starts) {
        Ok(at) => (at + Duration::weeks(week)).to_rfc3339(),
        Err(_) => starts.to_owned(),
    }
}
