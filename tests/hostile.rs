//! Hostile input, through both intake paths (`import-jetstream`, and
//! `ingest consume` + `ingest process` over a real NATS stream): valid
//! calendar records interleaved with broken and hostile lines of many
//! kinds. Every valid record must reach the read models exactly once,
//! every hostile line must be accounted for (rejected with a reason, a
//! dead letter, filtered, or an empty line counted), the projections must
//! keep running, and `rebuild --verify` and `audit verify` must be clean.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use store::PgEventStore;
use store::testkit::ScratchDatabase;

#[path = "support/capture.rs"]
#[allow(dead_code)]
mod capture;
#[path = "support/pipeline.rs"]
#[allow(dead_code)]
mod pipeline;
#[path = "support/supervised.rs"]
mod supervised;

use capture::{EVENT, RSVP, cid_of, commit, event_record, rev_at, rsvp_record};
use pipeline::{TestBus, binary, migrated, rejections, write_bytes};

/// What a hostile line must become.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    /// A `RecordRejected`, and on the bus a dead letter.
    Rejected,
    /// Not synced: ignored by the applier, filtered by the consumer.
    Ignored,
    /// An empty line, counted.
    Empty,
}

struct Corpus {
    lines: Vec<Vec<u8>>,
    /// Valid event names, each expected once in the read model, with the
    /// description it must keep.
    events: BTreeMap<String, String>,
    rsvps: usize,
    expected: BTreeMap<Expect, usize>,
    /// Hostile lines by kind, for the report of a failure.
    kinds: BTreeMap<&'static str, usize>,
}

impl Corpus {
    fn hostile(&mut self, kind: &'static str, expect: Expect, line: impl Into<Vec<u8>>) {
        self.lines.push(line.into());
        *self.expected.entry(expect).or_default() += 1;
        *self.kinds.entry(kind).or_default() += 1;
    }

    fn bytes(&self) -> Vec<u8> {
        self.lines.join(&b'\n')
    }
}

fn line(value: Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// A create of an event record by `did` with `record`, with the rest of the
/// commit valid.
fn create(did: &str, time_us: i64, rkey: &str, record: Value) -> Value {
    json!({"did": did, "time_us": time_us, "kind": "commit", "commit": {
        "rev": rev_at(time_us), "operation": "create", "collection": EVENT, "rkey": rkey,
        "record": record, "cid": cid_of(&format!("{did}/{rkey}/{time_us}"))}})
}

/// `organizers` accounts with three events each, two guests answering
/// each, and between them one hostile line of every kind per organizer.
fn corpus(organizers: usize) -> Corpus {
    let mut corpus = Corpus {
        lines: vec![],
        events: BTreeMap::new(),
        rsvps: 0,
        expected: BTreeMap::new(),
        kinds: BTreeMap::new(),
    };
    let mut tick = capture::clock();
    for o in 0..organizers {
        let org = format!("did:plc:org{o}");
        for e in 0..3 {
            let name = format!("Meetup {o}.{e}");
            let description = format!("Talks and pizza, round {o}.");
            let record = event_record(&name, json!({"description": description}));
            corpus.lines.push(
                commit(
                    &org,
                    tick(),
                    "create",
                    EVENT,
                    &format!("ev{e}"),
                    Some(record),
                )
                .into_bytes(),
            );
            corpus.events.insert(name, description);
            for g in 0..2 {
                let uri = format!("at://{org}/{EVENT}/ev{e}");
                let answer = rsvp_record(&uri, ["going", "interested"][g]);
                corpus.lines.push(
                    commit(
                        &format!("did:plc:guest{g}"),
                        tick(),
                        "create",
                        RSVP,
                        &format!("r{o}x{e}"),
                        Some(answer),
                    )
                    .into_bytes(),
                );
                corpus.rsvps += 1;
            }
        }
        hostile_round(&mut corpus, &org, o, &mut tick);
    }
    corpus
}

fn hostile_round(corpus: &mut Corpus, org: &str, o: usize, tick: &mut impl FnMut() -> i64) {
    use Expect::{Empty, Ignored, Rejected};
    let record = |name: &str| event_record(name, json!({}));
    corpus.hostile(
        "nul in a name",
        Rejected,
        line(create(
            org,
            tick(),
            &format!("nul{o}"),
            record(&format!("bad\u{0}{o}")),
        )),
    );
    let mut update = create(
        org,
        tick(),
        "ev0",
        event_record(
            &format!("Meetup {o}.0"),
            json!({"description": "over\u{0}written"}),
        ),
    );
    update["commit"]["operation"] = "update".into();
    corpus.hostile("nul in an update of a valid event", Rejected, line(update));
    let located = event_record(
        "Located",
        json!({"locations": [{"$type": "community.lexicon.location.address", "country": "DE", "name": "c\u{0}base"}]}),
    );
    corpus.hostile(
        "nul in a location",
        Rejected,
        line(create(org, tick(), &format!("loc{o}"), located)),
    );
    let keyed = event_record("Keyed", json!({format!("x\u{0}{o}"): 1}));
    corpus.hostile(
        "nul in a key",
        Rejected,
        line(create(org, tick(), &format!("key{o}"), keyed)),
    );
    let mut broken = format!("{{\"did\":\"did:plc:x{o}").into_bytes();
    broken.extend_from_slice(b"\xff\xfe\"}");
    corpus.hostile("a line that is not UTF-8", Rejected, broken);
    corpus.hostile(
        "an upper-case DID method",
        Rejected,
        line(create(&format!("did:PLC:bad{o}"), tick(), "k", record("x"))),
    );
    corpus.hostile(
        "a DID without its scheme",
        Rejected,
        line(create(&format!("bad{o}"), tick(), "k", record("x"))),
    );
    corpus.hostile(
        "a record key with a slash",
        Rejected,
        line(create(org, tick(), &format!("a/b{o}"), record("x"))),
    );
    let mut rev = create(org, tick(), &format!("rev{o}"), record("x"));
    rev["commit"]["rev"] = format!("rev{o}").into();
    corpus.hostile("a revision that is no TID", Rejected, line(rev));
    let mut cid = create(org, tick(), &format!("cid{o}"), record("x"));
    cid["commit"]["cid"] = format!("bafy{o}").into();
    corpus.hostile("a CID that does not parse", Rejected, line(cid));
    let mut negative = create(org, tick(), &format!("neg{o}"), record("x"));
    negative["time_us"] = (-1 - o as i64).into();
    corpus.hostile("a negative time_us", Rejected, line(negative));
    let mut text_time = create(org, tick(), &format!("txt{o}"), record("x"));
    text_time["time_us"] = format!("soon{o}").into();
    corpus.hostile("a time_us that is text", Rejected, line(text_time));
    corpus.hostile("an empty line", Empty, "");
    corpus.hostile("a line of whitespace", Empty, " \t ");
    corpus.hostile("not JSON", Rejected, format!("{{not json {o}"));
    corpus.hostile("a JSON array", Rejected, format!("[{o}]"));
    corpus.hostile(
        "JSON nested past any parser's depth",
        Rejected,
        format!("{}{o}{}", "[".repeat(5_000), "]".repeat(5_000)),
    );
    let huge = event_record(
        &format!("Huge {o}"),
        json!({"description": "x".repeat(70_000)}),
    );
    corpus.hostile(
        "a record over the size limit",
        Rejected,
        line(create(org, tick(), &format!("huge{o}"), huge)),
    );
    let endless = event_record(
        &format!("Endless {o}"),
        json!({"description": "y".repeat(120_000)}),
    );
    corpus.hostile(
        "a line over the line limit",
        Rejected,
        line(create(org, tick(), &format!("endless{o}"), endless)),
    );
    let mut upsert = create(org, tick(), &format!("up{o}"), record("x"));
    upsert["commit"]["operation"] = "upsert".into();
    corpus.hostile("an unknown operation", Rejected, line(upsert));
    let uri = format!("at://{org}/{EVENT}/ev0");
    let mut maybe = rsvp_record(&uri, "maybe");
    maybe["status"] = format!("{RSVP}#maybe").into();
    corpus.hostile(
        "an unknown RSVP status",
        Rejected,
        commit(
            "did:plc:guest0",
            tick(),
            "create",
            RSVP,
            &format!("maybe{o}"),
            Some(maybe),
        ),
    );
    let mut nowhere = rsvp_record(&uri, "going");
    nowhere["subject"]["uri"] = format!("https://example.org/{o}").into();
    corpus.hostile(
        "an RSVP to no AT-URI",
        Rejected,
        commit(
            "did:plc:guest0",
            tick(),
            "create",
            RSVP,
            &format!("nowhere{o}"),
            Some(nowhere),
        ),
    );
    let tomorrow = event_record(&format!("Tomorrow {o}"), json!({"startsAt": "tomorrow"}));
    corpus.hostile(
        "a record invalid by lexicon",
        Rejected,
        line(create(org, tick(), &format!("tmrw{o}"), tomorrow)),
    );
    let mut bare = create(org, tick(), &format!("bare{o}"), record("x"));
    bare["commit"].as_object_mut().unwrap().remove("record");
    corpus.hostile("a create without its record", Rejected, line(bare));
    corpus.hostile(
        "an identity with a broken handle",
        Rejected,
        line(json!({"did": org, "time_us": tick(), "kind": "identity",
        "identity": {"did": org, "handle": format!("not a handle {o}"), "seq": o}})),
    );
    corpus.hostile("an account with a broken status", Rejected, line(json!({"did": org, "time_us": tick(), "kind": "account",
        "account": {"did": org, "active": false, "status": format!("gone for\u{0}good {o}"), "seq": o}})));
    corpus.hostile(
        "a delete of a record never seen",
        Rejected,
        commit(org, tick(), "delete", EVENT, &format!("never{o}"), None),
    );
    let surrogate = line(create(org, tick(), &format!("sur{o}"), record("x")));
    corpus.hostile(
        "a lone surrogate",
        Rejected,
        with_raw_name(surrogate, &format!("\\ud800{o}")),
    );
    corpus.hostile(
        "an unknown kind",
        Ignored,
        line(json!({"did": org, "time_us": tick(), "kind": "hostile"})),
    );
    corpus.hostile("another collection", Ignored, line(json!({"did": org, "time_us": tick(), "kind": "commit",
        "commit": {"rev": rev_at(tick()), "operation": "create", "collection": "app.bsky.feed.post", "rkey": format!("p{o}"),
        "record": {"text": "\u{0}"}, "cid": cid_of("post")}})));
}

/// `line` with its record's name `"x"` replaced by raw JSON text.
fn with_raw_name(line: Vec<u8>, raw: &str) -> Vec<u8> {
    String::from_utf8(line)
        .unwrap()
        .replacen(r#""name":"x""#, &format!(r#""name":"{raw}""#), 1)
        .into_bytes()
}

/// Runs every projection until each has reached the head, then stops
/// them; a projection stuck on an event fails the test with its reason.
async fn project(db: &ScratchDatabase) -> PgEventStore {
    let store = PgEventStore::connect(&db.url(), 16).await.unwrap();
    let (_, tasks) = supervised::projecting(&store);
    let head = store::EventStore::head(&store).await.unwrap();
    for _ in 0..600 {
        let lags = projections::runner::lag(store.pool(), head).await.unwrap();
        if lags.iter().all(|lag| lag.behind == 0) {
            break;
        }
        let stopped = projections::failures::current(store.pool()).await.unwrap();
        assert!(stopped.is_empty(), "a projection stopped: {stopped:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tasks.iter().for_each(|task| task.abort());
    let lags = projections::runner::lag(store.pool(), head).await.unwrap();
    assert!(lags.iter().all(|lag| lag.behind == 0), "{lags:?}");
    store
}

async fn assert_read_models_hold_every_valid_record_once(store: &PgEventStore, corpus: &Corpus) {
    let rows: Vec<(String, Option<String>, String)> =
        sqlx::query_as("SELECT name, description, state FROM read.occurrences ORDER BY name")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let found: BTreeMap<String, String> = rows
        .iter()
        .map(|(name, description, state)| {
            assert_eq!(state, "active", "{name}");
            (name.clone(), description.clone().unwrap_or_default())
        })
        .collect();
    assert_eq!(rows.len(), found.len(), "an event appears twice");
    assert_eq!(found, corpus.events);
    let attendees: i64 = sqlx::query_scalar("SELECT count(*) FROM read.attendees")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(attendees as usize, corpus.rsvps);
}

fn assert_verified(db: &ScratchDatabase) {
    binary(db, &["reconcile", "--until-idle"]);
    let verified = binary(db, &["rebuild", "--verify"]);
    assert_eq!(
        verified.matches("no difference").count(),
        projections::Projection::ALL.len(),
        "{verified}"
    );
    let audit = binary(db, &["audit", "verify"]);
    assert!(!audit.contains("differ"), "{audit}");
}

#[tokio::test]
async fn a_hostile_corpus_imported_leaves_every_valid_record_once_and_accounts_for_every_line() {
    let corpus = corpus(40);
    let (_dir, url) = write_bytes(&corpus.bytes());
    let db = migrated().await;
    let path = url.trim_start_matches("file://");
    let out = binary(&db, &["import-jetstream", path]);
    let empty = corpus.expected[&Expect::Empty];
    assert!(
        out.contains(&format!("{} lines: ", corpus.lines.len()))
            && out.contains(&format!("{empty} empty")),
        "{out}"
    );
    let rejected = rejections(&db);
    assert_eq!(
        rejected.len(),
        corpus.expected[&Expect::Rejected],
        "by kind {:#?}\n{out}",
        corpus.kinds
    );
    assert!(rejected.iter().all(|(_, reason, _)| !reason.is_empty()));
    let ignored: usize = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ignored"))
        .filter_map(|rest| rest.split(':').next()?.trim().parse::<usize>().ok())
        .sum();
    assert_eq!(ignored, corpus.expected[&Expect::Ignored], "{out}");

    let store = project(&db).await;
    assert_read_models_hold_every_valid_record_once(&store, &corpus).await;
    assert_verified(&db);
}

#[tokio::test]
async fn a_hostile_corpus_through_the_bus_leaves_every_valid_record_once_and_accounts_for_every_line()
 {
    let corpus = corpus(25);
    let (_dir, url) = write_bytes(&corpus.bytes());
    let db = migrated().await;
    let bus = TestBus::new();
    let consumed = bus.run(&db, &["consume", &url]);
    let empty = corpus.expected[&Expect::Empty];
    assert!(
        consumed.contains(&format!("{} lines: ", corpus.lines.len()))
            && consumed.contains(&format!("{empty} empty")),
        "{consumed}"
    );
    bus.run(&db, &["process", "--until-idle"]);
    // Both paths agree: every hostile line is a RecordRejected, whether the
    // consumer refused it or the processor could not apply it, and each
    // has its dead letter.
    let rejected = rejections(&db).len();
    assert_eq!(
        rejected,
        corpus.expected[&Expect::Rejected],
        "by kind {:#?}\n{consumed}",
        corpus.kinds
    );
    assert_eq!(bus.dead_letters().await.len(), rejected);
    assert!(
        consumed.contains(&format!("{} filtered", corpus.expected[&Expect::Ignored])),
        "{consumed}"
    );

    let store = project(&db).await;
    assert_read_models_hold_every_valid_record_once(&store, &corpus).await;
    assert_verified(&db);
    bus.delete().await;
}

#[tokio::test]
async fn the_consumer_refuses_a_bus_that_cannot_carry_the_largest_message() {
    let dir = pipeline::tempdir::Dir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("small.conf");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nmax_payload: 16384\njetstream {{ store_dir: {:?} }}\n",
            dir.path().join("js")
        ),
    )
    .unwrap();
    let mut server = std::process::Command::new("nats-server")
        .arg("-c")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server runs (scripts/setup.sh installs it)");
    let url = format!("nats://127.0.0.1:{port}");
    for _ in 0..50 {
        if async_nats::connect(&url).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_capture, source) = write_bytes(b"");
    let db = migrated().await;
    let output = TestBus::new()
        .command(&db, &["consume", &source])
        .env("NATS_URL", &url)
        .output()
        .unwrap();
    server.kill().ok();
    server.wait().ok();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("accepts messages of at most 16384 bytes")
            && stderr.contains("raise the server's max_payload"),
        "{stderr}"
    );
}
