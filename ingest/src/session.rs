//! A unit of work over the event store: streams are read once, decisions
//! are staged against what was read plus what was staged before them, and
//! everything is committed in one transaction. A batch of messages costs
//! one read and one write instead of several of each per message.
//!
//! A stream read here is held whole; each staged part expects the version
//! the previous parts leave its stream at, so the commit fails as a whole
//! when any other writer moved one of them meanwhile.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use domain::{
    DomainEvent, EventId, EventMetadata, NewEvent, RecordedEvent, StreamId, StreamVersion,
};
use store::{AppendError, Appended, EventStore, ExpectedVersion, StoreError, StreamAppend};

/// A point to roll back to: what was staged after it is forgotten.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checkpoint {
    parts: usize,
    undo: usize,
}

/// Streams as a batch left them, written or about to be: the next batch
/// is decided against them instead of the store, which may not hold them
/// yet.
#[derive(Default)]
pub struct Carried(HashMap<StreamId, Vec<(EventId, DomainEvent)>>);

pub(crate) struct Session<'s, S> {
    store: &'s S,
    streams: HashMap<StreamId, Vec<(EventId, DomainEvent)>>,
    /// The streams this session's decisions read or wrote.
    touched: HashSet<StreamId>,
    parts: Vec<StreamAppend>,
    /// Ids staged to streams not held here (appended whatever their version).
    blind_ids: HashSet<EventId>,
    /// Per staged part on a held stream: its stream and length before it.
    undo: Vec<(StreamId, usize)>,
}

impl<'s, S: EventStore> Session<'s, S> {
    pub(crate) fn new(store: &'s S) -> Self {
        Self::carrying(store, Carried::default())
    }

    /// A session that takes `carried` for what the store holds of them.
    pub(crate) fn carrying(store: &'s S, carried: Carried) -> Self {
        Self {
            store,
            streams: carried.0,
            touched: HashSet::new(),
            parts: vec![],
            blind_ids: HashSet::new(),
            undo: vec![],
        }
    }

    /// Reads the streams not held yet, in one round trip.
    pub(crate) async fn prefetch(&mut self, streams: Vec<StreamId>) -> Result<(), StoreError> {
        let mut missing = Vec::with_capacity(streams.len());
        for stream in streams {
            if !self.streams.contains_key(&stream) {
                missing.push(stream.clone());
            }
            self.touched.insert(stream);
        }
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let recorded = self.store.read_streams(&missing).await?;
        for stream in missing {
            self.streams.insert(stream, vec![]);
        }
        for event in &recorded {
            let decoded = decoded(event)?;
            if let Some(events) = self.streams.get_mut(&event.stream_id) {
                events.push((event.metadata.event_id, decoded));
            }
        }
        Ok(())
    }

    /// The events of `stream`, stored and staged, in order.
    pub(crate) async fn events(
        &mut self,
        stream: &StreamId,
    ) -> Result<&[(EventId, DomainEvent)], StoreError> {
        if !self.touched.contains(stream) {
            self.prefetch(vec![stream.clone()]).await?;
        }
        Ok(self.streams.get(stream).map_or(&[], Vec::as_slice))
    }

    /// Stages `events` at the end of the held `stream`. `false` when the
    /// stream holds the first of them already: they were appended before.
    pub(crate) async fn stage(
        &mut self,
        stream: &StreamId,
        events: Vec<(EventMetadata, DomainEvent)>,
    ) -> Result<bool, Failure> {
        let Some((first, _)) = events.first() else {
            return Ok(false);
        };
        let held = self.events(stream).await?;
        let holds = |id: EventId| held.iter().any(|(held_id, _)| *held_id == id);
        if holds(first.event_id) {
            return Ok(false);
        }
        if let Some((metadata, _)) = events.iter().find(|(metadata, _)| holds(metadata.event_id)) {
            return Err(Failure::Refused(format!(
                "event {} is in {stream} already, without the events before it",
                metadata.event_id
            )));
        }
        let length = held.len();
        let encoded = events
            .iter()
            .map(|(metadata, event)| encode(metadata.clone(), event))
            .collect();
        self.undo.push((stream.clone(), length));
        if let Some(held) = self.streams.get_mut(stream) {
            held.extend(
                events
                    .into_iter()
                    .map(|(metadata, event)| (metadata.event_id, event)),
            );
        }
        self.parts.push(StreamAppend {
            stream: stream.clone(),
            expected: if length == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Exact(StreamVersion(length as u64))
            },
            events: encoded,
        });
        Ok(true)
    }

    /// Stages `events` to a stream not read here, whatever its version;
    /// an event staged already is left out.
    pub(crate) fn stage_blind(
        &mut self,
        stream: StreamId,
        events: Vec<(EventMetadata, DomainEvent)>,
    ) {
        let events: Vec<NewEvent> = events
            .into_iter()
            .filter(|(metadata, _)| self.blind_ids.insert(metadata.event_id))
            .map(|(metadata, event)| encode(metadata, &event))
            .collect();
        if !events.is_empty() {
            self.parts.push(StreamAppend {
                stream,
                expected: ExpectedVersion::Any,
                events,
            });
        }
    }

    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            parts: self.parts.len(),
            undo: self.undo.len(),
        }
    }

    /// How many parts are staged: a message's parts are those staged
    /// between two readings.
    pub(crate) fn staged(&self) -> usize {
        self.parts.len()
    }

    /// Forgets everything staged after `checkpoint`.
    pub(crate) fn roll_back(&mut self, checkpoint: Checkpoint) {
        for (stream, length) in self.undo.drain(checkpoint.undo..).rev() {
            if let Entry::Occupied(mut held) = self.streams.entry(stream) {
                held.get_mut().truncate(length);
            }
        }
        for part in self.parts.drain(checkpoint.parts..) {
            if part.expected == ExpectedVersion::Any {
                for event in &part.events {
                    self.blind_ids.remove(&event.metadata.event_id);
                }
            }
        }
    }

    /// Appends everything staged, in one transaction: one answer per part.
    pub(crate) async fn commit(self) -> Result<Vec<Appended>, AppendError> {
        let store = self.store;
        let (parts, _) = self.finish();
        write(store, parts).await
    }

    /// What is staged, and the streams this session used as it leaves them.
    pub(crate) fn finish(mut self) -> (Vec<StreamAppend>, Carried) {
        let touched = std::mem::take(&mut self.touched);
        let carried = touched
            .into_iter()
            .filter_map(|stream| {
                let events = self.streams.remove(&stream)?;
                Some((stream, events))
            })
            .collect();
        (self.parts, Carried(carried))
    }
}

/// Appends `parts` in one transaction: one answer per part.
pub(crate) async fn write<S: EventStore>(
    store: &S,
    parts: Vec<StreamAppend>,
) -> Result<Vec<Appended>, AppendError> {
    if parts.is_empty() {
        return Ok(vec![]);
    }
    store.append_many(parts).await
}

/// Why a message's decision stopped.
pub(crate) enum Failure {
    /// The store failed; the message may be retried.
    Store(StoreError),
    /// The message cannot be applied, for this reason.
    Refused(String),
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::Store(err)
    }
}

pub(crate) fn encode(metadata: EventMetadata, event: &DomainEvent) -> NewEvent {
    NewEvent {
        metadata,
        payload: event.encode(),
    }
}

fn decoded(event: &RecordedEvent) -> Result<DomainEvent, StoreError> {
    DomainEvent::decode(&event.payload).map_err(|err| StoreError::Inconsistent {
        position: event.global_position,
        problem: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use domain::rejection::{Input, RecordRejected};
    use domain::{Actor, Origin};
    use store::testkit::ScratchDatabase;

    use super::*;

    fn rejected(label: &str) -> (EventMetadata, DomainEvent) {
        let metadata = EventMetadata {
            event_id: EventId(domain::envelope::derived_uuid("session-test", label)),
            causation_id: None,
            correlation_id: None,
            origin: Origin::Bluesky,
            actor: Actor::system("test"),
        };
        let event = RecordRejected::new(label, "test", Input::Whole(b""));
        (metadata, event.into())
    }

    fn subjects(events: &[RecordedEvent]) -> Vec<String> {
        events
            .iter()
            .map(|event| match DomainEvent::decode(&event.payload) {
                Ok(DomainEvent::RecordRejected(rejected)) => {
                    format!("{}:{}", event.stream_id, rejected.subject)
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_rolled_back_message_leaves_what_came_before_it() {
        let db = ScratchDatabase::create().await;
        let store = db.store(2).await;
        let (a, b) = (StreamId::new("a", "1"), StreamId::new("b", "1"));
        store
            .append(
                &a,
                ExpectedVersion::NoStream,
                vec![encode_pair(rejected("a1"))],
            )
            .await
            .unwrap();

        let mut session = Session::new(&store);
        session.prefetch(vec![a.clone(), b.clone()]).await.unwrap();
        assert!(
            session
                .stage(&a, vec![rejected("a2")])
                .await
                .is_ok_and(|s| s)
        );
        let before_refusal = session.checkpoint();
        assert!(
            session
                .stage(&a, vec![rejected("a3")])
                .await
                .is_ok_and(|s| s)
        );
        assert!(
            session
                .stage(&b, vec![rejected("b1")])
                .await
                .is_ok_and(|s| s)
        );
        session.roll_back(before_refusal);
        assert_eq!(session.events(&b).await.unwrap().len(), 0);
        assert!(
            session
                .stage(&b, vec![rejected("b2")])
                .await
                .is_ok_and(|s| s)
        );
        // Staged before: a repeat, not a second copy.
        assert!(
            session
                .stage(&a, vec![rejected("a2")])
                .await
                .is_ok_and(|s| !s)
        );
        let appended = session.commit().await.unwrap();

        assert_eq!(appended.len(), 2);
        let stored = store.read_streams(&[a, b]).await.unwrap();
        assert_eq!(subjects(&stored), ["a-1:a1", "a-1:a2", "b-1:b2"]);
    }

    #[tokio::test]
    async fn a_stream_moved_by_another_writer_fails_the_whole_commit() {
        let db = ScratchDatabase::create().await;
        let store = db.store(2).await;
        let (a, b) = (StreamId::new("a", "1"), StreamId::new("b", "1"));
        let mut session = Session::new(&store);
        session.prefetch(vec![a.clone(), b.clone()]).await.unwrap();
        assert!(
            session
                .stage(&b, vec![rejected("b1")])
                .await
                .is_ok_and(|s| s)
        );
        assert!(
            session
                .stage(&a, vec![rejected("a1")])
                .await
                .is_ok_and(|s| s)
        );
        store
            .append(
                &a,
                ExpectedVersion::NoStream,
                vec![encode_pair(rejected("other"))],
            )
            .await
            .unwrap();

        let refused = session.commit().await;
        assert!(
            matches!(refused, Err(AppendError::WrongExpectedVersion { ref stream, .. }) if *stream == a),
            "{refused:?}"
        );
        let stored = store.read_streams(&[a, b]).await.unwrap();
        assert_eq!(subjects(&stored), ["a-1:other"]);
    }

    #[tokio::test]
    async fn blind_parts_leave_out_events_staged_already() {
        let db = ScratchDatabase::create().await;
        let store = db.store(2).await;
        let r = StreamId::new("rejected", "1");
        let mut session = Session::new(&store);
        session.stage_blind(r.clone(), vec![rejected("x")]);
        session.stage_blind(r.clone(), vec![rejected("x"), rejected("y")]);
        session.commit().await.unwrap();
        let stored = store.read_streams(&[r]).await.unwrap();
        assert_eq!(subjects(&stored), ["rejected-1:x", "rejected-1:y"]);
    }

    fn encode_pair((metadata, event): (EventMetadata, DomainEvent)) -> NewEvent {
        encode(metadata, &event)
    }
}
