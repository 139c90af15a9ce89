//! One seed, one scenario: an organizer's series drawn from the model, its
//! perturbations and the noise around it, with the truth.

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::places::{self, PlaceMode, SITES, Site};

/// The shape of a series' rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleKind {
    /// Every week.
    Weekly,
    /// Every 2 to 4 weeks.
    EveryFewWeeks,
    /// Monthly on the first to fourth weekday.
    NthWeekday,
    /// Monthly on the last weekday.
    LastWeekday,
    /// Monthly on a day of the month.
    MonthDay,
}

impl RuleKind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Weekly => "weekly",
            RuleKind::EveryFewWeeks => "every 2-4 weeks",
            RuleKind::NthWeekday => "monthly, n-th weekday",
            RuleKind::LastWeekday => "monthly, last weekday",
            RuleKind::MonthDay => "monthly, day of month",
        }
    }
}

/// What was done to a series after its rule gave its dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Perturbation {
    /// Nothing.
    Clean,
    /// One or two dates with no event.
    Skipped,
    /// The dates around the new year with no event.
    Holiday,
    /// One occurrence moved by a day or two.
    Moved,
    /// One occurrence moved and another cancelled.
    MovedAndCancelled,
    /// One occurrence starting later than the others.
    LateStart,
    /// Numbering, topics and asides in the names.
    NameVariants,
    /// Descriptions that have little in common.
    RewrittenDescriptions,
    /// One or two occurrences at another venue.
    VenueChanged,
    /// Only three occurrences.
    ThreeEvents,
    /// One-offs and specials by the same organizer.
    NoiseSameOrganizer,
    /// The same name used by another DID.
    SameNameOtherDid,
    /// A busy feed: many unrelated events from several DIDs.
    NoisyFeed,
}

impl Perturbation {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Perturbation::Clean => "none",
            Perturbation::Skipped => "skipped dates",
            Perturbation::Holiday => "holiday break",
            Perturbation::Moved => "one moved",
            Perturbation::MovedAndCancelled => "one moved, one cancelled",
            Perturbation::LateStart => "one late start",
            Perturbation::NameVariants => "name variants",
            Perturbation::RewrittenDescriptions => "descriptions rewritten",
            Perturbation::VenueChanged => "venue changed",
            Perturbation::ThreeEvents => "only three events",
            Perturbation::NoiseSameOrganizer => "one-offs by the organizer",
            Perturbation::SameNameOtherDid => "same name, other DID",
            Perturbation::NoisyFeed => "noisy feed",
        }
    }
}

/// A calendar event record as a client writes it.
#[derive(Clone, Debug)]
pub struct Record {
    /// Its AT-URI.
    pub uri: String,
    /// The record, JSON.
    pub json: String,
}

/// A series the model put in a scenario.
#[derive(Clone, Debug)]
pub struct TrueSeries {
    /// Its members.
    pub uris: Vec<String>,
    /// `DTSTART;TZID=…` and `RRULE:…` lines.
    pub rrule: String,
    /// Its rule's shape.
    pub kind: RuleKind,
    /// How its records say where.
    pub place: PlaceMode,
    /// What was done to it.
    pub perturbations: Vec<Perturbation>,
    /// When its last member starts.
    pub last: domain::Timestamp,
}

/// One seed's records and the series among them.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The seed.
    pub seed: u64,
    /// Every record, series members and noise, shuffled.
    pub records: Vec<Record>,
    /// The series.
    pub series: Vec<TrueSeries>,
}

const NAMES: [&str; 20] = [
    "Rust Meetup",
    "Python Pub Night",
    "Board Game Evening",
    "Women in Tech Breakfast",
    "Open Mic Night",
    "Book Club",
    "Morning Run Club",
    "Community Garden Workday",
    "JavaScript Study Group",
    "Climate Action Circle",
    "Photography Walk",
    "Chess in the Park",
    "Makerspace Open Night",
    "Salsa Social",
    "Founders Coffee",
    "Repair Café",
    "Indie Game Dev Night",
    "Data Science Reading Group",
    "Sketching Session",
    "Language Exchange",
];

const ONE_OFFS: [&str; 16] = [
    "Product Launch Party",
    "Annual General Meeting",
    "Hackathon Weekend",
    "Holiday Party",
    "Talk: Scaling Postgres",
    "Workshop on Accessible Design",
    "Charity Fun Run",
    "Summer Picnic",
    "Panel: The Future of Open Source",
    "Film Screening",
    "Volunteer Orientation",
    "Fundraising Gala",
    "Job Fair",
    "Conference Afterparty",
    "Town Hall",
    "Art Exhibition Opening",
];

const TOPICS: [&str; 10] = [
    "Async in Practice",
    "Lightning Talks",
    "Beginners Welcome",
    "Embedded Special",
    "Year in Review",
    "Guest Speaker",
    "Hands-on Session",
    "Q&A",
    "Project Showcase",
    "Open Discussion",
];

const BLURBS: [&str; 12] = [
    "Join us for an evening of talks and conversation. Everyone is welcome, bring a friend.",
    "Our regular get-together: snacks provided, laptops optional, curiosity required.",
    "This time we look back at the year and plan the next one. Drinks afterwards.",
    "Doors open 15 minutes early. Please register so we know how many chairs to set up.",
    "A relaxed session for newcomers and regulars alike; no experience needed.",
    "We have a guest from out of town! Expect a longer session than usual.",
    "Bring your own project and get feedback from the group.",
    "Weather permitting we meet outside; otherwise in the usual room.",
    "Free entry. Children are welcome with an adult.",
    "Please note the new entrance around the back of the building.",
    "Short talks, long breaks, good company.",
    "The venue is step-free. Contact us if you need anything to take part.",
];

/// Draws the scenario of `seed`.
pub fn scenario(seed: u64) -> Scenario {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = Draw {
        rng: &mut rng,
        seed,
        records: vec![],
        rkeys: 0,
    };
    let organizer = format!("did:plc:model{seed:08}a");
    let perturbations = draw.perturbations();
    let site = *SITES.choose(draw.rng).expect("sites");
    let place = PlaceMode::draw(draw.rng);
    let name = draw.series_name(&site);
    let mut series = vec![draw.series(&organizer, &name, &site, place, &perturbations)];
    let (first, last) = series_span(&draw.records);
    if perturbations.contains(&Perturbation::NoiseSameOrganizer) {
        draw.noise_by(&organizer, &name, &site, place, first, last, 3..9);
    }
    if perturbations.contains(&Perturbation::SameNameOtherDid) {
        let other = format!("did:plc:model{seed:08}b");
        if draw.rng.random_bool(0.5) {
            let quiet = vec![Perturbation::Clean];
            let mut theirs = draw.series(&other, &name, &site, place, &quiet);
            theirs.perturbations = vec![Perturbation::SameNameOtherDid];
            series.push(theirs);
        } else {
            for _ in 0..draw.rng.random_range(2..5) {
                let at = draw.time_between(first, last);
                draw.record(&other, &name, at, &site, place, 0, None);
            }
        }
    }
    if perturbations.contains(&Perturbation::NoisyFeed) {
        draw.noise_by(&organizer, &name, &site, place, first, last, 5..11);
        for n in 0..5 {
            let other = format!("did:plc:model{seed:08}n{n}");
            draw.noise_by(&other, &name, &site, place, first, last, 3..9);
        }
    }
    let mut records = draw.records;
    shuffle(&mut records, &mut rng);
    Scenario {
        seed,
        records,
        series,
    }
}

fn shuffle(records: &mut [Record], rng: &mut StdRng) {
    use rand::seq::SliceRandom;
    records.shuffle(rng);
}

fn series_span(records: &[Record]) -> (NaiveDateTime, NaiveDateTime) {
    let starts: Vec<NaiveDateTime> = records
        .iter()
        .filter_map(|record| {
            let value: Value = serde_json::from_str(&record.json).ok()?;
            chrono::DateTime::parse_from_rfc3339(value["startsAt"].as_str()?)
                .ok()
                .map(|at| at.naive_utc())
        })
        .collect();
    let first = starts.iter().min().copied().unwrap_or_default();
    let last = starts.iter().max().copied().unwrap_or_default();
    (first, last)
}

struct Draw<'a> {
    rng: &'a mut StdRng,
    seed: u64,
    records: Vec<Record>,
    rkeys: usize,
}

impl Draw<'_> {
    fn perturbations(&mut self) -> Vec<Perturbation> {
        use Perturbation::*;
        const ALL: [Perturbation; 12] = [
            Skipped,
            Holiday,
            Moved,
            MovedAndCancelled,
            LateStart,
            NameVariants,
            RewrittenDescriptions,
            VenueChanged,
            ThreeEvents,
            NoiseSameOrganizer,
            SameNameOtherDid,
            NoisyFeed,
        ];
        let count = self.rng.random_range(0..=2);
        let mut chosen: Vec<Perturbation> = vec![];
        while chosen.len() < count {
            let next = *ALL.choose(self.rng).expect("perturbations");
            let alters_dates = |p: &Perturbation| {
                matches!(
                    p,
                    Skipped | Holiday | Moved | MovedAndCancelled | LateStart | ThreeEvents
                )
            };
            if chosen.contains(&next) || (alters_dates(&next) && chosen.iter().any(alters_dates)) {
                continue;
            }
            chosen.push(next);
        }
        if chosen.is_empty() {
            chosen.push(Clean);
        }
        chosen.sort();
        chosen
    }

    fn series_name(&mut self, site: &Site) -> String {
        let name = *NAMES.choose(self.rng).expect("names");
        if self.rng.random_bool(0.3) {
            format!("{} {name}", site.locality)
        } else {
            name.to_owned()
        }
    }

    /// Draws a series of `organizer` called `name`, writes its records and
    /// returns its truth.
    fn series(
        &mut self,
        organizer: &str,
        name: &str,
        site: &Site,
        place: PlaceMode,
        perturbations: &[Perturbation],
    ) -> TrueSeries {
        use Perturbation::*;
        let kind = match self.rng.random_range(0..100) {
            0..35 => RuleKind::Weekly,
            35..50 => RuleKind::EveryFewWeeks,
            50..70 => RuleKind::NthWeekday,
            70..85 => RuleKind::LastWeekday,
            _ => RuleKind::MonthDay,
        };
        let time = self.local_time();
        let holiday = perturbations.contains(&Holiday);
        let start = if holiday {
            NaiveDate::from_ymd_opt(self.rng.random_range(2025..=2026), 10, 1).expect("date")
                + Duration::days(self.rng.random_range(0..45))
        } else {
            NaiveDate::from_ymd_opt(2025, 1, 6).expect("date")
                + Duration::days(self.rng.random_range(0..700))
        };
        let count = if perturbations.contains(&ThreeEvents) {
            3
        } else {
            match kind {
                RuleKind::Weekly => self.rng.random_range(6..=16),
                RuleKind::EveryFewWeeks => self.rng.random_range(5..=10),
                _ => self.rng.random_range(4..=10),
            }
        };
        let weeks = match kind {
            RuleKind::EveryFewWeeks => self.rng.random_range(2..=4),
            _ => 1,
        };
        let (rule, dates) = rule_dates(kind, weeks, start, count);
        let mut planned: Vec<NaiveDateTime> = dates.iter().map(|d| d.and_time(time)).collect();
        let mut members: Vec<(NaiveDateTime, bool)> =
            planned.iter().map(|at| (*at, false)).collect();
        if holiday {
            // A few more dates, so that the break leaves as many members.
            let (_, more) = rule_dates(kind, weeks, start, count + 3);
            let more: Vec<NaiveDateTime> = more.iter().map(|d| d.and_time(time)).collect();
            let kept: Vec<(NaiveDateTime, bool)> = more
                .iter()
                .filter(|at| !around_new_year(at))
                .map(|at| (*at, false))
                .collect();
            if kept.len() < more.len() && kept.first().map(|k| k.0) == more.first().copied() {
                planned = more;
                members = kept;
            }
        }
        // Each member: its wall time and whether it is off the rule.
        let interior = |rng: &mut StdRng, len: usize| rng.random_range(1..len - 1);
        if perturbations.contains(&Skipped) && members.len() >= 5 {
            let drops = if members.len() >= 8 { 2 } else { 1 };
            for _ in 0..drops {
                let n = interior(self.rng, members.len());
                members.remove(n);
            }
        }
        if perturbations.contains(&Moved) || perturbations.contains(&MovedAndCancelled) {
            let n = interior(self.rng, members.len());
            let days = *[-2i64, -1, 1, 2].choose(self.rng).expect("days");
            let days = if matches!(kind, RuleKind::Weekly) {
                days.signum()
            } else {
                days
            };
            members[n] = (members[n].0 + Duration::days(days), true);
            if perturbations.contains(&MovedAndCancelled) && members.len() >= 5 {
                let cancelled = (1..members.len() - 1)
                    .filter(|m| *m != n)
                    .collect::<Vec<_>>();
                let m = *cancelled.choose(self.rng).expect("a member to cancel");
                members.remove(m);
            }
        }
        if perturbations.contains(&LateStart) {
            let n = interior(self.rng, members.len());
            let minutes = *[30i64, 60].choose(self.rng).expect("minutes");
            members[n] = (members[n].0 + Duration::minutes(minutes), true);
        }
        let variants = perturbations.contains(&NameVariants);
        let rewritten = perturbations.contains(&RewrittenDescriptions);
        let venue_changes: Vec<usize> = if perturbations.contains(&VenueChanged) {
            (0..self.rng.random_range(1..=2))
                .map(|_| self.rng.random_range(0..members.len()))
                .collect()
        } else {
            vec![]
        };
        let base_blurb = *BLURBS.choose(self.rng).expect("blurbs");
        let venue = self.rng.random_range(0..4);
        let mut uris = vec![];
        for (n, (at, _)) in members.iter().enumerate() {
            let title = if variants {
                self.variant(name, n, at)
            } else {
                name.to_owned()
            };
            let blurb = if rewritten {
                format!(
                    "{} {}",
                    BLURBS.choose(self.rng).expect("blurbs"),
                    TOPICS.choose(self.rng).expect("topics")
                )
            } else {
                base_blurb.to_owned()
            };
            let venue = if venue_changes.contains(&n) {
                venue + 4
            } else {
                venue
            };
            uris.push(self.record(
                organizer,
                &title,
                zoned(site.zone, *at),
                site,
                place,
                venue,
                Some(&blurb),
            ));
        }
        let rrule = truth(site.zone, planned[0], &rule, &planned, &members);
        let last = members
            .iter()
            .map(|(at, _)| *at)
            .max()
            .unwrap_or(planned[0]);
        TrueSeries {
            last: domain::Timestamp::from_datetime(zoned(site.zone, last)),
            uris,
            rrule,
            kind,
            place,
            perturbations: perturbations.to_vec(),
        }
    }

    /// A local start time: mornings, lunches, and mostly evenings, late
    /// ones included (they change the UTC day west and east of Greenwich).
    fn local_time(&mut self) -> NaiveTime {
        let hour = match self.rng.random_range(0..100) {
            0..15 => self.rng.random_range(7..=10),
            15..30 => self.rng.random_range(11..=16),
            30..70 => self.rng.random_range(17..=19),
            _ => self.rng.random_range(20..=22),
        };
        let minute = *[0, 0, 0, 30, 30, 15, 45].choose(self.rng).expect("minutes");
        NaiveTime::from_hms_opt(hour, minute, 0).expect("time")
    }

    fn variant(&mut self, name: &str, n: usize, at: &NaiveDateTime) -> String {
        let month = at.format("%B").to_string();
        match self.rng.random_range(0..5) {
            0 => format!("{name} #{}", n + 12),
            1 => format!("{name}: {}", TOPICS.choose(self.rng).expect("topics")),
            2 => format!("{name} – {month}"),
            3 => format!("{name} ({})", TOPICS.choose(self.rng).expect("topics")),
            _ => format!("{month} {name}"),
        }
    }

    /// One-offs by `did` between `first` and `last` (UTC): unrelated
    /// names, and specials that share the series' name.
    #[allow(clippy::too_many_arguments)]
    fn noise_by(
        &mut self,
        did: &str,
        series: &str,
        site: &Site,
        place: PlaceMode,
        first: NaiveDateTime,
        last: NaiveDateTime,
        count: std::ops::Range<usize>,
    ) {
        for _ in 0..self.rng.random_range(count) {
            let at = self.time_between(first, last);
            let name = if self.rng.random_bool(0.25) {
                format!("{series}: {}", ONE_OFFS.choose(self.rng).expect("one-offs"))
            } else {
                (*ONE_OFFS.choose(self.rng).expect("one-offs")).to_owned()
            };
            let blurb = *BLURBS.choose(self.rng).expect("blurbs");
            let venue = self.rng.random_range(0..8);
            self.record(did, &name, at, site, place, venue, Some(blurb));
        }
    }

    fn time_between(
        &mut self,
        first: NaiveDateTime,
        last: NaiveDateTime,
    ) -> chrono::DateTime<chrono::Utc> {
        let span = (last - first).num_minutes().max(60);
        let at = first + Duration::minutes(self.rng.random_range(0..span) / 15 * 15);
        chrono::Utc.from_utc_datetime(&at)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        did: &str,
        name: &str,
        at: chrono::DateTime<chrono::Utc>,
        site: &Site,
        place: PlaceMode,
        venue: usize,
        description: Option<&str>,
    ) -> String {
        self.rkeys += 1;
        let uri = format!(
            "at://{did}/community.lexicon.calendar.event/3m{:06}{:04}",
            self.seed % 1_000_000,
            self.rkeys
        );
        let mut record = json!({
            "$type": "community.lexicon.calendar.event",
            "name": name,
            "createdAt": (at - Duration::days(14)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "startsAt": at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "endsAt": (at + Duration::hours(2)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "status": "community.lexicon.calendar.event#scheduled",
        });
        let locations = places::locations(site, place, venue, self.rng);
        record["mode"] = json!(if place == PlaceMode::Nothing {
            "community.lexicon.calendar.event#virtual"
        } else {
            "community.lexicon.calendar.event#inperson"
        });
        if locations.as_array().is_some_and(|l| !l.is_empty()) {
            record["locations"] = locations;
        }
        if let Some(description) = description {
            record["description"] = json!(description);
        }
        self.records.push(Record {
            uri: uri.clone(),
            json: record.to_string(),
        });
        uri
    }
}

fn zoned(zone: Tz, local: NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    zone.from_local_datetime(&local)
        .earliest()
        .expect("the model's times avoid the hours clocks skip")
        .to_utc()
}

fn around_new_year(at: &NaiveDateTime) -> bool {
    let (month, day) = (at.month(), at.day());
    (month == 12 && day >= 22) || (month == 1 && day <= 3)
}

/// `count` dates of a `kind` rule (every `weeks` weeks when weekly) from
/// `start`, and its RRULE value.
fn rule_dates(
    kind: RuleKind,
    weeks: i64,
    start: NaiveDate,
    count: usize,
) -> (String, Vec<NaiveDate>) {
    let code = |day: Weekday| day.to_string().to_uppercase()[..2].to_owned();
    match kind {
        RuleKind::Weekly | RuleKind::EveryFewWeeks => {
            let dates = (0..count)
                .map(|n| start + Duration::weeks(weeks * n as i64))
                .collect();
            let rule = if weeks == 1 {
                format!("FREQ=WEEKLY;BYDAY={}", code(start.weekday()))
            } else {
                format!(
                    "FREQ=WEEKLY;INTERVAL={weeks};BYDAY={}",
                    code(start.weekday())
                )
            };
            (rule, dates)
        }
        RuleKind::NthWeekday | RuleKind::LastWeekday => {
            let nth: i8 = if kind == RuleKind::LastWeekday {
                -1
            } else {
                ((start.day0() / 7) as i8 + 1).min(4)
            };
            let weekday = start.weekday();
            let month = start.with_day(1).expect("first of the month");
            let dates = (0..count as u32)
                .filter_map(|n| nth_weekday(month + Months::new(n), weekday, nth))
                .collect();
            (format!("FREQ=MONTHLY;BYDAY={nth}{}", code(weekday)), dates)
        }
        RuleKind::MonthDay => {
            let day = start.day().min(28);
            let month = start.with_day(1).expect("first of the month");
            let dates = (0..count as u32)
                .filter_map(|n| (month + Months::new(n)).with_day(day))
                .collect();
            (format!("FREQ=MONTHLY;BYMONTHDAY={day}"), dates)
        }
    }
}

fn nth_weekday(month: NaiveDate, weekday: Weekday, nth: i8) -> Option<NaiveDate> {
    if nth > 0 {
        NaiveDate::from_weekday_of_month_opt(month.year(), month.month(), weekday, nth as u8)
    } else {
        let mut date = (month + Months::new(1)).pred_opt()?;
        while date.weekday() != weekday {
            date = date.pred_opt()?;
        }
        Some(date)
    }
}

/// The truth's rule: DTSTART at the first planned date, the RRULE, the
/// planned dates no member took as EXDATE and the members off the rule as
/// RDATE.
fn truth(
    zone: Tz,
    start: NaiveDateTime,
    rule: &str,
    planned: &[NaiveDateTime],
    members: &[(NaiveDateTime, bool)],
) -> String {
    let stamp = |at: &NaiveDateTime| at.format("%Y%m%dT%H%M%S").to_string();
    let name = zone.name();
    let mut text = format!("DTSTART;TZID={name}:{}\nRRULE:{rule}", stamp(&start));
    let last = members.iter().map(|(at, _)| *at).max().unwrap_or(start);
    let exdates: Vec<String> = planned
        .iter()
        .filter(|at| **at <= last && !members.iter().any(|(m, off)| !off && m == *at))
        .map(stamp)
        .collect();
    if !exdates.is_empty() {
        text.push_str(&format!("\nEXDATE;TZID={name}:{}", exdates.join(",")));
    }
    let rdates: Vec<String> = members
        .iter()
        .filter(|(_, off)| *off)
        .map(|(at, _)| stamp(at))
        .collect();
    if !rdates.is_empty() {
        text.push_str(&format!("\nRDATE;TZID={name}:{}", rdates.join(",")));
    }
    text
}
