//! Detection scores each pair of consecutive members as well as the group,
//! signal by signal.

use chrono::{NaiveDate, TimeZone};
use domain::Timestamp;
use domain::recurrence::time_zone;
use domain::series_detection::{Candidate, DetectionConfig, detect};

fn meetup(rkey: &str, name: &str, day: u32, hour: u32, description: Option<&str>) -> Candidate {
    let local = NaiveDate::from_ymd_opt(2026, 12, day)
        .unwrap()
        .and_hms_opt(hour, 0, 0)
        .unwrap();
    let zone = time_zone("Europe/Berlin").unwrap();
    Candidate {
        uri: format!("at://did:plc:pairs/community.lexicon.calendar.event/{rkey}"),
        name: name.into(),
        starts_at: Timestamp::from_datetime(
            zone.from_local_datetime(&local)
                .earliest()
                .unwrap()
                .to_utc(),
        ),
        time_zone: Some("Europe/Berlin".into()),
        utc_offset: None,
        description: description.map(Into::into),
        places: vec![],
    }
}

#[test]
fn every_consecutive_pair_is_scored_and_a_moved_member_lowers_its_pairs() {
    let talk = Some("Talks and pizza at c-base");
    let events = vec![
        meetup("a", "Rust Meetup #1", 1, 19, talk),
        meetup("b", "Rust Meetup #2", 8, 19, talk),
        // Moved from Tuesday the 15th to Wednesday the 16th.
        meetup(
            "c",
            "Rust Meetup #3 (moved)",
            16,
            19,
            Some("Talks and pizza, one day later"),
        ),
        meetup("d", "Rust Meetup #4", 22, 19, talk),
        meetup("e", "Rust Meetup #5", 29, 19, talk),
    ];
    let proposals = detect(&events, &DetectionConfig::default());
    assert_eq!(proposals.len(), 1, "{proposals:?}");
    let pairs = &proposals[0].explanation.pairs;
    assert_eq!(pairs.len(), 4);
    assert!(pairs[0].from.ends_with("/a") && pairs[0].to.ends_with("/b"));
    assert_eq!(
        pairs.iter().map(|p| p.on_rule).collect::<Vec<_>>(),
        [true, false, false, true]
    );
    assert_eq!(
        (
            pairs[0].name_similarity,
            pairs[0].time_of_day,
            pairs[0].description_similarity
        ),
        (1.0, 1.0, Some(1.0))
    );
    assert_eq!(pairs[0].score, 1.0);
    assert!(pairs[1].score < pairs[0].score, "{pairs:?}");
    assert!(pairs[1].description_similarity.unwrap() < 1.0);
}
