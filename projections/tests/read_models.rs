//! Each projection on the real database: events in, rows out.

use std::time::Duration;

use domain::attendance::{AttendanceStatus, RsvpChanged};
use domain::identity::{
    AccountRegistered, AccountStatusChanged, HandleChanged, PersonalDataErased,
    ShadowAccountCreated, ShadowClaimed, UserId,
};
use domain::occurrence::{
    EventChangedExternally, EventDeletedExternally, EventDetails, EventImported,
    OccurrenceCancelled, OccurrenceEdited, OccurrenceId, OccurrenceScheduled,
};
use domain::recurrence::Recurrence;
use domain::series::{RecurrenceChanged, SeriesCreated, SeriesId};
use domain::{
    Actor, DomainEvent, EncodedPayload, EventId, EventMetadata, GlobalPosition, NewEvent, Origin,
    StreamId, Timestamp,
};
use projections::projection::LIVE_SCHEMA;
use projections::runner::{lag, run};
use projections::{Projection, ProjectionError};
use sqlx::Row;
use store::testkit::ScratchDatabase;
use store::{EventStore, ExpectedVersion, PgEventStore};
use uuid::Uuid;

const URI: &str = "at://did:plc:org/community.lexicon.calendar.event/3ev";

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn new_event(payload: EncodedPayload) -> NewEvent {
    NewEvent {
        metadata: EventMetadata {
            event_id: EventId(Uuid::new_v4()),
            causation_id: None,
            correlation_id: None,
            origin: Origin::Bluesky,
            actor: Actor::system("test"),
        },
        payload,
    }
}

async fn append(store: &PgEventStore, events: Vec<DomainEvent>) {
    for event in events {
        store
            .append(
                &StreamId::new("test", Uuid::new_v4()),
                ExpectedVersion::Any,
                vec![new_event(event.encode())],
            )
            .await
            .unwrap();
    }
}

/// Applies the whole log to every projection, in batches of `batch`.
async fn project(store: &PgEventStore, batch: usize) {
    let mut conn = store.pool().acquire().await.unwrap();
    for projection in Projection::ALL {
        let mut checkpoint = projection.checkpoint(store.pool()).await.unwrap();
        loop {
            let events = store.read_all(checkpoint, batch).await.unwrap();
            let Some(last) = events.last() else { break };
            projection
                .apply(&mut conn, LIVE_SCHEMA, &events, Some(checkpoint))
                .await
                .unwrap();
            checkpoint = last.global_position;
        }
    }
}

fn record(name: &str, ends_at: Option<&str>) -> String {
    let mut record = serde_json::json!({"$type": "community.lexicon.calendar.event", "name": name,
        "createdAt": "2026-11-01T10:00:00Z", "startsAt": "2026-12-01T18:00:00Z", "timezone": "Europe/Berlin",
        "mode": "community.lexicon.calendar.event#inperson"});
    if let Some(ends_at) = ends_at {
        record["endsAt"] = serde_json::json!(ends_at);
    }
    record.to_string()
}

fn details(name: &str) -> EventDetails {
    EventDetails {
        name: name.into(),
        description: Some("local".into()),
        starts_at: Some(at("2026-12-03T19:00:00Z")),
        ends_at: None,
        time_zone: Some("Europe/Berlin".into()),
        mode: None,
        status: None,
        places: vec![],
        links: vec![],
        rsvp_expected: Some(true),
        created_at: at("2026-11-01T00:00:00Z"),
    }
}

async fn count(store: &PgEventStore, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM read.{table}"
    )))
    .fetch_one(store.pool())
    .await
    .unwrap()
}

async fn fresh() -> (PgEventStore, ScratchDatabase) {
    let db = ScratchDatabase::create().await;
    (
        db.store(4)
            .await
            .with_poll_interval(Duration::from_millis(20)),
        db,
    )
}

#[tokio::test]
async fn an_imported_event_is_an_occurrence_with_its_external_reference_until_deleted() {
    let (store, _db) = fresh().await;
    let id = OccurrenceId::for_record(URI);
    let observed_at = at("2026-11-24T10:00:00Z");
    append(
        &store,
        vec![
            EventImported {
                occurrence_id: id,
                uri: URI.into(),
                cid: "bafy1".into(),
                record: record("Rust Meetup", Some("2026-12-01T20:00:00Z")),
                observed_at,
            }
            .into(),
            EventChangedExternally {
                occurrence_id: id,
                uri: URI.into(),
                cid: "bafy2".into(),
                record: record("Rust Meetup #12", None),
                observed_at,
            }
            .into(),
        ],
    )
    .await;
    project(&store, 1000).await;
    let row = sqlx::query("SELECT * FROM read.occurrences WHERE id = $1")
        .bind(id.0)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>("name"), "Rust Meetup #12");
    assert_eq!(
        row.get::<Option<chrono::DateTime<chrono::Utc>>, _>("ends_at"),
        None,
        "the removed end time is cleared"
    );
    assert_eq!(row.get::<String, _>("origin"), "bluesky");
    assert_eq!(
        row.get::<Option<String>, _>("external_id").as_deref(),
        Some(URI)
    );
    assert_eq!(
        row.get::<Option<String>, _>("external_cid").as_deref(),
        Some("bafy2")
    );
    assert_eq!(
        row.get::<Option<String>, _>("external_source").as_deref(),
        Some("bluesky")
    );
    assert_eq!(
        row.get::<Option<serde_json::Value>, _>("external_data")
            .unwrap()["name"],
        "Rust Meetup #12"
    );
    assert_eq!(
        row.get::<Option<String>, _>("time_zone").as_deref(),
        Some("Europe/Berlin")
    );
    assert_eq!(
        row.get::<Option<String>, _>("mode").as_deref(),
        Some("inperson")
    );
    assert!(row.get::<bool, _>("is_read_only"));
    // The URL name comes from the first name and survives renames.
    assert!(
        row.get::<String, _>("slug").starts_with("rust-meetup-"),
        "{}",
        row.get::<String, _>("slug")
    );
    assert!(!row.get::<String, _>("slug").starts_with("rust-meetup-12"));
    let reference =
        sqlx::query("SELECT kind, local_id, cid FROM read.external_refs WHERE uri = $1")
            .bind(URI)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(
        (
            reference.get::<String, _>("kind"),
            reference.get::<Uuid, _>("local_id")
        ),
        ("occurrence".into(), id.0)
    );
    assert_eq!(
        reference.get::<Option<String>, _>("cid").as_deref(),
        Some("bafy2")
    );

    append(
        &store,
        vec![
            EventDeletedExternally {
                occurrence_id: id,
                uri: URI.into(),
                observed_at,
            }
            .into(),
        ],
    )
    .await;
    project(&store, 1000).await;
    let state: String = sqlx::query_scalar("SELECT state FROM read.occurrences WHERE id = $1")
        .bind(id.0)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(state, "deleted");
    let references = count(&store, "external_refs").await;
    assert_eq!(references, 0);
}

#[tokio::test]
async fn a_series_and_its_local_occurrences_are_linked() {
    let (store, _db) = fresh().await;
    let series_id = SeriesId(Uuid::from_u128(1));
    let occurrence_id = OccurrenceId(Uuid::from_u128(2));
    let recurrence = Recurrence {
        rule: "FREQ=WEEKLY;BYDAY=TH".into(),
        time_zone: "Europe/Berlin".into(),
        starts_at: at("2026-12-03T19:00:00Z"),
        exdates: vec![],
        rdates: vec![],
    };
    append(
        &store,
        vec![
            SeriesCreated {
                series_id,
                slug: "book-club".into(),
                details: details("Book club"),
                recurrence: recurrence.clone(),
                origin: Origin::OpenMeet,
            }
            .into(),
            RecurrenceChanged {
                series_id,
                recurrence: Recurrence {
                    rule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH".into(),
                    ..recurrence
                },
            }
            .into(),
            OccurrenceScheduled {
                occurrence_id,
                series_id: Some(series_id),
                details: details("Book club"),
            }
            .into(),
            OccurrenceEdited {
                occurrence_id,
                details: details("Book club: Dune"),
            }
            .into(),
            OccurrenceCancelled {
                occurrence_id,
                reason: None,
            }
            .into(),
        ],
    )
    .await;
    project(&store, 2).await;
    let series = sqlx::query("SELECT slug, rrule, origin, is_read_only FROM read.series")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(
        series.get::<String, _>("rrule"),
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"
    );
    assert_eq!(series.get::<String, _>("origin"), "openmeet");
    assert!(!series.get::<bool, _>("is_read_only"));
    let occurrence = sqlx::query("SELECT series_id, name, state, origin FROM read.occurrences")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(
        occurrence.get::<Option<Uuid>, _>("series_id"),
        Some(series_id.0)
    );
    assert_eq!(occurrence.get::<String, _>("name"), "Book club: Dune");
    assert_eq!(occurrence.get::<String, _>("state"), "cancelled");
}

fn rsvp(user: u128, status: AttendanceStatus, changed_at: &str) -> DomainEvent {
    RsvpChanged {
        occurrence_id: OccurrenceId::for_record(URI),
        attendee_id: UserId(Uuid::from_u128(user)),
        status,
        origin: Origin::Bluesky,
        changed_at: at(changed_at),
        rsvp_uri: Some(format!(
            "at://did:plc:u{user}/community.lexicon.calendar.rsvp/3r"
        )),
        rsvp_cid: Some("bafyr".into()),
    }
    .into()
}

#[tokio::test]
async fn a_guest_answering_one_event_from_two_records_keeps_both_uris() {
    let (store, _db) = fresh().await;
    let from_record = |rkey: &str, status, changed_at| {
        let DomainEvent::RsvpChanged(mut changed) = rsvp(1, status, changed_at) else {
            unreachable!()
        };
        changed.rsvp_uri = Some(format!(
            "at://did:plc:u1/community.lexicon.calendar.rsvp/{rkey}"
        ));
        DomainEvent::from(changed)
    };
    append(
        &store,
        vec![
            from_record(
                "early",
                AttendanceStatus::Interested,
                "2026-11-24T11:00:00Z",
            ),
            from_record("later", AttendanceStatus::Attending, "2026-11-24T12:00:00Z"),
        ],
    )
    .await;
    project(&store, 2).await;
    let refs: Vec<(String, Uuid)> = sqlx::query_as(
        "SELECT uri, local_id FROM read.external_refs WHERE kind = 'rsvp' ORDER BY uri",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(refs.len(), 2, "{refs:?}");
    assert!(refs[0].0.ends_with("/early") && refs[1].0.ends_with("/later"));
    assert_eq!(refs[0].1, refs[1].1, "both stand for the one attendance");
    let status: String = sqlx::query_scalar("SELECT status FROM read.attendees")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(status, "attending");
}

#[tokio::test]
async fn an_attendee_appears_once_with_the_latest_answer_whatever_the_order() {
    let (store, _db) = fresh().await;
    append(
        &store,
        vec![
            rsvp(1, AttendanceStatus::Declined, "2026-11-24T12:00:00Z"),
            rsvp(1, AttendanceStatus::Attending, "2026-11-24T11:00:00Z"),
            rsvp(2, AttendanceStatus::Interested, "2026-11-24T11:00:00Z"),
        ],
    )
    .await;
    project(&store, 1).await;
    let rows = sqlx::query("SELECT user_id, status FROM read.attendees ORDER BY user_id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let statuses: Vec<(Uuid, String)> = rows
        .iter()
        .map(|r| (r.get("user_id"), r.get("status")))
        .collect();
    assert_eq!(
        statuses,
        [
            (Uuid::from_u128(1), "declined".into()),
            (Uuid::from_u128(2), "interested".into())
        ]
    );
    let rsvp_refs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM read.external_refs WHERE kind = 'rsvp'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(rsvp_refs, 2);

    let duplicate = sqlx::query(
        "INSERT INTO read.attendees (occurrence_id, user_id, status, origin, changed_at, last_position) \
         SELECT occurrence_id, user_id, 'attending', 'openmeet', now(), 0 FROM read.attendees LIMIT 1",
    )
    .execute(store.pool())
    .await
    .unwrap_err();
    assert!(
        duplicate.to_string().contains("attendees_pkey"),
        "{duplicate}"
    );
}

#[tokio::test]
async fn shadow_and_full_accounts_are_users_with_their_handles() {
    let (store, _db) = fresh().await;
    append(
        &store,
        vec![
            ShadowAccountCreated {
                user_id: UserId::shadow_for("did:plc:guest"),
                did: "did:plc:guest".into(),
                handle: None,
                display_name: Some("Guest".into()),
            }
            .into(),
            AccountRegistered {
                user_id: UserId(Uuid::from_u128(9)),
                did: "did:plc:me".into(),
                handle: Some("me.test".into()),
            }
            .into(),
            HandleChanged {
                did: "did:plc:guest".into(),
                handle: "guest.example".into(),
            }
            .into(),
        ],
    )
    .await;
    project(&store, 1000).await;
    let rows = sqlx::query("SELECT bluesky_did, bluesky_handle, is_shadow_account FROM read.users ORDER BY bluesky_did")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let users: Vec<(String, Option<String>, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.get("bluesky_did"),
                r.get("bluesky_handle"),
                r.get("is_shadow_account"),
            )
        })
        .collect();
    assert_eq!(
        users,
        [
            ("did:plc:guest".into(), Some("guest.example".into()), true),
            ("did:plc:me".into(), Some("me.test".into()), false),
        ]
    );
}

#[tokio::test]
async fn an_event_that_does_not_decode_stops_the_projection_naming_it() {
    let (store, _db) = fresh().await;
    append(
        &store,
        vec![rsvp(1, AttendanceStatus::Attending, "2026-11-24T12:00:00Z")],
    )
    .await;
    let stream = StreamId::new("future", 1);
    store
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![new_event(EncodedPayload {
                event_type: "FromTheFuture".into(),
                schema_version: 1,
                bytes: vec![],
            })],
        )
        .await
        .unwrap();
    let events = store.read_all(GlobalPosition(0), 10).await.unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    let err = Projection::Attendees
        .apply(&mut conn, LIVE_SCHEMA, &events, Some(GlobalPosition(0)))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "projection attendees stopped at position 2 (FromTheFuture in future-1): unknown event type \"FromTheFuture\""
    );
    assert_eq!(
        Projection::Attendees
            .checkpoint(store.pool())
            .await
            .unwrap(),
        GlobalPosition(0),
        "nothing was committed"
    );
    let rows = count(&store, "attendees").await;
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn a_second_runner_of_the_same_projection_is_refused() {
    let (store, _db) = fresh().await;
    append(
        &store,
        vec![
            rsvp(1, AttendanceStatus::Attending, "2026-11-24T12:00:00Z"),
            rsvp(2, AttendanceStatus::Attending, "2026-11-24T12:00:00Z"),
        ],
    )
    .await;
    let events = store.read_all(GlobalPosition(0), 10).await.unwrap();
    let mut conn = store.pool().acquire().await.unwrap();
    Projection::Attendees
        .apply(
            &mut conn,
            LIVE_SCHEMA,
            &events[..1],
            Some(GlobalPosition(0)),
        )
        .await
        .unwrap();
    let stale = Projection::Attendees
        .apply(
            &mut conn,
            LIVE_SCHEMA,
            &events[..1],
            Some(GlobalPosition(0)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            ProjectionError::ConcurrentRunner(Projection::Attendees)
        ),
        "{stale}"
    );
}

#[tokio::test]
async fn running_projections_follow_the_log_and_report_their_lag() {
    let (store, _db) = fresh().await;
    let mut tasks = tokio::task::JoinSet::new();
    for projection in Projection::ALL {
        tasks.spawn(run(store.clone(), projection));
    }
    append(
        &store,
        (0..50)
            .map(|n| rsvp(n, AttendanceStatus::Attending, "2026-11-24T12:00:00Z"))
            .collect(),
    )
    .await;
    let head = store.head().await.unwrap();
    let caught_up = async {
        loop {
            let lags = lag(store.pool(), head).await.unwrap();
            if lags.iter().all(|lag| lag.behind == 0) {
                return lags;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let lags = tokio::time::timeout(Duration::from_secs(20), caught_up)
        .await
        .expect("projections caught up");
    assert_eq!(lags.len(), Projection::ALL.len());
    let rows = count(&store, "attendees").await;
    assert_eq!(rows, 50);
    tasks.abort_all();
}

fn identity_history() -> Vec<DomainEvent> {
    let did = "did:plc:org";
    let shadow = UserId::shadow_for(did);
    let rsvp_by = |user: UserId| -> DomainEvent {
        RsvpChanged {
            occurrence_id: OccurrenceId(Uuid::from_u128(77)),
            attendee_id: user,
            status: AttendanceStatus::Attending,
            origin: Origin::Bluesky,
            changed_at: at("2026-11-02T10:00:00Z"),
            rsvp_uri: None,
            rsvp_cid: None,
        }
        .into()
    };
    let status = |active: bool, status: &str| -> DomainEvent {
        AccountStatusChanged {
            did: did.into(),
            active,
            status: Some(status.into()),
            observed_at: at("2026-11-03T10:00:00Z"),
        }
        .into()
    };
    vec![
        ShadowAccountCreated {
            user_id: shadow,
            did: did.into(),
            handle: Some("org.test".into()),
            display_name: Some("Org".into()),
        }
        .into(),
        EventImported {
            occurrence_id: OccurrenceId::for_record(URI),
            uri: URI.into(),
            cid: "bafy1".into(),
            record: record("Rust Meetup", None),
            observed_at: at("2026-11-01T10:00:00Z"),
        }
        .into(),
        rsvp_by(shadow),
        rsvp_by(UserId(Uuid::from_u128(5))),
        ShadowClaimed {
            user_id: shadow,
            did: did.into(),
            handle: Some("org.example".into()),
            display_name: Some("Org".into()),
        }
        .into(),
        status(false, "deactivated"),
        status(true, "active"),
        status(false, "deleted"),
        PersonalDataErased {
            user_id: shadow,
            did: did.into(),
        }
        .into(),
    ]
}

async fn users_row(store: &PgEventStore) -> (Option<String>, Option<String>, bool, String) {
    let row = sqlx::query(
        "SELECT bluesky_handle, display_name, is_shadow_account, account_status FROM read.users",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    (
        row.get("bluesky_handle"),
        row.get("display_name"),
        row.get("is_shadow_account"),
        row.get("account_status"),
    )
}

#[tokio::test]
async fn a_claimed_shadow_is_a_full_account_and_its_status_follows_the_network() {
    let (store, _db) = fresh().await;
    let history = identity_history();
    append(&store, history[..6].to_vec()).await;
    project(&store, 1000).await;
    assert_eq!(
        users_row(&store).await,
        (
            Some("org.example".into()),
            Some("Org".into()),
            false,
            "deactivated".into()
        )
    );
    let occurrences: i64 = sqlx::query_scalar("SELECT count(*) FROM read.occurrences")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(
        occurrences, 1,
        "a deactivated account's events are kept, hidden"
    );
    append(&store, history[6..7].to_vec()).await;
    project(&store, 1000).await;
    assert_eq!(users_row(&store).await.3, "active");
}

#[tokio::test]
async fn a_deleted_account_leaves_no_personal_data_in_the_read_models_in_any_batching() {
    for batch in [1, 4, 1000] {
        let (store, _db) = fresh().await;
        append(&store, identity_history()).await;
        project(&store, batch).await;
        assert_eq!(
            users_row(&store).await,
            (None, None, false, "deleted".into()),
            "batch {batch}"
        );
        let occurrences: i64 = sqlx::query_scalar("SELECT count(*) FROM read.occurrences")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let attendees: Vec<Uuid> = sqlx::query_scalar("SELECT user_id FROM read.attendees")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(occurrences, 0, "batch {batch}: the account's events");
        assert_eq!(
            attendees,
            [Uuid::from_u128(5)],
            "batch {batch}: only other people's answers stay"
        );
        for projection in Projection::ALL {
            let report = projections::rebuild::rebuild(&store, &[projection], true, &|_, _| {})
                .await
                .unwrap();
            assert!(
                report[0].differences.is_empty(),
                "batch {batch}: a rebuild of {projection} erases the same rows"
            );
        }
    }
}
