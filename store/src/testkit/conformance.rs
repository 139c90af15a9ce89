//! The behaviour every [`EventStore`] adapter must show, written once and
//! generic over the port. An adapter runs it with
//! [`event_store_conformance!`](crate::event_store_conformance), given an
//! async function that returns a fresh, empty store and a guard that keeps
//! it alive.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use domain::{
    Actor, CorrelationId, EncodedPayload, EventId, EventMetadata, GlobalPosition, NewEvent, Origin,
    RecordedEvent, StreamId, StreamVersion,
};
use futures::StreamExt;
use uuid::Uuid;

use crate::port::{AppendError, EventStore, ExpectedVersion, StreamAppend};

/// Generates one `#[tokio::test]` per conformance case for an adapter.
#[macro_export]
macro_rules! event_store_conformance {
    ($fresh:path) => {
        $crate::event_store_conformance!($fresh;
            appended_events_read_back_with_their_metadata,
            a_new_stream_refuses_to_exist_twice,
            an_exact_expectation_names_the_actual_version,
            any_expectation_appends_whatever_the_version,
            a_refused_append_leaves_no_trace,
            re_appending_a_stored_batch_writes_nothing,
            a_reused_event_id_with_other_content_is_refused,
            a_batch_partly_stored_is_refused,
            empty_and_self_duplicating_batches_are_refused,
            streams_read_forwards_from_a_version,
            the_global_log_reads_forwards_in_pages,
            a_subscription_catches_up_then_follows,
            concurrent_writers_are_seen_once_each_in_global_order,
            parts_of_one_append_land_together_in_part_order,
            a_refused_part_refuses_every_part,
            stored_parts_are_skipped_and_new_ones_written,
            writers_of_several_streams_never_deadlock,
        );
    };
    ($fresh:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $fresh().await;
                $crate::testkit::conformance::$case(store).await;
            }
        )+
    };
}

/// A probe event: the store treats payloads as opaque bytes.
pub fn probe(label: &str) -> NewEvent {
    NewEvent {
        metadata: EventMetadata {
            event_id: EventId(Uuid::new_v4()),
            causation_id: None,
            correlation_id: None,
            origin: Origin::OpenMeet,
            actor: Actor::system("conformance"),
        },
        payload: EncodedPayload {
            event_type: "ConformanceProbe".into(),
            schema_version: 1,
            bytes: label.as_bytes().to_vec(),
        },
    }
}

fn probes(labels: &[&str]) -> Vec<NewEvent> {
    labels.iter().map(|label| probe(label)).collect()
}

fn stream(name: &str) -> StreamId {
    StreamId::new("conformance", format!("{name}-{}", Uuid::new_v4().simple()))
}

fn labels(events: &[RecordedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| String::from_utf8_lossy(&event.payload.bytes).into_owned())
        .collect()
}

/// Everything written comes back: ids, causation, origin, actor, payload.
pub async fn appended_events_read_back_with_their_metadata<S: EventStore>(store: S) {
    let orders = stream("orders");
    let cause = EventId(Uuid::new_v4());
    let mut first = probe("first");
    first.metadata.causation_id = Some(cause);
    first.metadata.correlation_id = Some(CorrelationId(Uuid::new_v4()));
    first.metadata.origin = Origin::Bluesky;
    first.metadata.actor = Actor("did:plc:conformance".into());
    first.payload.schema_version = 65_535;
    let batch = vec![first, probe("second"), probe("third")];

    let appended = store
        .append(&orders, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    assert_eq!(appended.last_version, StreamVersion(3));
    assert_eq!(
        (appended.first_position, appended.last_position),
        (GlobalPosition(1), GlobalPosition(3))
    );
    assert!(!appended.already_stored);

    let read = store
        .read_stream(&orders, StreamVersion(1), 10)
        .await
        .unwrap();
    assert_eq!(read.len(), 3);
    for (n, (recorded, written)) in read.iter().zip(&batch).enumerate() {
        assert_eq!(recorded.stream_id, orders);
        assert_eq!(recorded.stream_version, StreamVersion(n as u64 + 1));
        assert_eq!(recorded.global_position, GlobalPosition(n as u64 + 1));
        assert_eq!(recorded.metadata, written.metadata);
        assert_eq!(recorded.payload, written.payload);
    }
    assert_eq!(store.read_all(GlobalPosition(0), 10).await.unwrap(), read);
    assert_eq!(store.head().await.unwrap(), GlobalPosition(3));
}

/// `NoStream` succeeds once per stream.
pub async fn a_new_stream_refuses_to_exist_twice<S: EventStore>(store: S) {
    let s = stream("once");
    store
        .append(&s, ExpectedVersion::NoStream, probes(&["a", "b"]))
        .await
        .unwrap();
    let err = store
        .append(&s, ExpectedVersion::NoStream, probes(&["c"]))
        .await
        .unwrap_err();
    match err {
        AppendError::WrongExpectedVersion {
            stream,
            expected,
            actual,
        } => {
            assert_eq!(
                (stream, expected, actual),
                (s.clone(), ExpectedVersion::NoStream, StreamVersion(2))
            );
        }
        other => panic!("expected a version conflict, got {other}"),
    }
}

/// A conflict error names the stream, the expected and the actual version.
pub async fn an_exact_expectation_names_the_actual_version<S: EventStore>(store: S) {
    let s = stream("exact");
    store
        .append(&s, ExpectedVersion::NoStream, probes(&["a", "b", "c"]))
        .await
        .unwrap();
    let appended = store
        .append(&s, ExpectedVersion::Exact(StreamVersion(3)), probes(&["d"]))
        .await
        .unwrap();
    assert_eq!(appended.last_version, StreamVersion(4));

    let err = store
        .append(&s, ExpectedVersion::Exact(StreamVersion(3)), probes(&["e"]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("stream {s}: expected version 3, but the stream is at version 4")
    );
    let missing = stream("missing");
    let err = store
        .append(
            &missing,
            ExpectedVersion::Exact(StreamVersion(1)),
            probes(&["x"]),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("stream {missing}: expected version 1, but the stream is at version 0")
    );
}

/// `Any` appends to new and existing streams alike.
pub async fn any_expectation_appends_whatever_the_version<S: EventStore>(store: S) {
    let s = stream("any");
    assert_eq!(
        store
            .append(&s, ExpectedVersion::Any, probes(&["a"]))
            .await
            .unwrap()
            .last_version,
        StreamVersion(1)
    );
    assert_eq!(
        store
            .append(&s, ExpectedVersion::Any, probes(&["b", "c"]))
            .await
            .unwrap()
            .last_version,
        StreamVersion(3)
    );
}

/// A refused append changes neither the stream nor the global log.
pub async fn a_refused_append_leaves_no_trace<S: EventStore>(store: S) {
    let s = stream("refused");
    store
        .append(&s, ExpectedVersion::NoStream, probes(&["a"]))
        .await
        .unwrap();
    store
        .append(
            &s,
            ExpectedVersion::Exact(StreamVersion(7)),
            probes(&["b", "c"]),
        )
        .await
        .unwrap_err();
    let fresh = stream("never");
    store
        .append(
            &fresh,
            ExpectedVersion::Exact(StreamVersion(2)),
            probes(&["d"]),
        )
        .await
        .unwrap_err();

    assert_eq!(store.head().await.unwrap(), GlobalPosition(1));
    assert_eq!(
        labels(&store.read_stream(&s, StreamVersion(1), 10).await.unwrap()),
        ["a"]
    );
    assert!(
        store
            .read_stream(&fresh, StreamVersion(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The next append still gets the next position: a refusal leaves no gap.
    let appended = store
        .append(&fresh, ExpectedVersion::NoStream, probes(&["e"]))
        .await
        .unwrap();
    assert_eq!(appended.first_position, GlobalPosition(2));
}

/// A retried batch (same ids, same payloads) succeeds without a second row,
/// whatever version it expected.
pub async fn re_appending_a_stored_batch_writes_nothing<S: EventStore>(store: S) {
    let s = stream("retry");
    let batch = probes(&["a", "b"]);
    let first = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    store
        .append(&s, ExpectedVersion::Any, probes(&["c"]))
        .await
        .unwrap();

    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Any,
        ExpectedVersion::Exact(StreamVersion(0)),
    ] {
        let again = store.append(&s, expected, batch.clone()).await.unwrap();
        assert!(again.already_stored, "{expected}");
        assert_eq!(
            (
                again.first_position,
                again.last_position,
                again.last_version
            ),
            (
                first.first_position,
                first.last_position,
                first.last_version
            )
        );
    }
    assert_eq!(
        labels(&store.read_stream(&s, StreamVersion(1), 10).await.unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(store.head().await.unwrap(), GlobalPosition(3));
}

/// The same event id with another payload, or in another stream, is an error.
pub async fn a_reused_event_id_with_other_content_is_refused<S: EventStore>(store: S) {
    let s = stream("reuse");
    let original = probe("original");
    store
        .append(&s, ExpectedVersion::Any, vec![original.clone()])
        .await
        .unwrap();

    let mut altered = original.clone();
    altered.payload.bytes = b"altered".to_vec();
    let err = store
        .append(&s, ExpectedVersion::Any, vec![altered])
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppendError::EventIdConflict { event_id, .. } if event_id == original.metadata.event_id),
        "{err}"
    );

    let elsewhere = stream("elsewhere");
    let err = store
        .append(&elsewhere, ExpectedVersion::Any, vec![original.clone()])
        .await
        .unwrap_err();
    match err {
        AppendError::EventIdConflict {
            stored_stream,
            stream,
            ..
        } => assert_eq!((stored_stream, stream), (s.clone(), elsewhere)),
        other => panic!("expected an event id conflict, got {other}"),
    }
    assert_eq!(store.head().await.unwrap(), GlobalPosition(1));
}

/// A batch overlapping an earlier one is not a retry of it.
pub async fn a_batch_partly_stored_is_refused<S: EventStore>(store: S) {
    let s = stream("partly");
    let stored = probe("stored");
    store
        .append(&s, ExpectedVersion::Any, vec![stored.clone()])
        .await
        .unwrap();
    let err = store
        .append(&s, ExpectedVersion::Any, vec![stored, probe("new")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::PartlyStored {
                stored: 1,
                total: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.head().await.unwrap(), GlobalPosition(1));
}

/// Batches must hold at least one event and no id twice.
pub async fn empty_and_self_duplicating_batches_are_refused<S: EventStore>(store: S) {
    let s = stream("shape");
    assert!(matches!(
        store.append(&s, ExpectedVersion::Any, vec![]).await,
        Err(AppendError::EmptyBatch { .. })
    ));
    let twice = probe("twice");
    let err = store
        .append(&s, ExpectedVersion::Any, vec![twice.clone(), twice])
        .await
        .unwrap_err();
    assert!(matches!(err, AppendError::DuplicateInBatch { .. }), "{err}");
    assert_eq!(store.head().await.unwrap(), GlobalPosition(0));
}

/// A stream reads from any version, in order, bounded by the limit.
pub async fn streams_read_forwards_from_a_version<S: EventStore>(store: S) {
    let s = stream("forwards");
    let other = stream("other");
    for label in ["a", "b", "c", "d", "e"] {
        store
            .append(&s, ExpectedVersion::Any, probes(&[label]))
            .await
            .unwrap();
        store
            .append(&other, ExpectedVersion::Any, probes(&["noise"]))
            .await
            .unwrap();
    }
    assert_eq!(
        labels(&store.read_stream(&s, StreamVersion(3), 10).await.unwrap()),
        ["c", "d", "e"]
    );
    assert_eq!(
        labels(&store.read_stream(&s, StreamVersion(2), 2).await.unwrap()),
        ["b", "c"]
    );
    assert!(
        store
            .read_stream(&s, StreamVersion(6), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The global log pages forwards from any position without overlap or loss.
pub async fn the_global_log_reads_forwards_in_pages<S: EventStore>(store: S) {
    let labels_written: Vec<String> = (0..25).map(|n| format!("e{n}")).collect();
    for chunk in labels_written.chunks(4) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        store
            .append(&stream("paged"), ExpectedVersion::NoStream, probes(&refs))
            .await
            .unwrap();
    }
    let mut after = GlobalPosition(0);
    let mut pages = Vec::new();
    let mut read = Vec::new();
    loop {
        let page = store.read_all(after, 10).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.global_position;
        pages.push(page.len());
        read.extend(labels(&page));
    }
    assert_eq!(pages, [10, 10, 5]);
    assert_eq!(read, labels_written);
}

async fn collect(
    subscription: &mut futures::stream::BoxStream<
        'static,
        Result<RecordedEvent, crate::port::StoreError>,
    >,
    count: usize,
) -> Vec<RecordedEvent> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        let next = tokio::time::timeout(Duration::from_secs(30), subscription.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "subscription stalled after {} of {count} events",
                    events.len()
                )
            });
        events.push(
            next.expect("subscription ended")
                .expect("subscription failed"),
        );
    }
    events
}

/// A subscription delivers history first, then appends made after it started.
pub async fn a_subscription_catches_up_then_follows<S: EventStore>(store: S) {
    let s = stream("live");
    store
        .append(&s, ExpectedVersion::Any, probes(&["old1", "old2", "old3"]))
        .await
        .unwrap();
    let mut from_start = store.subscribe(GlobalPosition(0));
    let mut from_middle = store.subscribe(GlobalPosition(2));
    assert_eq!(
        labels(&collect(&mut from_start, 3).await),
        ["old1", "old2", "old3"]
    );
    assert_eq!(labels(&collect(&mut from_middle, 1).await), ["old3"]);

    store
        .append(&s, ExpectedVersion::Any, probes(&["new1"]))
        .await
        .unwrap();
    store
        .append(
            &stream("other"),
            ExpectedVersion::Any,
            probes(&["new2", "new3"]),
        )
        .await
        .unwrap();
    assert_eq!(
        labels(&collect(&mut from_start, 3).await),
        ["new1", "new2", "new3"]
    );
    assert_eq!(
        labels(&collect(&mut from_middle, 3).await),
        ["new1", "new2", "new3"]
    );
}

const WRITERS: usize = 8;
const APPENDS_PER_WRITER: usize = 40;
const SHARED_STREAMS: usize = 5;

/// 8 writers append batches to overlapping streams while a subscriber reads:
/// the subscriber sees every committed event exactly once, in global order,
/// and every stream's versions are contiguous from 1.
pub async fn concurrent_writers_are_seen_once_each_in_global_order<S: EventStore>(store: S) {
    let streams: Vec<StreamId> = (0..SHARED_STREAMS)
        .map(|n| stream(&format!("shared{n}")))
        .collect();
    let batch_size = |writer: usize, n: usize| 1 + (writer + n) % 4;
    let total: usize = (0..WRITERS)
        .flat_map(|w| (0..APPENDS_PER_WRITER).map(move |n| batch_size(w, n)))
        .sum();
    let mut subscription = store.subscribe(GlobalPosition(0));
    let subscriber = tokio::spawn(async move { collect(&mut subscription, total).await });

    let writers = (0..WRITERS).map(|writer| {
        let store = store.clone();
        let streams = streams.clone();
        tokio::spawn(async move {
            let mut written = Vec::new();
            for n in 0..APPENDS_PER_WRITER {
                let target = &streams[(writer * 7 + n * 3) % streams.len()];
                let batch: Vec<NewEvent> = (0..batch_size(writer, n))
                    .map(|k| probe(&format!("w{writer}-a{n}-{k}")))
                    .collect();
                let ids: Vec<EventId> = batch.iter().map(|event| event.metadata.event_id).collect();
                // Half the writers use optimistic concurrency and retry on a
                // conflict, the other half append with `Any`.
                loop {
                    let expected = if writer % 2 == 0 {
                        let version = store
                            .read_stream(target, StreamVersion(1), usize::MAX)
                            .await
                            .unwrap()
                            .len();
                        ExpectedVersion::Exact(StreamVersion(version as u64))
                    } else {
                        ExpectedVersion::Any
                    };
                    match store.append(target, expected, batch.clone()).await {
                        Ok(_) => break,
                        Err(AppendError::WrongExpectedVersion { .. }) => continue,
                        Err(err) => panic!("writer {writer}: {err}"),
                    }
                }
                written.extend(ids);
            }
            written
        })
    });
    let mut expected_ids = HashSet::new();
    for writer in futures::future::join_all(writers).await {
        expected_ids.extend(writer.unwrap());
    }

    assert_eq!(expected_ids.len(), total);
    let seen = subscriber.await.unwrap();
    let positions: Vec<u64> = seen.iter().map(|event| event.global_position.0).collect();
    assert_eq!(
        positions,
        (1..=expected_ids.len() as u64).collect::<Vec<_>>(),
        "global order with no gap"
    );
    let seen_ids: HashSet<EventId> = seen.iter().map(|event| event.metadata.event_id).collect();
    assert_eq!(seen_ids.len(), seen.len(), "an event was delivered twice");
    assert_eq!(
        seen_ids, expected_ids,
        "the subscriber saw exactly the committed events"
    );

    let mut versions: BTreeMap<&StreamId, Vec<u64>> = BTreeMap::new();
    for event in &seen {
        versions
            .entry(&event.stream_id)
            .or_default()
            .push(event.stream_version.0);
    }
    for (stream, versions) in versions {
        assert_eq!(
            versions,
            (1..=versions.len() as u64).collect::<Vec<_>>(),
            "versions of {stream}"
        );
    }
    assert_eq!(
        store.head().await.unwrap(),
        GlobalPosition(expected_ids.len() as u64)
    );
}

fn part(stream: &StreamId, expected: ExpectedVersion, labels: &[&str]) -> StreamAppend {
    StreamAppend {
        stream: stream.clone(),
        expected,
        events: probes(labels),
    }
}

/// Parts go to their streams in the order given, one stream possibly in
/// several parts, and the global log follows the parts.
pub async fn parts_of_one_append_land_together_in_part_order<S: EventStore>(store: S) {
    let (a, b) = (stream("many-a"), stream("many-b"));
    store
        .append(&b, ExpectedVersion::NoStream, probes(&["b0"]))
        .await
        .unwrap();
    let appended = store
        .append_many(vec![
            part(&a, ExpectedVersion::NoStream, &["a1", "a2"]),
            part(&b, ExpectedVersion::Exact(StreamVersion(1)), &["b1"]),
            part(&a, ExpectedVersion::Exact(StreamVersion(2)), &["a3"]),
        ])
        .await
        .unwrap();

    let placed: Vec<(u64, u64, u64)> = appended
        .iter()
        .map(|a| (a.first_position.0, a.last_position.0, a.last_version.0))
        .collect();
    assert_eq!(placed, [(2, 3, 2), (4, 4, 2), (5, 5, 3)]);
    assert!(appended.iter().all(|a| !a.already_stored));
    assert_eq!(
        labels(&store.read_all(GlobalPosition(0), 10).await.unwrap()),
        ["b0", "a1", "a2", "b1", "a3"]
    );
    let both = store.read_streams(&[b.clone(), a.clone()]).await.unwrap();
    assert_eq!(labels(&both), ["b0", "b1", "a1", "a2", "a3"]);
    let versions: Vec<(StreamId, u64)> = both
        .iter()
        .map(|e| (e.stream_id.clone(), e.stream_version.0))
        .collect();
    assert_eq!(
        versions,
        [
            (b.clone(), 1),
            (b.clone(), 2),
            (a.clone(), 1),
            (a.clone(), 2),
            (a.clone(), 3)
        ]
    );
    assert!(
        store
            .read_streams(&[stream("absent")])
            .await
            .unwrap()
            .is_empty()
    );
}

/// One part whose expectation fails refuses them all: nothing is written,
/// no stream is created and no position is used up.
pub async fn a_refused_part_refuses_every_part<S: EventStore>(store: S) {
    let (a, fresh) = (stream("many-refused"), stream("many-fresh"));
    store
        .append(&a, ExpectedVersion::NoStream, probes(&["a0"]))
        .await
        .unwrap();
    let err = store
        .append_many(vec![
            part(&fresh, ExpectedVersion::NoStream, &["f1"]),
            part(&a, ExpectedVersion::Exact(StreamVersion(4)), &["a1"]),
        ])
        .await
        .unwrap_err();
    match err {
        AppendError::WrongExpectedVersion { stream, actual, .. } => {
            assert_eq!((stream, actual), (a.clone(), StreamVersion(1)))
        }
        other => panic!("expected a wrong version, got {other}"),
    }
    // The second part expects what the first leaves: not "no stream".
    let err = store
        .append_many(vec![
            part(&fresh, ExpectedVersion::NoStream, &["f1"]),
            part(&fresh, ExpectedVersion::NoStream, &["f2"]),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AppendError::WrongExpectedVersion {
                actual: StreamVersion(1),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.head().await.unwrap(), GlobalPosition(1));
    assert!(
        store
            .read_streams(std::slice::from_ref(&fresh))
            .await
            .unwrap()
            .is_empty()
    );
    let appended = store
        .append(&fresh, ExpectedVersion::NoStream, probes(&["f"]))
        .await
        .unwrap();
    assert_eq!(appended.first_position, GlobalPosition(2));
}

/// A retried append writes only its parts that are not stored yet.
pub async fn stored_parts_are_skipped_and_new_ones_written<S: EventStore>(store: S) {
    let (a, b) = (stream("many-retry-a"), stream("many-retry-b"));
    let first = part(&a, ExpectedVersion::NoStream, &["a1"]);
    let stored = store.append_many(vec![first.clone()]).await.unwrap();
    let again = store
        .append_many(vec![
            first.clone(),
            part(&b, ExpectedVersion::NoStream, &["b1"]),
        ])
        .await
        .unwrap();
    assert!(again[0].already_stored);
    assert_eq!(
        (again[0].first_position, again[0].last_version),
        (stored[0].first_position, stored[0].last_version)
    );
    assert!(!again[1].already_stored);
    assert_eq!(again[1].first_position, GlobalPosition(2));

    let everything = store.append_many(vec![first.clone()]).await.unwrap();
    assert!(everything[0].already_stored);
    assert_eq!(store.head().await.unwrap(), GlobalPosition(2));

    let mut partly = first.clone();
    partly.events.push(probe("a2"));
    assert!(matches!(
        store.append_many(vec![partly]).await.unwrap_err(),
        AppendError::PartlyStored {
            stored: 1,
            total: 2,
            ..
        }
    ));
    let twice = probe("twice");
    let err = store
        .append_many(vec![
            StreamAppend {
                stream: a.clone(),
                expected: ExpectedVersion::Any,
                events: vec![twice.clone()],
            },
            StreamAppend {
                stream: b.clone(),
                expected: ExpectedVersion::Any,
                events: vec![twice],
            },
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, AppendError::DuplicateInBatch { .. }), "{err}");
}

/// Writers of several streams, taking them in opposite orders, beside
/// writers of one stream: all of them finish, with contiguous versions.
pub async fn writers_of_several_streams_never_deadlock<S: EventStore>(store: S) {
    let (a, b) = (stream("cross-a"), stream("cross-b"));
    let rounds = 25;
    let writers = (0..6).map(|writer| {
        let store = store.clone();
        let (a, b) = (a.clone(), b.clone());
        tokio::spawn(async move {
            for n in 0..rounds {
                let label = format!("w{writer}-{n}");
                let result = match writer % 3 {
                    0 => store
                        .append_many(vec![
                            part(&a, ExpectedVersion::Any, &[&label]),
                            part(&b, ExpectedVersion::Any, &[&label]),
                        ])
                        .await
                        .map(|_| ()),
                    1 => store
                        .append_many(vec![
                            part(&b, ExpectedVersion::Any, &[&label]),
                            part(&a, ExpectedVersion::Any, &[&label]),
                        ])
                        .await
                        .map(|_| ()),
                    _ => store
                        .append(&a, ExpectedVersion::Any, probes(&[&label]))
                        .await
                        .map(|_| ()),
                };
                result.unwrap_or_else(|err| panic!("writer {writer}: {err}"));
            }
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.unwrap();
    }
    let events = store.read_streams(&[a.clone(), b.clone()]).await.unwrap();
    let (in_a, in_b): (Vec<_>, Vec<_>) = events.iter().partition(|e| e.stream_id == a);
    assert_eq!((in_a.len(), in_b.len()), (6 * rounds, 4 * rounds));
    for (events, name) in [(in_a, "a"), (in_b, "b")] {
        let versions: Vec<u64> = events.iter().map(|e| e.stream_version.0).collect();
        assert_eq!(
            versions,
            (1..=versions.len() as u64).collect::<Vec<_>>(),
            "versions of {name}"
        );
    }
    assert_eq!(
        store.head().await.unwrap(),
        GlobalPosition(10 * rounds as u64)
    );
}
