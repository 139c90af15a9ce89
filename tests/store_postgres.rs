//! The event store conformance suite, run against the PostgreSQL adapter on
//! a scratch database per test.

use std::time::Duration;

use store::PgEventStore;
use store::testkit::ScratchDatabase;

async fn fresh_store() -> (PgEventStore, ScratchDatabase) {
    let database = ScratchDatabase::create().await;
    let store = database
        .store(10)
        .await
        .with_poll_interval(Duration::from_millis(50));
    (store, database)
}

store::event_store_conformance!(fresh_store);

mod hash_chain {
    use domain::{GlobalPosition, StreamId};
    use store::postgres::chain::{ChainBreak, ChainWalk};
    use store::testkit::conformance::probe;
    use store::{EventStore, ExpectedVersion, PgEventStore, StreamAppend};

    use super::fresh_store;

    async fn walk(store: &PgEventStore) -> (u64, Vec<ChainBreak>) {
        let mut chain = ChainWalk::default();
        let (mut after, mut breaks) = (GlobalPosition(0), vec![]);
        loop {
            let page = store.read_all_hashed(after, 7).await.unwrap();
            let Some((last, _)) = page.last() else {
                return (after.0, breaks);
            };
            after = last.global_position;
            for (event, hash) in &page {
                breaks.extend(chain.check(event, hash.as_deref()).err());
            }
        }
    }

    #[tokio::test]
    async fn every_append_extends_the_chain_and_a_rewritten_payload_breaks_it() {
        let (store, database) = fresh_store().await;
        let stream = |n: usize| StreamId::new("chained", n);
        store
            .append(
                &stream(0),
                ExpectedVersion::Any,
                vec![probe("a"), probe("b")],
            )
            .await
            .unwrap();
        store
            .append_many(vec![
                StreamAppend {
                    stream: stream(1),
                    expected: ExpectedVersion::NoStream,
                    events: vec![probe("c")],
                },
                StreamAppend {
                    stream: stream(2),
                    expected: ExpectedVersion::NoStream,
                    events: vec![probe("d"), probe("e")],
                },
            ])
            .await
            .unwrap();
        let writers: Vec<_> = (0..4)
            .map(|writer| {
                let store = store.clone();
                tokio::spawn(async move {
                    for n in 0..10 {
                        let event = probe(&format!("{writer}/{n}"));
                        store
                            .append(&stream(10 + writer), ExpectedVersion::Any, vec![event])
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(walk(&store).await, (45, vec![]));

        let pool = database.pool(1).await;
        sqlx::raw_sql(
            "ALTER TABLE eventstore.events DISABLE TRIGGER events_are_append_only;
             UPDATE eventstore.events SET payload = '\\x00' WHERE global_position = 3;
             ALTER TABLE eventstore.events ENABLE TRIGGER events_are_append_only;",
        )
        .execute(&pool)
        .await
        .unwrap();
        assert_eq!(
            walk(&store).await,
            (
                45,
                vec![ChainBreak::Mismatch {
                    position: GlobalPosition(3)
                }]
            )
        );
    }

    #[tokio::test]
    async fn writers_racing_for_the_head_all_append_and_the_chain_stays_whole() {
        let (store, _database) = fresh_store().await;
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let store = store.clone();
                tokio::spawn(async move {
                    for n in 0..25 {
                        store
                            .append_many(vec![StreamAppend {
                                stream: StreamId::new("racing", writer * 100 + n),
                                expected: ExpectedVersion::NoStream,
                                events: vec![probe(&format!("{writer}/{n}"))],
                            }])
                            .await
                            .unwrap_or_else(|err| panic!("writer {writer}, append {n}: {err}"));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        assert_eq!(walk(&store).await, (200, vec![]));
    }
}

mod paging {
    use domain::{GlobalPosition, StreamId};
    use futures::StreamExt;
    use store::postgres::PAGE_BYTES;
    use store::testkit::conformance::probe;
    use store::{EventStore, ExpectedVersion};

    use super::fresh_store;

    #[tokio::test]
    async fn a_page_of_the_log_stops_at_its_byte_budget_and_the_next_goes_on() {
        let (store, _database) = fresh_store().await;
        let big = |label: &str| {
            let mut event = probe(label);
            event.payload.bytes = vec![b'x'; PAGE_BYTES as usize * 3 / 8];
            event
        };
        let events: Vec<_> = ["a", "b", "c", "d", "e"].into_iter().map(big).collect();
        store
            .append(&StreamId::new("big", 1), ExpectedVersion::NoStream, events)
            .await
            .unwrap();
        let positions = |page: &[domain::RecordedEvent]| -> Vec<u64> {
            page.iter().map(|e| e.global_position.0).collect()
        };
        let first = store.read_all(GlobalPosition(0), 100).await.unwrap();
        assert_eq!(positions(&first), [1, 2, 3]);
        let rest = store.read_all(GlobalPosition(3), 100).await.unwrap();
        assert_eq!(positions(&rest), [4, 5]);
        let hashed = store.read_all_hashed(GlobalPosition(0), 100).await.unwrap();
        assert_eq!(hashed.len(), 3);
        assert!(hashed.iter().all(|(_, hash)| hash.is_some()));
        let all: Vec<u64> = store
            .subscribe(GlobalPosition(0))
            .take(5)
            .map(|event| event.unwrap().global_position.0)
            .collect()
            .await;
        assert_eq!(all, [1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn an_event_larger_than_the_budget_still_comes_alone() {
        let (store, _database) = fresh_store().await;
        let mut huge = probe("huge");
        huge.payload.bytes = vec![b'y'; PAGE_BYTES as usize + 1];
        store
            .append(
                &StreamId::new("huge", 1),
                ExpectedVersion::NoStream,
                vec![huge, probe("small")],
            )
            .await
            .unwrap();
        let page = store.read_all(GlobalPosition(0), 100).await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].payload.bytes.len(), PAGE_BYTES as usize + 1);
        let next = store.read_all(GlobalPosition(1), 100).await.unwrap();
        assert_eq!(next.len(), 1);
    }
}
