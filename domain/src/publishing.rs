//! OpenMeet events going out to Bluesky (the spec's pragmatic recurrence
//! approach): a series with sharing on is published one occurrence at a
//! time, the next upcoming one, with a link to the series page and a line
//! saying how often it happens; when it ends, the next one follows. A
//! standalone event is published once. Edits and cancellations are written
//! to the same record (swapping the CID we last wrote); sharing turned off
//! deletes what is published. Events imported from Bluesky are never
//! pushed back.
//!
//! [`Publishing`] is pure: it folds the log and, given the time, says which
//! occurrences to schedule and which writes to ask for. The publisher
//! carries the writes out and records `OccurrencePublished`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalogue::DomainEvent;
use crate::checksum::content_checksum;
use crate::envelope::{
    Actor, Append, EventId, EventMetadata, RecordedEvent, StreamId, derived_uuid,
};
use crate::identity::UserId;
use crate::occurrence::{EventDetails, OccurrenceId, OccurrenceScheduled, Status};
use crate::record_key::record_key;
use crate::recurrence::Recurrence;
use crate::series::SeriesId;
use crate::time::Timestamp;

/// What an OpenMeet owner owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Owned {
    /// A series.
    Series(SeriesId),
    /// A standalone occurrence.
    Occurrence(OccurrenceId),
}

impl Owned {
    /// The stream of the owned aggregate.
    pub fn stream(self) -> StreamId {
        match self {
            Owned::Series(id) => id.stream(),
            Owned::Occurrence(id) => id.stream(),
        }
    }
}

/// An OpenMeet event (series or standalone) belongs to this account.
/// Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerAssigned {
    /// What is owned.
    pub target: Owned,
    /// The owner.
    pub owner: UserId,
    /// The owner's DID.
    pub did: String,
}

/// Bluesky sharing of an OpenMeet event was turned on or off. Schema
/// version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueskySettingsChanged {
    /// The series or standalone occurrence.
    pub target: Owned,
    /// Whether it is shared.
    pub enabled: bool,
    /// The account whose repository it is published in.
    pub account: UserId,
    /// That account's DID.
    pub did: String,
    /// Whether records carry our lexicon's `recurrence` fields too.
    pub include_recurrence: bool,
}

/// Who may see an OpenMeet event (openmeet-api's `EventVisibility`).
/// Everything on the network is public, so only a public one is shared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Visibility {
    /// Anyone.
    #[default]
    Public,
    /// Members signed in to OpenMeet.
    Authenticated,
    /// Those invited.
    Private,
}

impl Visibility {
    /// OpenMeet's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Authenticated => "authenticated",
            Visibility::Private => "private",
        }
    }
}

/// Who may see an OpenMeet event (series or standalone) changed; one no
/// longer public is unpublished. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisibilityChanged {
    /// The series or standalone occurrence.
    pub target: Owned,
    /// Who may see it now.
    pub visibility: Visibility,
}

/// The write asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublishAction {
    /// Create or replace the record.
    Put {
        /// The record, as JSON.
        record: String,
        /// The content checksum of the details it says.
        checksum: String,
        /// The CID of our last write, to swap.
        swap: Option<String>,
    },
    /// Delete the record.
    Delete {
        /// The CID of our last write, to swap.
        swap: Option<String>,
    },
}

/// Write an occurrence's record in its account's repository. Schema
/// version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrencePublishRequested {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// The account written for.
    pub account: UserId,
    /// Its DID: the repository.
    pub did: String,
    /// The record key, chosen at the first request and kept.
    pub rkey: String,
    /// What to write.
    pub action: PublishAction,
}

/// An occurrence's record was deleted from its account's repository.
/// Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrenceUnpublished {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// The record key it had.
    pub rkey: String,
}

/// The publishing scheduler looked at what was due: at `at`, by its clock,
/// with the log folded up to position `after`, linking series pages under
/// `site`. The decisions it took then follow it in the log, caused by it,
/// so `audit verify` takes them again from the same fold at the same time.
/// Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishingDecided {
    /// The time the decisions were taken at.
    pub at: Timestamp,
    /// The last position of the log the scheduler had folded.
    pub after: u64,
    /// The base URL of OpenMeet's pages it linked to.
    pub site: String,
}

/// The stream of the scheduler's [`PublishingDecided`].
pub fn scheduler_stream() -> StreamId {
    StreamId::new("scheduler", SCHEDULER_ACTOR)
}

/// An occurrence's record could not be written, for good. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrencePublishFailed {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// Why.
    pub reason: String,
}

/// Sharing settings in effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Sharing {
    account: UserId,
    did: String,
    include_recurrence: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SeriesState {
    slug: String,
    details: EventDetails,
    recurrence: Recurrence,
    sharing: Option<Sharing>,
    visibility: Visibility,
}

impl SeriesState {
    /// The sharing in effect: on, and the series public.
    fn shared(&self) -> Option<&Sharing> {
        self.sharing
            .as_ref()
            .filter(|_| self.visibility == Visibility::Public)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct OccurrenceState {
    series: Option<SeriesId>,
    /// For an occurrence of a series: its start in the series' rule, which
    /// names it even once it is moved.
    slot: Option<Timestamp>,
    details: Option<EventDetails>,
    sharing: Option<Sharing>,
    visibility: Visibility,
    /// The record key and the last write asked for.
    requested: Option<(String, PublishAction)>,
    /// The account that write was for.
    written_for: Option<Sharing>,
    /// The CID of our last write that succeeded.
    written: Option<String>,
    /// Settings were recorded (again) since the last request: write it
    /// again even if it says the same.
    forced: bool,
    /// Requests made so far: names the next one.
    requests: u32,
    /// Deleted in OpenMeet.
    deleted: bool,
}

/// The actor of every publishing decision.
pub const SCHEDULER_ACTOR: &str = "scheduler";

/// The scheduler's name as a follower of the log: its checkpoint and its
/// snapshot.
pub const SCHEDULER_FOLLOWER: &str = "publishing-scheduler";

/// The shape of [`Publishing`] in a snapshot: raised whenever its types
/// change (the golden snapshot test fails until then), so an older
/// snapshot is discarded rather than misread.
pub const SNAPSHOT_SHAPE: u32 = 1;

/// A publishing decision: `event` for `stream`, its id derived from
/// `label`, which names it uniquely among all decisions (so a repeated
/// tick appends nothing new).
fn decision(stream: StreamId, label: &str, event: DomainEvent) -> Append {
    Append {
        stream,
        metadata: EventMetadata {
            event_id: EventId(derived_uuid("publishing", label)),
            causation_id: None,
            correlation_id: None,
            origin: crate::Origin::OpenMeet,
            actor: Actor::system(SCHEDULER_ACTOR),
        },
        event,
    }
}

/// True when `event` is a decision of the scheduler taken at a recorded
/// time (caused by a [`PublishingDecided`]).
pub fn is_timed_decision(event: &RecordedEvent) -> bool {
    event.metadata.actor == Actor::system(SCHEDULER_ACTOR)
        && matches!(
            event.payload.event_type.as_str(),
            "OccurrenceScheduled" | "OccurrencePublishRequested"
        )
}

/// A record key for `occurrence` at `now` that no other occurrence has:
/// its key at `now`, or at the first microsecond after it whose key is
/// free; taken from then on.
fn free_key(taken: &mut BTreeSet<String>, now: Timestamp, occurrence: OccurrenceId) -> String {
    let subject = occurrence.0.to_string();
    let mut at = now.as_unix_micros();
    loop {
        let key = record_key(Timestamp::from_unix_micros(at), &subject);
        if taken.insert(key.clone()) {
            return key;
        }
        at += 1;
    }
}

/// The most deleted occurrences in a row looked past for the next one.
const MAX_SKIPPED: usize = 1000;

/// How long an occurrence lasts when its series does not say.
const DEFAULT_LENGTH_MICROS: i64 = 60 * 60 * 1_000_000;

/// The id of the occurrence of `series` starting at `start`.
pub fn series_occurrence(series: SeriesId, start: Timestamp) -> OccurrenceId {
    OccurrenceId(derived_uuid(
        "series-occurrence",
        &format!("{}/{}", series.0, start.as_unix_micros()),
    ))
}

/// How long each occurrence of a series with `details` lasts, in
/// microseconds.
fn series_length(details: &EventDetails) -> i64 {
    match (details.starts_at, details.ends_at) {
        (Some(start), Some(end)) if end > start => end.as_unix_micros() - start.as_unix_micros(),
        _ => DEFAULT_LENGTH_MICROS,
    }
}

/// When an occurrence with `details` ends: its end, or its start and the
/// series' `length`.
fn ends(details: &EventDetails, length: i64) -> Option<Timestamp> {
    details.ends_at.or_else(|| {
        details
            .starts_at
            .map(|start| Timestamp::from_unix_micros(start.as_unix_micros() + length))
    })
}

/// The content of the occurrence of a series starting at `start`: the
/// series' content at that start, as long as the series' first one.
pub fn occurrence_details(
    series: &EventDetails,
    recurrence: &Recurrence,
    start: Timestamp,
) -> EventDetails {
    EventDetails {
        starts_at: Some(start),
        ends_at: Some(Timestamp::from_unix_micros(
            start.as_unix_micros() + series_length(series),
        )),
        time_zone: Some(recurrence.time_zone.clone()),
        ..series.clone()
    }
}

/// A line saying how often a series happens, such as `weekly`, `every 2
/// weeks` or `monthly`, read from its rule.
pub fn how_often(recurrence: &Recurrence) -> String {
    let rule = recurrence.rule.trim().trim_start_matches("RRULE:");
    let part = |name: &str| {
        rule.split(';')
            .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    let interval: u32 = part("INTERVAL").and_then(|v| v.parse().ok()).unwrap_or(1);
    let unit = match part("FREQ") {
        Some("DAILY") => ("daily", "days"),
        Some("WEEKLY") => ("weekly", "weeks"),
        Some("MONTHLY") => ("monthly", "months"),
        Some("YEARLY") => ("yearly", "years"),
        _ => ("regularly", "times"),
    };
    if interval > 1 {
        format!("every {interval} {}", unit.1)
    } else {
        unit.0.to_owned()
    }
}

/// Folds the log; says what to publish.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Publishing {
    series: BTreeMap<SeriesId, SeriesState>,
    occurrences: BTreeMap<OccurrenceId, OccurrenceState>,
    /// Base URL of OpenMeet's pages, for the series link.
    site: String,
}

impl Publishing {
    /// An empty state linking series pages under `site`
    /// (`https://openmeet.net`).
    pub fn new(site: &str) -> Self {
        Self {
            site: site.trim_end_matches('/').to_owned(),
            ..Self::default()
        }
    }

    /// Follows one event of the log.
    pub fn follow(&mut self, event: &DomainEvent) {
        match event {
            DomainEvent::SeriesCreated(e) if e.origin == crate::Origin::OpenMeet => {
                self.series.insert(
                    e.series_id,
                    SeriesState {
                        slug: e.slug.clone(),
                        details: e.details.clone(),
                        recurrence: e.recurrence.clone(),
                        sharing: None,
                        visibility: Visibility::Public,
                    },
                );
            }
            DomainEvent::SeriesDeleted(e) => {
                self.series.remove(&e.series_id);
            }
            DomainEvent::VisibilityChanged(e) => match e.target {
                Owned::Series(id) => {
                    if let Some(series) = self.series.get_mut(&id) {
                        series.visibility = e.visibility;
                    }
                }
                Owned::Occurrence(id) => {
                    self.occurrences.entry(id).or_default().visibility = e.visibility;
                }
            },
            DomainEvent::SeriesEdited(e) => {
                if let Some(series) = self.series.get_mut(&e.series_id) {
                    series.details = e.details.clone();
                }
            }
            DomainEvent::RecurrenceChanged(e) => {
                if let Some(series) = self.series.get_mut(&e.series_id) {
                    series.recurrence = e.recurrence.clone();
                }
            }
            DomainEvent::OccurrenceScheduled(e) => {
                let state = self.occurrences.entry(e.occurrence_id).or_default();
                state.series = e.series_id;
                state.slot = e.series_id.and(e.details.starts_at);
                state.details = Some(e.details.clone());
            }
            DomainEvent::OccurrenceEdited(e) => {
                if let Some(state) = self.occurrences.get_mut(&e.occurrence_id) {
                    state.details = Some(e.details.clone());
                }
            }
            DomainEvent::OccurrenceCancelled(e) => {
                if let Some(state) = self.occurrences.get_mut(&e.occurrence_id)
                    && let Some(details) = &mut state.details
                {
                    details.status = Some(Status::Cancelled);
                }
            }
            DomainEvent::OccurrenceDeleted(e) => {
                let state = self.occurrences.entry(e.occurrence_id).or_default();
                state.deleted = true;
                state.details = None;
            }
            DomainEvent::BlueskySettingsChanged(e) => {
                let sharing = e.enabled.then(|| Sharing {
                    account: e.account,
                    did: e.did.clone(),
                    include_recurrence: e.include_recurrence,
                });
                match e.target {
                    Owned::Series(id) => {
                        if let Some(series) = self.series.get_mut(&id) {
                            series.sharing = sharing;
                        }
                        for state in self
                            .occurrences
                            .values_mut()
                            .filter(|s| s.series == Some(id))
                        {
                            state.forced = true;
                        }
                    }
                    Owned::Occurrence(id) => {
                        let state = self.occurrences.entry(id).or_default();
                        state.sharing = sharing;
                        state.forced = true;
                    }
                }
            }
            DomainEvent::OccurrencePublishRequested(e) => {
                let state = self.occurrences.entry(e.occurrence_id).or_default();
                state.requested = Some((e.rkey.clone(), e.action.clone()));
                state.forced = false;
                state.requests += 1;
                state.written_for = Some(Sharing {
                    account: e.account,
                    did: e.did.clone(),
                    include_recurrence: false,
                });
            }
            DomainEvent::OccurrencePublished(e) => {
                self.occurrences.entry(e.occurrence_id).or_default().written = Some(e.cid.clone());
            }
            // Nothing of ours is there any more: a write after it creates
            // the record again rather than swap a version that is gone.
            DomainEvent::OccurrenceUnpublished(e) => {
                self.occurrences.entry(e.occurrence_id).or_default().written = None;
            }
            _ => {}
        }
    }

    /// What is due at `at`, for a state that folded the log up to
    /// position `after`: the decisions, each caused by a
    /// [`PublishingDecided`] that comes first and records `at` and
    /// `after`; nothing when nothing is due.
    pub fn decide_at(&self, at: Timestamp, after: u64) -> Vec<Append> {
        let decisions = self.due(at);
        if decisions.is_empty() {
            return decisions;
        }
        let tick = PublishingDecided {
            at,
            after,
            site: self.site.clone(),
        };
        let tick = decision(
            scheduler_stream(),
            &format!("decided/{after}/{}", at.as_unix_micros()),
            tick.into(),
        );
        let cause = tick.metadata.event_id;
        std::iter::once(tick)
            .chain(decisions.into_iter().map(|mut decision| {
                decision.metadata.causation_id = Some(cause);
                decision
            }))
            .collect()
    }

    /// The site its series pages are linked under.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// Links series pages under `site` from now on.
    pub fn set_site(&mut self, site: &str) {
        site.trim_end_matches('/').clone_into(&mut self.site);
    }

    /// What is due at `now`: the next upcoming occurrence of each shared
    /// series scheduled and published, and every published record brought
    /// in line with what OpenMeet says.
    fn due(&self, now: Timestamp) -> Vec<Append> {
        let mut decisions = vec![];
        let mut wanted: BTreeMap<OccurrenceId, (EventDetails, Sharing, Option<SeriesId>)> =
            BTreeMap::new();
        for (id, series) in &self.series {
            let Some(sharing) = series.shared() else {
                continue;
            };
            let Some((occurrence, details)) = self.upcoming(*id, series, now) else {
                continue;
            };
            if !self.occurrences.contains_key(&occurrence) {
                decisions.push(decision(
                    occurrence.stream(),
                    &format!("schedule/{}", occurrence.0),
                    OccurrenceScheduled {
                        occurrence_id: occurrence,
                        series_id: Some(*id),
                        details: details.clone(),
                    }
                    .into(),
                ));
            }
            // Once scheduled, the occurrence's own content (edited,
            // cancelled) is what is published.
            let details = self
                .occurrences
                .get(&occurrence)
                .and_then(|state| state.details.clone())
                .unwrap_or(details);
            wanted.insert(occurrence, (details, sharing.clone(), Some(*id)));
        }
        for (id, state) in &self.occurrences {
            if state.series.is_some() {
                // A series occurrence once published stays in line with
                // OpenMeet (a cancellation, an edit) until its series stops
                // sharing.
                if let (Some(details), Some(sharing), Some(_)) =
                    (&state.details, self.series_sharing(state), &state.requested)
                {
                    wanted
                        .entry(*id)
                        .or_insert((details.clone(), sharing.clone(), state.series));
                }
            } else if let (Some(details), Some(sharing), Visibility::Public) =
                (&state.details, &state.sharing, state.visibility)
            {
                wanted.insert(*id, (details.clone(), sharing.clone(), None));
            }
        }
        // A record key names one record of its repository: two
        // occurrences must never share one, though keys taken at the same
        // time differ only by a 10-bit clock id.
        let mut taken: BTreeSet<String> = self
            .occurrences
            .values()
            .filter_map(|state| state.requested.as_ref().map(|(rkey, _)| rkey.clone()))
            .collect();
        for (id, (details, sharing, series)) in &wanted {
            let state = self.occurrences.get(id);
            let record = self.record(details, series.and_then(|s| self.series.get(&s)), sharing);
            let checksum = content_checksum(details);
            let already = !state.is_some_and(|s| s.forced)
                && state
                .and_then(|s| s.requested.as_ref())
                .is_some_and(|(_, action)| matches!(action, PublishAction::Put { record: asked, .. } if *asked == record));
            if already {
                continue;
            }
            let rkey = match state.and_then(|s| s.requested.as_ref()) {
                Some((rkey, _)) => rkey.clone(),
                None => free_key(&mut taken, now, *id),
            };
            let swap = state.and_then(|s| s.written.clone());
            decisions.push(request(
                *id,
                sharing,
                rkey,
                PublishAction::Put {
                    record,
                    checksum,
                    swap,
                },
                &format!("put/{}/{}", id.0, state.map_or(0, |s| s.requests)),
            ));
        }
        for (id, state) in &self.occurrences {
            let shared =
                !state.deleted && (wanted.contains_key(id) || self.series_sharing(state).is_some());
            let Some((rkey, action)) = &state.requested else {
                continue;
            };
            if shared || matches!(action, PublishAction::Delete { .. }) {
                continue;
            }
            let Some(sharing) = &state.written_for else {
                continue;
            };
            decisions.push(request(
                *id,
                sharing,
                rkey.clone(),
                PublishAction::Delete {
                    swap: state.written.clone(),
                },
                &format!("delete/{}/{}", id.0, state.requests),
            ));
        }
        decisions
    }

    /// The sharing in effect for an occurrence of a series: its series'.
    fn series_sharing(&self, state: &OccurrenceState) -> Option<&Sharing> {
        state
            .series
            .and_then(|s| self.series.get(&s))
            .and_then(SeriesState::shared)
    }

    /// The occurrence of `series` that is next at `now`: the first whose end
    /// is still to come, by its own times once it has its own (moved).
    fn upcoming(
        &self,
        id: SeriesId,
        series: &SeriesState,
        now: Timestamp,
    ) -> Option<(OccurrenceId, EventDetails)> {
        let length = series_length(&series.details);
        let schedule = series.recurrence.schedule().ok()?;
        let from = Timestamp::from_unix_micros(now.as_unix_micros() - length);
        let next_slot = if series.recurrence.starts_at > from {
            series.recurrence.starts_at
        } else {
            schedule.next_after(from)?
        };
        // An occurrence moved later than its slot may still be to come.
        let moved_later = self
            .occurrences
            .values()
            .filter(|state| state.series == Some(id) && !state.deleted)
            .filter(|state| {
                state
                    .details
                    .as_ref()
                    .and_then(|d| ends(d, length))
                    .is_some_and(|end| end >= now)
            })
            .filter_map(|state| state.slot)
            .min();
        let mut start = moved_later.map_or(next_slot, |slot| slot.min(next_slot));
        // One deleted in OpenMeet, or moved to before `now`, is passed over.
        for _ in 0..MAX_SKIPPED {
            let passed = self
                .occurrences
                .get(&series_occurrence(id, start))
                .is_some_and(|state| {
                    state.deleted
                        || state
                            .details
                            .as_ref()
                            .and_then(|details| ends(details, length))
                            .is_some_and(|end| end < now)
                });
            if !passed {
                break;
            }
            start = schedule.next_after(start)?;
        }
        Some((
            series_occurrence(id, start),
            occurrence_details(&series.details, &series.recurrence, start),
        ))
    }

    fn record(
        &self,
        details: &EventDetails,
        series: Option<&SeriesState>,
        sharing: &Sharing,
    ) -> String {
        let mut record = details.to_record(None);
        if let Some(series) = series {
            let page = format!("{}/series/{}", self.site, series.slug);
            let line = format!(
                "Part of a series that happens {}. All dates: {page}",
                how_often(&series.recurrence)
            );
            record.description = Some(match record.description.take() {
                Some(text) if !text.is_empty() => format!("{text}\n\n{line}"),
                _ => line,
            });
            let mut uris = record.uris.take().unwrap_or_default();
            uris.push(schemas::records::UriLink {
                uri: page.clone(),
                name: Some(format!("{} (all dates)", series.details.name)),
                extra: Default::default(),
            });
            record.uris = Some(uris);
            if sharing.include_recurrence {
                let rule = series
                    .recurrence
                    .rule
                    .trim()
                    .trim_start_matches("RRULE:")
                    .to_owned();
                let instants = |list: &[Timestamp]| {
                    (!list.is_empty()).then(|| {
                        list.iter()
                            .map(|t| crate::occurrence::format_datetime(*t))
                            .collect()
                    })
                };
                record.recurrence = Some(schemas::records::Recurrence {
                    rrule: rule,
                    timezone: series.recurrence.time_zone.clone(),
                    exdate: instants(&series.recurrence.exdates),
                    rdate: instants(&series.recurrence.rdates),
                    series: Some(schemas::records::SeriesLink {
                        uri: page,
                        name: Some(series.details.name.clone()),
                        occurrence_index: None,
                        extra: Default::default(),
                    }),
                    extra: Default::default(),
                });
            }
        }
        schemas::records::Record::to_json(&record).to_string()
    }
}

fn request(
    id: OccurrenceId,
    sharing: &Sharing,
    rkey: String,
    action: PublishAction,
    label: &str,
) -> Append {
    decision(
        id.stream(),
        label,
        OccurrencePublishRequested {
            occurrence_id: id,
            account: sharing.account,
            did: sharing.did.clone(),
            rkey,
            action,
        }
        .into(),
    )
}
