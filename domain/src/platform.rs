//! OpenMeet's own series and events, as its backend sends them (the fields
//! of openmeet-api's `CreateEventSeriesDto`, `RecurrenceRuleDto` and
//! `CreateEventDto`), checked field by field and turned into the series and
//! occurrence deciders' commands. A refusal names the field as OpenMeet
//! names it. Each keeps OpenMeet's id: its local id derives from it, so a
//! retried creation finds the first one.

use chrono::{NaiveDate, NaiveTime, TimeZone};
use thiserror::Error;

use crate::envelope::{Origin, derived_uuid};
use crate::occurrence::{
    EventDetails, Link, Mode, Occurrence, OccurrenceCommand, OccurrenceId, Place, Status,
};
use crate::publishing::{Visibility, occurrence_details, series_occurrence};
use crate::recurrence::{Recurrence, local_or_instant, time_zone};
use crate::series::{Series, SeriesCommand, SeriesId};
use crate::slug::slug;
use crate::time::Timestamp;

/// The most occurrences a bounded rule may yield.
pub const MAX_OCCURRENCES: u16 = 10_000;
/// The longest name, in bytes.
pub const MAX_NAME: usize = 1_000;
/// The longest description, in bytes.
pub const MAX_DESCRIPTION: usize = 30_000;
/// The country of an address OpenMeet gives as free text: ISO 3166's
/// user-assigned code for an unknown country (the lexicon requires one).
pub const UNKNOWN_COUNTRY: &str = "ZZ";

/// When a series recurs, as OpenMeet's `RecurrenceRuleDto` says it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecurrenceRule {
    /// `DAILY`, `WEEKLY`, `MONTHLY` or `YEARLY`.
    pub frequency: String,
    /// Every how many periods (1 when absent).
    pub interval: Option<u32>,
    /// How many occurrences in all.
    pub count: Option<u32>,
    /// The last day (or instant) an occurrence may start.
    pub until: Option<String>,
    /// Weekdays (`MO` … `SU`, with an ordinal for monthly rules: `2TU`, `-1FR`).
    pub byweekday: Vec<String>,
    /// Days of the month (1 to 31, or -31 to -1 from the end).
    pub bymonthday: Vec<i32>,
    /// Months (1 to 12).
    pub bymonth: Vec<u32>,
}

/// A series as OpenMeet creates it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeriesDraft {
    /// OpenMeet's own id of the series.
    pub openmeet_id: String,
    /// Its name.
    pub name: String,
    /// Its URL name; derived from the name and id when absent.
    pub slug: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// The IANA zone its wall times are kept in (`UTC` when absent).
    pub time_zone: Option<String>,
    /// When it recurs.
    pub recurrence_rule: RecurrenceRule,
    /// The first occurrence's start: an RFC 3339 instant, or a wall time in
    /// `time_zone`.
    pub template_start_date: String,
    /// The first occurrence's end.
    pub template_end_date: Option<String>,
    /// `in-person`, `online` or `hybrid`.
    pub template_type: String,
    /// Where, as free text.
    pub template_location: Option<String>,
    /// Where online: a URL.
    pub template_location_online: Option<String>,
    /// `public`, `authenticated` or `private` (public when absent).
    pub visibility: Option<String>,
}

/// A standalone event as OpenMeet creates it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventDraft {
    /// OpenMeet's own id of the event.
    pub openmeet_id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The IANA zone its wall times are kept in (`UTC` when absent).
    pub time_zone: Option<String>,
    /// Its start: an RFC 3339 instant, or a wall time in `time_zone`.
    pub start_date: String,
    /// Its end.
    pub end_date: Option<String>,
    /// `in-person`, `online` or `hybrid`.
    pub kind: String,
    /// Where, as free text.
    pub location: Option<String>,
    /// Where online: a URL.
    pub location_online: Option<String>,
    /// Degrees north of the place, with `lon`.
    pub lat: Option<f64>,
    /// Degrees east of the place, with `lat`.
    pub lon: Option<f64>,
    /// `draft`, `pending`, `published` or `cancelled`.
    pub status: Option<String>,
    /// `public`, `authenticated` or `private` (public when absent).
    pub visibility: Option<String>,
}

/// What OpenMeet names the fields of a series' or an event's content.
struct Names {
    start: &'static str,
    end: &'static str,
    kind: &'static str,
    location: &'static str,
    online: &'static str,
}

const SERIES: Names = Names {
    start: "templateStartDate",
    end: "templateEndDate",
    kind: "templateType",
    location: "templateLocation",
    online: "templateLocationOnline",
};

const EVENT: Names = Names {
    start: "startDate",
    end: "endDate",
    kind: "type",
    location: "location",
    online: "locationOnline",
};

/// A draft that cannot become a series or an event: which field, and why.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{field}: {reason}")]
pub struct Refused {
    /// The field, as OpenMeet names it (`recurrenceRule.byweekday[1]`).
    pub field: String,
    /// Why.
    pub reason: String,
}

fn refused(field: impl Into<String>, reason: impl Into<String>) -> Refused {
    Refused {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Refuses an owner that is not a DID.
pub fn owner_did(did: &str) -> Result<(), Refused> {
    if schemas::formats::is_did(did) {
        Ok(())
    } else {
        Err(refused("ownerDid", format!("{did:?} is not a DID")))
    }
}

/// The local id of the series OpenMeet knows as `openmeet_id`.
pub fn series_id(openmeet_id: &str) -> SeriesId {
    SeriesId(derived_uuid("openmeet-series", openmeet_id))
}

/// The local id of the standalone event OpenMeet knows as `openmeet_id`.
pub fn occurrence_id(openmeet_id: &str) -> OccurrenceId {
    OccurrenceId(derived_uuid("openmeet-event", openmeet_id))
}

/// What a series or an event holds, as its draft gives it.
#[derive(Default)]
struct Content<'a> {
    openmeet_id: &'a str,
    name: &'a str,
    description: Option<&'a str>,
    time_zone: Option<&'a str>,
    start: &'a str,
    end: Option<&'a str>,
    kind: &'a str,
    location: Option<&'a str>,
    online: Option<&'a str>,
}

/// The content's details, checked, with the zone they are kept in and the
/// start.
fn details(
    content: &Content,
    names: &Names,
    created_at: Timestamp,
) -> Result<(EventDetails, chrono_tz::Tz, Timestamp), Refused> {
    if content.openmeet_id.trim().is_empty() {
        return Err(refused("id", "OpenMeet's own id is needed"));
    }
    let name = text("name", content.name, MAX_NAME)?;
    if name.trim().is_empty() {
        return Err(refused("name", "a name is needed"));
    }
    let description = content
        .description
        .map(|description| text("description", description, MAX_DESCRIPTION))
        .transpose()?;
    let zone_name = content.time_zone.unwrap_or("UTC");
    let zone = time_zone(zone_name).map_err(|err| refused("timeZone", err.to_string()))?;
    let starts_at = local_or_instant(content.start, zone)
        .map_err(|err| refused(names.start, err.to_string()))?;
    let ends_at = content
        .end
        .map(|end| local_or_instant(end, zone).map_err(|err| refused(names.end, err.to_string())))
        .transpose()?;
    if ends_at.is_some_and(|end| end < starts_at) {
        return Err(refused(names.end, "the end is before the start"));
    }
    let details = EventDetails {
        name: name.to_owned(),
        description: description.map(str::to_owned),
        starts_at: Some(starts_at),
        ends_at,
        time_zone: Some(zone_name.to_owned()),
        mode: Some(mode(names.kind, content.kind)?),
        status: None,
        places: places(content, names)?,
        links: vec![],
        rsvp_expected: None,
        created_at,
    };
    Ok((details, zone, starts_at))
}

/// The series `draft` asks for, as the decider's command, created at
/// `created_at`.
pub fn create_series(draft: &SeriesDraft, created_at: Timestamp) -> Result<SeriesCommand, Refused> {
    let content = Content {
        openmeet_id: &draft.openmeet_id,
        name: &draft.name,
        description: draft.description.as_deref(),
        time_zone: draft.time_zone.as_deref(),
        start: &draft.template_start_date,
        end: draft.template_end_date.as_deref(),
        kind: &draft.template_type,
        location: draft.template_location.as_deref(),
        online: draft.template_location_online.as_deref(),
    };
    let (details, zone, starts_at) = details(&content, &SERIES, created_at)?;
    let recurrence = Recurrence {
        rule: rule(&draft.recurrence_rule, zone, starts_at)?,
        time_zone: zone.name().to_owned(),
        starts_at,
        exdates: vec![],
        rdates: vec![],
    };
    yields_occurrences(&recurrence, &draft.recurrence_rule)?;
    let slug = match &draft.slug {
        Some(slug) => slug_of("slug", slug)?,
        None => slug(&details.name, series_id(&draft.openmeet_id).0),
    };
    Ok(SeriesCommand::Create {
        series_id: series_id(&draft.openmeet_id),
        slug,
        details,
        recurrence,
        origin: Origin::OpenMeet,
    })
}

/// The standalone event `draft` asks for, as the occurrence decider's
/// command, created at `created_at`.
pub fn schedule_event(
    draft: &EventDraft,
    created_at: Timestamp,
) -> Result<OccurrenceCommand, Refused> {
    let content = Content {
        openmeet_id: &draft.openmeet_id,
        name: &draft.name,
        description: draft.description.as_deref(),
        time_zone: draft.time_zone.as_deref(),
        start: &draft.start_date,
        end: draft.end_date.as_deref(),
        kind: &draft.kind,
        location: draft.location.as_deref(),
        online: draft.location_online.as_deref(),
    };
    let (mut details, _, _) = details(&content, &EVENT, created_at)?;
    if let Some(geo) = geo(draft.lat, draft.lon, draft.location.as_deref())? {
        details.places.insert(0, geo);
    }
    details.status = draft.status.as_deref().map(status).transpose()?;
    Ok(OccurrenceCommand::Schedule {
        occurrence_id: occurrence_id(&draft.openmeet_id),
        series_id: None,
        details,
    })
}

/// Whether `occurrence` is the standalone event `command` would schedule,
/// whenever it was created.
pub fn already_scheduled(occurrence: &Occurrence, command: &OccurrenceCommand) -> bool {
    let (
        Occurrence::Local {
            series_id: None,
            details,
            ..
        },
        OccurrenceCommand::Schedule {
            series_id: None,
            details: new,
            ..
        },
    ) = (occurrence, command)
    else {
        return false;
    };
    EventDetails {
        created_at: details.created_at,
        ..new.clone()
    } == *details
}

/// Whether `series` is the one `command` would create: the same slug,
/// content and recurrence, whenever it was created. A retried creation of
/// that series is answered with it; any other is a conflict.
pub fn already_created(series: &Series, command: &SeriesCommand) -> bool {
    let (
        Series::Active {
            slug,
            details,
            recurrence,
            ..
        },
        SeriesCommand::Create {
            slug: new_slug,
            details: new_details,
            recurrence: new_recurrence,
            ..
        },
    ) = (series, command)
    else {
        return false;
    };
    slug == new_slug
        && recurrence == new_recurrence
        && EventDetails {
            created_at: details.created_at,
            ..new_details.clone()
        } == *details
}

fn text<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str, Refused> {
    if value.contains('\0') {
        return Err(refused(
            field,
            "holds U+0000, which no read model can store",
        ));
    }
    if value.len() > max {
        return Err(refused(
            field,
            format!("{} bytes, more than the {max} allowed", value.len()),
        ));
    }
    Ok(value)
}

fn slug_of(field: &str, slug: &str) -> Result<String, Refused> {
    let well_formed = !slug.is_empty()
        && slug.len() <= 200
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if well_formed {
        Ok(slug.to_owned())
    } else {
        Err(refused(
            field,
            format!("{slug:?} is not a slug (1 to 200 of a-z, 0-9 and -)"),
        ))
    }
}

/// The coordinates OpenMeet gives, as a place named by the location.
fn geo(
    lat: Option<f64>,
    lon: Option<f64>,
    location: Option<&str>,
) -> Result<Option<Place>, Refused> {
    let (lat, lon) = match (lat, lon) {
        (None, None) => return Ok(None),
        (Some(lat), Some(lon)) => (lat, lon),
        (Some(_), None) => return Err(refused("lon", "lat is given without lon")),
        (None, Some(_)) => return Err(refused("lat", "lon is given without lat")),
    };
    if !(-90.0..=90.0).contains(&lat) {
        return Err(refused("lat", format!("{lat} is not from -90 to 90")));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(refused("lon", format!("{lon} is not from -180 to 180")));
    }
    Ok(Some(Place::Geo {
        latitude: lat.to_string(),
        longitude: lon.to_string(),
        altitude: None,
        name: location.map(str::to_owned),
    }))
}

/// Who may see an event, as OpenMeet names it; public when not said.
pub fn visibility(value: Option<&str>) -> Result<Visibility, Refused> {
    match value {
        None | Some("public") => Ok(Visibility::Public),
        Some("authenticated") => Ok(Visibility::Authenticated),
        Some("private") => Ok(Visibility::Private),
        Some(other) => Err(refused(
            "visibility",
            format!("{other:?} is none of public, authenticated, private"),
        )),
    }
}

/// OpenMeet's event status as the lexicon's.
fn status(status: &str) -> Result<Status, Refused> {
    match status {
        "draft" | "pending" => Ok(Status::Planned),
        "published" => Ok(Status::Scheduled),
        "cancelled" => Ok(Status::Cancelled),
        other => Err(refused(
            "status",
            format!("{other:?} is none of draft, pending, published, cancelled"),
        )),
    }
}

fn mode(field: &str, kind: &str) -> Result<Mode, Refused> {
    match kind {
        "in-person" => Ok(Mode::InPerson),
        "online" => Ok(Mode::Virtual),
        "hybrid" => Ok(Mode::Hybrid),
        other => Err(refused(
            field,
            format!("{other:?} is none of in-person, online, hybrid"),
        )),
    }
}

fn places(content: &Content, names: &Names) -> Result<Vec<Place>, Refused> {
    let mut places = Vec::new();
    if let Some(location) = content.location {
        places.push(Place::Address {
            country: UNKNOWN_COUNTRY.into(),
            postal_code: None,
            region: None,
            locality: None,
            street: None,
            name: Some(text(names.location, location, MAX_NAME)?.to_owned()),
        });
    }
    if let Some(online) = content.online {
        let uri = text(names.online, online, MAX_NAME)?;
        if !(uri.starts_with("https://") || uri.starts_with("http://")) {
            return Err(refused(
                names.online,
                format!("{uri:?} is not an http(s) URL"),
            ));
        }
        places.push(Place::Online(Link {
            uri: uri.to_owned(),
            name: None,
        }));
    }
    Ok(places)
}

/// The RRULE text of OpenMeet's rule.
fn rule(
    rule: &RecurrenceRule,
    zone: chrono_tz::Tz,
    starts_at: Timestamp,
) -> Result<String, Refused> {
    let frequency = match rule.frequency.as_str() {
        "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY" => rule.frequency.as_str(),
        other => {
            return Err(refused(
                "recurrenceRule.frequency",
                format!("{other:?} is none of DAILY, WEEKLY, MONTHLY, YEARLY"),
            ));
        }
    };
    let mut parts = vec![format!("FREQ={frequency}")];
    match rule.interval {
        Some(0) => return Err(refused("recurrenceRule.interval", "must be at least 1")),
        Some(interval) => parts.push(format!("INTERVAL={interval}")),
        None => {}
    }
    match rule.count {
        Some(count) if count == 0 || count > u32::from(MAX_OCCURRENCES) => {
            return Err(refused(
                "recurrenceRule.count",
                format!("{count} is not from 1 to {MAX_OCCURRENCES}"),
            ));
        }
        Some(count) => parts.push(format!("COUNT={count}")),
        None => {}
    }
    if let Some(until) = &rule.until {
        let until = last_instant(until, zone)?;
        if until < starts_at {
            return Err(refused(
                "recurrenceRule.until",
                "is before the first occurrence (templateStartDate)",
            ));
        }
        parts.push(format!(
            "UNTIL={}",
            until.to_datetime().format("%Y%m%dT%H%M%SZ")
        ));
    }
    if !rule.byweekday.is_empty() {
        for (n, day) in rule.byweekday.iter().enumerate() {
            weekday(day)
                .map_err(|reason| refused(format!("recurrenceRule.byweekday[{n}]"), reason))?;
        }
        parts.push(format!("BYDAY={}", rule.byweekday.join(",")));
    }
    if !rule.bymonthday.is_empty() {
        for (n, day) in rule.bymonthday.iter().enumerate() {
            if *day == 0 || !(-31..=31).contains(day) {
                return Err(refused(
                    format!("recurrenceRule.bymonthday[{n}]"),
                    format!("{day} is not a day of the month (1 to 31, or -31 to -1)"),
                ));
            }
        }
        parts.push(format!("BYMONTHDAY={}", join(&rule.bymonthday)));
    }
    if !rule.bymonth.is_empty() {
        for (n, month) in rule.bymonth.iter().enumerate() {
            if !(1..=12).contains(month) {
                return Err(refused(
                    format!("recurrenceRule.bymonth[{n}]"),
                    format!("{month} is not a month (1 to 12)"),
                ));
            }
        }
        parts.push(format!("BYMONTH={}", join(&rule.bymonth)));
    }
    Ok(parts.join(";"))
}

fn join<T: ToString>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// `MO` … `SU`, optionally after an ordinal from -53 to 53 (not 0).
fn weekday(day: &str) -> Result<(), String> {
    let bad = || format!("{day:?} is not a weekday (MO … SU, or with an ordinal: 2TU, -1FR)");
    let split = day.len().checked_sub(2).ok_or_else(bad)?;
    let (ordinal, name) = day.split_at_checked(split).ok_or_else(bad)?;
    if !matches!(name, "MO" | "TU" | "WE" | "TH" | "FR" | "SA" | "SU") {
        return Err(bad());
    }
    match ordinal {
        "" => Ok(()),
        ordinal => match ordinal.parse::<i32>() {
            Ok(n) if n != 0 && (-53..=53).contains(&n) => Ok(()),
            _ => Err(bad()),
        },
    }
}

/// The last instant of `until`: a date means the end of that day in `zone`.
fn last_instant(until: &str, zone: chrono_tz::Tz) -> Result<Timestamp, Refused> {
    let field = "recurrenceRule.until";
    if let Ok(date) = NaiveDate::parse_from_str(until, "%Y-%m-%d") {
        let end = date.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default());
        return zone
            .from_local_datetime(&end)
            .latest()
            .map(|at| Timestamp::from_datetime(at.to_utc()))
            .ok_or_else(|| refused(field, format!("{until} does not end in {zone}")));
    }
    local_or_instant(until, zone).map_err(|err| refused(field, err.to_string()))
}

/// A bounded rule must yield from 1 to [`MAX_OCCURRENCES`] occurrences; an
/// open-ended one, at least one.
fn yields_occurrences(recurrence: &Recurrence, rule: &RecurrenceRule) -> Result<(), Refused> {
    let field = "recurrenceRule";
    let schedule = recurrence
        .schedule()
        .map_err(|err| refused(field, err.to_string()))?;
    let bounded = rule.count.is_some() || rule.until.is_some();
    let wanted = if bounded { MAX_OCCURRENCES + 1 } else { 1 };
    let found = schedule
        .first(wanted)
        .map_err(|err| refused(field, err.to_string()))?
        .len();
    if found == 0 {
        return Err(refused(field, "the rule yields no occurrence"));
    }
    if found > usize::from(MAX_OCCURRENCES) {
        return Err(refused(
            field,
            format!("the rule yields more than {MAX_OCCURRENCES} occurrences"),
        ));
    }
    Ok(())
}

/// What OpenMeet changes of a series (openmeet-api's
/// `UpdateEventSeriesDto`): a field left out stays as it is. Both location
/// fields are replaced when either is given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeriesPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// A new zone: the occurrences keep their wall time in it.
    pub time_zone: Option<String>,
    /// A new rule, replacing the old one whole.
    pub recurrence_rule: Option<RecurrenceRule>,
    /// A new first start (re-plans the occurrences from there).
    pub template_start_date: Option<String>,
    /// A new first end.
    pub template_end_date: Option<String>,
    /// A new type.
    pub template_type: Option<String>,
    /// A new location, as free text.
    pub template_location: Option<String>,
    /// A new online location.
    pub template_location_online: Option<String>,
}

/// The commands that carry `patch` out on `series`: an edit of its content
/// (`SeriesEdited`) when that changes, a new recurrence
/// (`RecurrenceChanged`: the occurrences planned anew from it; those past
/// and published stay) when the rule, zone or times change; none when
/// nothing does.
pub fn edit_series(series: &Series, patch: &SeriesPatch) -> Result<Vec<SeriesCommand>, Refused> {
    let Series::Active {
        details,
        recurrence,
        ..
    } = series
    else {
        return Err(refused("slug", "no such series"));
    };
    let mut new = details.clone();
    if let Some(name) = &patch.name {
        let name = text("name", name, MAX_NAME)?;
        if name.trim().is_empty() {
            return Err(refused("name", "a name is needed"));
        }
        new.name = name.to_owned();
    }
    if let Some(description) = &patch.description {
        new.description = Some(text("description", description, MAX_DESCRIPTION)?.to_owned());
    }
    let zone_name = patch.time_zone.as_deref().unwrap_or(&recurrence.time_zone);
    let zone = time_zone(zone_name).map_err(|err| refused("timeZone", err.to_string()))?;
    let starts_at = match &patch.template_start_date {
        Some(start) => {
            local_or_instant(start, zone).map_err(|err| refused(SERIES.start, err.to_string()))?
        }
        None => recurrence.starts_at,
    };
    let ends_at = match &patch.template_end_date {
        Some(end) => {
            Some(local_or_instant(end, zone).map_err(|err| refused(SERIES.end, err.to_string()))?)
        }
        None => details.ends_at,
    };
    if ends_at.is_some_and(|end| end < starts_at) {
        return Err(refused(SERIES.end, "the end is before the start"));
    }
    if let Some(kind) = &patch.template_type {
        new.mode = Some(mode(SERIES.kind, kind)?);
    }
    if patch.template_location.is_some() || patch.template_location_online.is_some() {
        let content = Content {
            location: patch.template_location.as_deref(),
            online: patch.template_location_online.as_deref(),
            ..Content::default()
        };
        new.places = places(&content, &SERIES)?;
    }
    new.starts_at = Some(starts_at);
    new.ends_at = ends_at;
    new.time_zone = Some(zone_name.to_owned());
    let new_recurrence = Recurrence {
        rule: match &patch.recurrence_rule {
            Some(parts) => rule(parts, zone, starts_at)?,
            None => recurrence.rule.clone(),
        },
        time_zone: zone_name.to_owned(),
        starts_at,
        exdates: recurrence.exdates.clone(),
        rdates: recurrence.rdates.clone(),
    };
    let open_ended = RecurrenceRule::default();
    yields_occurrences(
        &new_recurrence,
        patch.recurrence_rule.as_ref().unwrap_or(&open_ended),
    )?;
    let mut commands = Vec::new();
    if new != *details {
        commands.push(SeriesCommand::Edit(new));
    }
    if new_recurrence != *recurrence {
        commands.push(SeriesCommand::ChangeRecurrence(new_recurrence));
    }
    Ok(commands)
}

/// The occurrence of `series` that starts at `start` in its rule (an RFC
/// 3339 instant, or a wall time in the series' zone), with the content it
/// has there; refused when the rule has no occurrence then.
pub fn occurrence_at(
    series: &Series,
    start: &str,
) -> Result<(OccurrenceId, EventDetails), Refused> {
    let Series::Active {
        id,
        details,
        recurrence,
        ..
    } = series
    else {
        return Err(refused("slug", "no such series"));
    };
    let zone = time_zone(&recurrence.time_zone).map_err(|err| refused("start", err.to_string()))?;
    let at = local_or_instant(start, zone).map_err(|err| refused("start", err.to_string()))?;
    let schedule = recurrence
        .schedule()
        .map_err(|err| refused("start", err.to_string()))?;
    let on_rule = schedule
        .between(at, at)
        .map_err(|err| refused("start", err.to_string()))?;
    if on_rule.is_empty() {
        return Err(refused(
            "start",
            format!("{start} is not when an occurrence of this series starts"),
        ));
    }
    Ok((
        series_occurrence(*id, at),
        occurrence_details(details, recurrence, at),
    ))
}

/// The commands that make the occurrence of `series` at `start` its own
/// (scheduling it when it is not yet), then `then`: one occurrence changed
/// alone, an exception of the rule (OpenMeet's "this occurrence only").
fn this_occurrence_only(
    series: &Series,
    start: &str,
    occurrence: &Occurrence,
    then: impl FnOnce(EventDetails) -> Result<OccurrenceCommand, Refused>,
) -> Result<(OccurrenceId, Vec<OccurrenceCommand>), Refused> {
    let (id, planned) = occurrence_at(series, start)?;
    let mut commands = Vec::new();
    let current = match occurrence.details() {
        Some(details) => details.clone(),
        None => {
            commands.push(OccurrenceCommand::Schedule {
                occurrence_id: id,
                series_id: series_id_of(series),
                details: planned.clone(),
            });
            planned
        }
    };
    commands.push(then(current)?);
    Ok((id, commands))
}

fn series_id_of(series: &Series) -> Option<SeriesId> {
    match series {
        Series::Active { id, .. } | Series::Removed { id } => Some(*id),
        Series::Absent => None,
    }
}

/// Cancels the one occurrence of `series` at `start` (`occurrence` is what
/// its stream holds): it is published as cancelled while it is the next.
pub fn cancel_occurrence(
    series: &Series,
    start: &str,
    occurrence: &Occurrence,
    reason: Option<&str>,
) -> Result<(OccurrenceId, Vec<OccurrenceCommand>), Refused> {
    let reason = reason
        .map(|reason| text("reason", reason, MAX_NAME).map(str::to_owned))
        .transpose()?;
    this_occurrence_only(series, start, occurrence, |_| {
        Ok(OccurrenceCommand::Cancel { reason })
    })
}

/// Moves the one occurrence of `series` at `start` to `start_date` (to
/// `end_date`, or as long as it was), in the series' zone unless the times
/// say their offset.
pub fn move_occurrence(
    series: &Series,
    start: &str,
    occurrence: &Occurrence,
    start_date: &str,
    end_date: Option<&str>,
) -> Result<(OccurrenceId, Vec<OccurrenceCommand>), Refused> {
    let zone_name = series
        .recurrence()
        .map_err(|err| refused("slug", err.to_string()))?
        .time_zone
        .clone();
    let zone = time_zone(&zone_name).map_err(|err| refused("startDate", err.to_string()))?;
    let new_start =
        local_or_instant(start_date, zone).map_err(|err| refused(EVENT.start, err.to_string()))?;
    let new_end = end_date
        .map(|end| local_or_instant(end, zone).map_err(|err| refused(EVENT.end, err.to_string())))
        .transpose()?;
    this_occurrence_only(series, start, occurrence, |details| {
        let length = match (details.starts_at, details.ends_at) {
            (Some(start), Some(end)) => Some(end.as_unix_micros() - start.as_unix_micros()),
            _ => None,
        };
        let ends_at = new_end.or_else(|| {
            length.map(|length| Timestamp::from_unix_micros(new_start.as_unix_micros() + length))
        });
        if ends_at.is_some_and(|end| end < new_start) {
            return Err(refused(EVENT.end, "the end is before the start"));
        }
        Ok(OccurrenceCommand::Edit(EventDetails {
            starts_at: Some(new_start),
            ends_at,
            ..details
        }))
    })
}

/// What OpenMeet changes of a standalone event (or of one occurrence, or
/// of an event imported from Bluesky, kept by OpenMeet against later
/// versions): a field left out stays as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new description; an empty one removes it.
    pub description: Option<String>,
    /// The zone `start_date` and `end_date` are wall times in (the event's
    /// own, else UTC, when absent).
    pub time_zone: Option<String>,
    /// A new start.
    pub start_date: Option<String>,
    /// A new end.
    pub end_date: Option<String>,
    /// `in-person`, `online` or `hybrid`.
    pub kind: Option<String>,
    /// A new location, as free text (with `lat` and `lon`, their name).
    pub location: Option<String>,
    /// A new online location.
    pub location_online: Option<String>,
    /// Degrees north, with `lon`.
    pub lat: Option<f64>,
    /// Degrees east, with `lat`.
    pub lon: Option<f64>,
    /// `draft`, `pending`, `published` or `cancelled` (cancels it).
    pub status: Option<String>,
    /// New links, replacing the old ones.
    pub links: Option<Vec<Link>>,
}

/// The commands that carry `patch` out on `occurrence`: an edit of its
/// content when that changes, and a cancellation when the status says so.
/// The places are replaced when any of the location fields is given.
pub fn edit_event(
    occurrence: &Occurrence,
    patch: &EventPatch,
) -> Result<Vec<OccurrenceCommand>, Refused> {
    let Some(current) = occurrence.details() else {
        return Err(refused("slug", "the event has no content to edit"));
    };
    let mut new = current.clone();
    if let Some(name) = &patch.name {
        let name = text("name", name, MAX_NAME)?;
        if name.trim().is_empty() {
            return Err(refused("name", "a name is needed"));
        }
        new.name = name.to_owned();
    }
    if let Some(description) = &patch.description {
        let description = text("description", description, MAX_DESCRIPTION)?;
        new.description = Some(description.to_owned()).filter(|text| !text.is_empty());
    }
    let zone_name = patch
        .time_zone
        .as_deref()
        .or(current.time_zone.as_deref())
        .unwrap_or("UTC");
    let zone = time_zone(zone_name).map_err(|err| refused("timeZone", err.to_string()))?;
    if let Some(start) = &patch.start_date {
        new.starts_at = Some(
            local_or_instant(start, zone).map_err(|err| refused(EVENT.start, err.to_string()))?,
        );
    }
    if let Some(end) = &patch.end_date {
        new.ends_at =
            Some(local_or_instant(end, zone).map_err(|err| refused(EVENT.end, err.to_string()))?);
    }
    if let (Some(start), Some(end)) = (new.starts_at, new.ends_at)
        && end < start
    {
        return Err(refused(EVENT.end, "the end is before the start"));
    }
    if patch.time_zone.is_some() {
        new.time_zone = Some(zone_name.to_owned());
    }
    if let Some(kind) = &patch.kind {
        new.mode = Some(mode(EVENT.kind, kind)?);
    }
    let places_given = patch.location.is_some()
        || patch.location_online.is_some()
        || patch.lat.is_some()
        || patch.lon.is_some();
    if places_given {
        let content = Content {
            location: patch.location.as_deref(),
            online: patch.location_online.as_deref(),
            ..Content::default()
        };
        let mut places = places(&content, &EVENT)?;
        if let Some(geo) = geo(patch.lat, patch.lon, patch.location.as_deref())? {
            places.insert(0, geo);
        }
        new.places = places;
    }
    if let Some(links) = &patch.links {
        for (n, link) in links.iter().enumerate() {
            let field = format!("links[{n}].uri");
            let uri = text(&field, &link.uri, MAX_NAME)?;
            if !(uri.starts_with("https://") || uri.starts_with("http://")) {
                return Err(refused(field, format!("{uri:?} is not an http(s) URL")));
            }
            if let Some(name) = &link.name {
                text(&format!("links[{n}].name"), name, MAX_NAME)?;
            }
        }
        new.links = links.clone();
    }
    let cancel = match patch.status.as_deref().map(status).transpose()? {
        Some(Status::Cancelled) => true,
        Some(other) => {
            new.status = Some(other);
            false
        }
        None => false,
    };
    let mut commands = Vec::new();
    if new != *current {
        commands.push(OccurrenceCommand::Edit(new));
    }
    if cancel && !matches!(occurrence, Occurrence::Cancelled { .. }) {
        commands.push(OccurrenceCommand::Cancel { reason: None });
    }
    Ok(commands)
}
