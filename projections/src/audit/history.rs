//! `audit show`: every event about one record, DID or slug, in log order,
//! found through the streams that hold them (the read models only say which
//! streams those are).

use std::collections::BTreeMap;

use domain::attendance::{attendance_stream, parked_rsvps_stream};
use domain::external_ref::{LocalRef, external_ref_stream, linked_target};
use domain::identity::identity_stream;
use domain::occurrence::OccurrenceId;
use domain::series::SeriesId;
use domain::{DomainEvent, RecordedEvent, StreamId};
use store::{EventStore, PgEventStore, StoreError};
use thiserror::Error;
use uuid::Uuid;

/// Why a history could not be told.
#[derive(Debug, Error)]
pub enum HistoryError {
    /// Nothing in the log or the read models is about the subject.
    #[error(
        "nothing is recorded about {0:?}: give an AT-URI (at://did/collection/rkey), a DID (did:…) or the slug of an event or series"
    )]
    Unknown(String),
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Looking the subject up in the read models failed.
    #[error("looking up {subject:?} in the read models failed: {source}")]
    Database {
        /// The subject.
        subject: String,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
}

/// What an auditor asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A record, by its AT-URI.
    Record(String),
    /// An identity, with every record it authored.
    Did(String),
    /// An event or a series, by the slug the API shows.
    Slug(String),
}

impl Subject {
    /// Reads an AT-URI, a DID or, failing both, a slug.
    pub fn parse(text: &str) -> Subject {
        let text = text.trim();
        if text.starts_with("at://") {
            Subject::Record(text.to_owned())
        } else if text.starts_with("did:") {
            Subject::Did(text.to_owned())
        } else {
            Subject::Slug(text.to_owned())
        }
    }

    /// The subject as given.
    pub fn text(&self) -> &str {
        match self {
            Subject::Record(text) | Subject::Did(text) | Subject::Slug(text) => text,
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Record(uri) => write!(f, "record {uri}"),
            Subject::Did(did) => write!(f, "identity {did}"),
            Subject::Slug(slug) => write!(f, "slug {slug}"),
        }
    }
}

/// The history of one subject.
#[derive(Clone, Debug)]
pub struct History {
    /// What was asked about.
    pub subject: Subject,
    /// The streams read.
    pub streams: Vec<StreamId>,
    /// Their events about the subject, in log order.
    pub events: Vec<RecordedEvent>,
}

/// Which events of a stream belong to the history.
#[derive(Clone, Debug)]
enum Keep {
    All,
    /// Rejections of these records, or of every record under a subject
    /// ending in `/` (every source's rejections share streams).
    RejectionsOf(Vec<String>),
    /// Events naming this attendee (an occurrence's answers share a stream).
    Mentioning(String),
}

impl Keep {
    fn keeps(&self, event: &RecordedEvent) -> bool {
        match self {
            Keep::All => true,
            Keep::RejectionsOf(subjects) => match DomainEvent::decode(&event.payload) {
                // A subject ending in `/` names every record under it.
                Ok(DomainEvent::RecordRejected(rejected)) => subjects.iter().any(|subject| {
                    rejected.subject == *subject
                        || (subject.ends_with('/')
                            && rejected.subject.starts_with(subject.as_str()))
                }),
                _ => false,
            },
            Keep::Mentioning(id) => match DomainEvent::decode(&event.payload) {
                Ok(decoded) => decoded.payload_json().to_string().contains(id.as_str()),
                // An event that does not decode is shown, not hidden.
                Err(_) => true,
            },
        }
    }
}

/// The streams to read and what to keep of each.
#[derive(Default)]
struct Plan {
    streams: BTreeMap<StreamId, Keep>,
}

impl Plan {
    fn all(&mut self, stream: StreamId) {
        self.streams.insert(stream, Keep::All);
    }

    fn occurrence(&mut self, id: OccurrenceId) {
        self.all(id.stream());
        self.all(attendance_stream(id));
        self.all(parked_rsvps_stream(id));
    }

    /// The streams of the records `uris`, found through their link streams,
    /// read in one query.
    async fn records(&mut self, store: &PgEventStore, uris: &[String]) -> Result<(), StoreError> {
        let links: Vec<StreamId> = uris.iter().map(|uri| external_ref_stream(uri)).collect();
        let mut linked: BTreeMap<StreamId, Vec<DomainEvent>> = BTreeMap::new();
        for event in store.read_streams(&links).await? {
            if let Ok(decoded) = DomainEvent::decode(&event.payload) {
                linked.entry(event.stream_id).or_default().push(decoded);
            }
        }
        for (uri, link) in uris.iter().zip(links) {
            let events = linked.get(&link).map(Vec::as_slice).unwrap_or_default();
            match linked_target(events) {
                Some(LocalRef::Occurrence(id)) => self.occurrence(id),
                Some(LocalRef::Rsvp {
                    occurrence_id,
                    attendee_id,
                }) => {
                    let mentioning = Keep::Mentioning(attendee_id.to_string());
                    self.streams
                        .insert(attendance_stream(occurrence_id), mentioning.clone());
                    self.streams
                        .insert(parked_rsvps_stream(occurrence_id), mentioning);
                }
                None if uri.contains("/community.lexicon.calendar.event/") => {
                    self.occurrence(OccurrenceId::for_record(uri));
                }
                None => {}
            }
            self.all(link);
        }
        Ok(())
    }
}

fn lookup(subject: &str) -> impl Fn(sqlx::Error) -> HistoryError + '_ {
    move |source| HistoryError::Database {
        subject: subject.to_owned(),
        source,
    }
}

/// The streams holding rejections (one per source).
async fn rejection_streams(store: &PgEventStore) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT stream_id FROM eventstore.streams WHERE stream_id LIKE 'rejected-%'")
        .fetch_all(store.pool())
        .await
}

/// Every event about `subject`, with the decisions taken on the way.
pub async fn history(store: &PgEventStore, subject: Subject) -> Result<History, HistoryError> {
    let text = subject.text().to_owned();
    let mut plan = Plan::default();
    let mut rejected_subjects = vec![];
    match &subject {
        Subject::Record(uri) => {
            plan.records(store, std::slice::from_ref(uri)).await?;
            rejected_subjects.push(uri.clone());
        }
        Subject::Did(did) => {
            plan.all(identity_stream(did));
            let uris: Vec<String> = sqlx::query_scalar(
                "SELECT uri FROM read.external_refs WHERE starts_with(uri, $1) ORDER BY uri",
            )
            .bind(format!("at://{did}/"))
            .fetch_all(store.pool())
            .await
            .map_err(lookup(&text))?;
            plan.records(store, &uris).await?;
            rejected_subjects.extend([format!("at://{did}/"), did.clone()]);
        }
        Subject::Slug(slug) => {
            let occurrence: Option<(Uuid, Option<String>)> =
                sqlx::query_as("SELECT id, external_id FROM read.occurrences WHERE slug = $1")
                    .bind(slug)
                    .fetch_optional(store.pool())
                    .await
                    .map_err(lookup(&text))?;
            let series: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM read.series WHERE slug = $1")
                    .bind(slug)
                    .fetch_optional(store.pool())
                    .await
                    .map_err(lookup(&text))?;
            if let Some((id, external)) = occurrence {
                plan.occurrence(OccurrenceId(id));
                if let Some(uri) = external {
                    plan.records(store, &[uri]).await?;
                }
            }
            if let Some(id) = series {
                plan.all(SeriesId(id).stream());
                let members: Vec<Uuid> =
                    sqlx::query_scalar("SELECT id FROM read.occurrences WHERE series_id = $1")
                        .bind(id)
                        .fetch_all(store.pool())
                        .await
                        .map_err(lookup(&text))?;
                for member in members {
                    plan.occurrence(OccurrenceId(member));
                }
            }
        }
    }
    for stream in rejection_streams(store).await.map_err(lookup(&text))? {
        plan.streams.insert(
            StreamId(stream),
            Keep::RejectionsOf(rejected_subjects.clone()),
        );
    }
    let streams: Vec<StreamId> = plan.streams.keys().cloned().collect();
    let mut events: Vec<RecordedEvent> = store
        .read_streams(&streams)
        .await?
        .into_iter()
        .filter(|event| {
            plan.streams
                .get(&event.stream_id)
                .is_some_and(|keep| keep.keeps(event))
        })
        .collect();
    events.sort_by_key(|event| event.global_position);
    events.dedup_by_key(|event| event.global_position);
    if events.is_empty() {
        return Err(HistoryError::Unknown(text));
    }
    let with_events: std::collections::BTreeSet<&StreamId> =
        events.iter().map(|event| &event.stream_id).collect();
    let streams = streams
        .iter()
        .filter(|stream| with_events.contains(stream))
        .cloned()
        .collect();
    Ok(History {
        subject,
        streams,
        events,
    })
}
