//! Intake: what one firehose message means to this system.
//!
//! Messages arrive in Jetstream's JSON shape (the Jetstream source sends it
//! as is; the subscribeRepos decoder writes the same shape). [`parse`] is a
//! pure function of one message: it checks the record against our lexicons
//! and names what changed, with the id its first event will carry, so the
//! same message always yields the same events and redelivery is idempotent.
//! Input that cannot be applied is [`Parsed::Rejected`] with its reason,
//! never nothing.

use std::borrow::Cow;

use schemas::{Json, Lexicons, formats};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::attendance::AttendanceStatus;
use crate::envelope::{Actor, Append, CorrelationId, EventId, EventMetadata, Origin, derived_uuid};
use crate::rejection::{Input, RecordRejected, rejection_stream};
use crate::text;
use crate::time::Timestamp;

/// The calendar event collection.
pub const EVENT_COLLECTION: &str = "community.lexicon.calendar.event";
/// The RSVP collection.
pub const RSVP_COLLECTION: &str = "community.lexicon.calendar.rsvp";
/// The largest record accepted, in bytes of JSON. The lexicons bound every
/// string (a description is at most 3,000 graphemes), so a calendar record
/// past this size is malformed or hostile, not a big event.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// What a message reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A version of a calendar event record (create or update).
    EventVersion {
        /// The record's AT-URI.
        uri: String,
        /// The version's CID.
        cid: String,
        /// The record's JSON, byte for byte as received.
        record: String,
    },
    /// A calendar event record was deleted.
    EventDeleted {
        /// The record's AT-URI.
        uri: String,
    },
    /// A version of an RSVP record (create or update).
    RsvpVersion {
        /// The RSVP record's AT-URI.
        uri: String,
        /// The version's CID.
        cid: String,
        /// The AT-URI of the event it answers.
        subject_uri: String,
        /// The answer.
        status: AttendanceStatus,
    },
    /// An RSVP record was deleted.
    RsvpDeleted {
        /// The RSVP record's AT-URI.
        uri: String,
    },
    /// The DID's identity changed (its handle, or its DID document).
    Identity {
        /// The handle, when the message names one.
        handle: Option<String>,
    },
    /// The DID's account status changed.
    Account {
        /// Whether the account is active.
        active: bool,
        /// Why not, when not.
        status: Option<String>,
    },
}

/// One applicable message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The author (repository) DID.
    pub did: String,
    /// When the source says it happened.
    pub observed_at: Timestamp,
    /// The id of the first event this message yields; later events derive
    /// theirs from it.
    pub key: EventId,
    /// What changed.
    pub change: Change,
}

/// What one message turned into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Something to apply.
    Delivery(Delivery),
    /// Something this system does not sync (another collection or kind).
    Ignored(String),
    /// Something that can never be applied, with the reason.
    Rejected {
        /// The AT-URI, or the source position when no record can be named.
        subject: String,
        /// Why, in words an operator can act on.
        reason: String,
    },
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    did: Cow<'a, str>,
    time_us: i64,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    commit: Option<Commit<'a>>,
    #[serde(borrow)]
    identity: Option<IdentityInfo<'a>>,
    account: Option<AccountInfo>,
}

#[derive(Deserialize)]
struct Commit<'a> {
    #[serde(borrow)]
    rev: Cow<'a, str>,
    #[serde(borrow)]
    operation: Cow<'a, str>,
    #[serde(borrow)]
    collection: Cow<'a, str>,
    #[serde(borrow)]
    rkey: Cow<'a, str>,
    #[serde(borrow)]
    record: Option<&'a RawValue>,
    #[serde(borrow)]
    cid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct IdentityInfo<'a> {
    handle: Option<String>,
    seq: Option<i64>,
    #[serde(borrow, default)]
    time: Option<&'a str>,
}

#[derive(Deserialize)]
struct AccountInfo {
    active: bool,
    status: Option<String>,
    seq: Option<i64>,
}

/// True when a message of this kind and collection concerns this system:
/// the filter consumers apply before the bus, since a source may send more
/// than it was asked for.
pub fn is_wanted(kind: &str, collection: Option<&str>) -> bool {
    match kind {
        "identity" | "account" => true,
        "commit" => matches!(collection, Some(EVENT_COLLECTION | RSVP_COLLECTION)),
        _ => false,
    }
}

/// Reads one message. `source_position` names it when it is too broken to
/// name a record.
pub fn parse(raw: &str, source_position: &str) -> Parsed {
    let message: Message = match serde_json::from_str(raw) {
        Ok(message) => message,
        Err(err) => return rejected(source_position, format!("not a Jetstream message: {err}")),
    };
    let (did, kind) = (&*message.did, &*message.kind);
    let collection = message.commit.as_ref().map(|commit| &*commit.collection);
    if !is_wanted(kind, collection) {
        return Parsed::Ignored(match collection {
            Some(collection) if kind == "commit" => {
                format!("{} is not a calendar collection", named(collection))
            }
            _ => format!("{} messages are not synced", named(kind)),
        });
    }
    if let Err(reason) = check_message(did, message.time_us) {
        return rejected(source_position, reason);
    }
    let observed_at = Timestamp::from_unix_micros(message.time_us);
    let delivery = |key: EventId, change: Change| {
        Parsed::Delivery(Delivery {
            did: did.to_owned(),
            observed_at,
            key,
            change,
        })
    };
    match kind {
        "identity" => {
            let Some(identity) = message.identity else {
                return rejected(
                    source_position,
                    "an identity message without identity".into(),
                );
            };
            if let Err(reason) = check_identity(&identity) {
                return rejected(source_position, reason);
            }
            let version = identity
                .seq
                .map(|seq| seq.to_string())
                .or(identity.time.map(str::to_owned))
                .unwrap_or_else(|| message.time_us.to_string());
            return delivery(
                EventId(derived_uuid("identity", &format!("{did}/{version}"))),
                Change::Identity {
                    handle: identity.handle,
                },
            );
        }
        "account" => {
            let Some(account) = message.account else {
                return rejected(source_position, "an account message without account".into());
            };
            if let Err(reason) = check_account(&account) {
                return rejected(source_position, reason);
            }
            let version = account.seq.unwrap_or(message.time_us);
            return delivery(
                EventId(derived_uuid("account", &format!("{did}/{version}"))),
                Change::Account {
                    active: account.active,
                    status: account.status,
                },
            );
        }
        _ => {}
    }
    let Some(commit) = message.commit else {
        return rejected(source_position, "a commit message without a commit".into());
    };
    let (collection, rkey, rev) = (&*commit.collection, &*commit.rkey, &*commit.rev);
    if let Err(reason) = check_commit(rkey, rev) {
        return rejected(source_position, reason);
    }
    let uri = format!("at://{did}/{collection}/{rkey}");
    let key =
        EventId::for_record_version(did, collection, rkey, commit.cid.as_deref().unwrap_or(rev));
    let version = match &*commit.operation {
        "create" | "update" => {
            let (Some(record), Some(cid)) = (commit.record, commit.cid.as_deref()) else {
                return rejected(
                    &uri,
                    format!("a {} without a record and a CID", commit.operation),
                );
            };
            if !formats::is_cid(cid) {
                return rejected(&uri, format!("cid {} is not a valid CID", shown(cid)));
            }
            match check_record(collection, record.get()) {
                Ok(value) => (record.get(), value, cid),
                Err(reason) => return rejected(&uri, reason),
            }
        }
        "delete" => {
            let change = if collection == EVENT_COLLECTION {
                Change::EventDeleted { uri }
            } else {
                Change::RsvpDeleted { uri }
            };
            return delivery(key, change);
        }
        operation => {
            return rejected(
                &uri,
                format!("operation {} is not supported", shown(operation)),
            );
        }
    };
    let (record, value, cid) = version;
    if collection == EVENT_COLLECTION {
        // Whether the record maps onto event details is the occurrence
        // decider's check, made when the version is applied.
        return delivery(
            key,
            Change::EventVersion {
                uri,
                cid: cid.to_owned(),
                record: record.to_owned(),
            },
        );
    }
    match rsvp_answer(&value) {
        Ok((subject_uri, status)) => delivery(
            key,
            Change::RsvpVersion {
                uri,
                cid: cid.to_owned(),
                subject_uri,
                status,
            },
        ),
        Err(reason) => rejected(&uri, reason),
    }
}

/// The longest part of an input value quoted in a reason.
const SHOWN_CHARS: usize = 64;

/// `value` quoted for a reason: escaped (a NUL or a newline shows as
/// such) and cut to [`SHOWN_CHARS`], so a hostile value cannot flood or
/// break the text that names it.
pub fn shown(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(SHOWN_CHARS).collect();
    if chars.next().is_some() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// An identifier as is when it is one (an NSID or a lower-case word),
/// [`shown`] otherwise: ignored messages are counted by their reason.
fn named(value: &str) -> String {
    if formats::is_nsid(value)
        || (!value.is_empty() && value.bytes().all(|b| b.is_ascii_lowercase()))
    {
        value.to_owned()
    } else {
        shown(value)
    }
}

/// The syntax rules every synced message meets: an author DID and a
/// source time that can be a cursor.
pub fn check_message(did: &str, time_us: i64) -> Result<(), String> {
    if !formats::is_did(did) {
        return Err(format!("did {} is not a valid DID", shown(did)));
    }
    if time_us < 0 {
        return Err(format!("time_us {time_us} is negative"));
    }
    Ok(())
}

/// The syntax rules of a commit's identifiers: a record key and a
/// revision (a TID).
pub fn check_commit(rkey: &str, rev: &str) -> Result<(), String> {
    if !formats::is_record_key(rkey) {
        return Err(format!("rkey {} is not a valid record key", shown(rkey)));
    }
    if !formats::is_tid(rev) {
        return Err(format!("rev {} is not a valid TID", shown(rev)));
    }
    Ok(())
}

/// A sequence number is a cursor: never negative.
fn check_seq(kind: &str, seq: Option<i64>) -> Result<(), String> {
    match seq {
        Some(seq) if seq < 0 => Err(format!("{kind}/seq {seq} is negative")),
        _ => Ok(()),
    }
}

fn check_identity(identity: &IdentityInfo) -> Result<(), String> {
    check_seq("identity", identity.seq)?;
    match identity.handle.as_deref() {
        Some(handle) if !formats::is_handle(handle) => Err(format!(
            "identity/handle {} is not a valid handle",
            shown(handle)
        )),
        _ => Ok(()),
    }
}

/// Account statuses are tokens (`deactivated`, `takendown`, ...): short
/// words the read model shows as they are.
fn check_account(account: &AccountInfo) -> Result<(), String> {
    check_seq("account", account.seq)?;
    match account.status.as_deref() {
        Some(status)
            if status.is_empty()
                || status.len() > 64
                || !status
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Err(format!(
                "account/status {} is not a status token",
                shown(status)
            ))
        }
        _ => Ok(()),
    }
}

/// Size, syntax, lexicon and storable-text checks of a record: the
/// record, parsed.
fn check_record<'a>(
    collection: &str,
    record: &'a str,
) -> Result<serde_json_borrow::Value<'a>, String> {
    if record.len() > MAX_RECORD_BYTES {
        return Err(format!(
            "record of {} bytes exceeds the {MAX_RECORD_BYTES}-byte limit",
            record.len()
        ));
    }
    // Borrowed: checking a record copies none of its strings.
    let value: serde_json_borrow::Value =
        serde_json::from_str(record).map_err(|err| format!("record is not JSON: {err}"))?;
    if let Some(field) = text::nul_in_value("record", &value) {
        return Err(text::UnstorableText { field }.to_string());
    }
    Lexicons::ours()
        .validate_record(collection, &value)
        .map_err(|invalid| format!("invalid by lexicon {collection}: {invalid}"))?;
    Ok(value)
}

/// The event an RSVP record answers, and how; the record has passed its
/// lexicon, so its subject is a strong reference and its status a string.
fn rsvp_answer(record: &serde_json_borrow::Value) -> Result<(String, AttendanceStatus), String> {
    let subject = record
        .field("subject")
        .and_then(|subject| subject.field("uri"))
        .and_then(Json::text)
        .ok_or("not an RSVP record: its subject has no uri")?;
    let status = AttendanceStatus::from_rsvp_status(record.field("status").and_then(Json::text))
        .map_err(|err| err.to_string())?;
    Ok((subject.to_owned(), status))
}

fn rejected(subject: &str, reason: String) -> Parsed {
    Parsed::Rejected {
        subject: subject.to_owned(),
        reason,
    }
}

impl Delivery {
    /// Metadata for an event this delivery yields: the first has the empty
    /// label, the others name theirs. Ids derive from the message, so a
    /// redelivery writes nothing new.
    pub fn metadata(&self, label: &str) -> EventMetadata {
        let event_id = if label.is_empty() {
            self.key
        } else {
            EventId::caused_by(self.key, label)
        };
        EventMetadata {
            event_id,
            causation_id: (!label.is_empty()).then_some(self.key),
            correlation_id: Some(CorrelationId(self.key.0)),
            origin: Origin::Bluesky,
            actor: Actor(self.did.clone()),
        }
    }
}

/// The event recording that `input` was rejected, in the stream of
/// rejections from `source`. Its id derives from the input (from its digest
/// when only part of it is known), so rejecting the same input twice
/// records it once.
pub fn rejection(source: &str, subject: &str, reason: &str, input: Input) -> Append {
    let event = RecordRejected::new(subject, reason, input);
    let identity = match input {
        Input::Whole(_) => format!("{subject}\n{}", input.text()),
        Input::Part { sha256, .. } => format!("{subject}\nsha256:{sha256}"),
    };
    Append {
        stream: rejection_stream(source),
        metadata: EventMetadata {
            event_id: EventId(derived_uuid("record-rejected", &identity)),
            causation_id: None,
            correlation_id: None,
            origin: Origin::Bluesky,
            actor: Actor::system("intake"),
        },
        event: event.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = r#"{"did":"did:plc:org","time_us":1764000000000000,"kind":"commit","commit":{"rev":"3mptbypluud2a","operation":"create","collection":"community.lexicon.calendar.event","rkey":"3ev","record":{"$type":"community.lexicon.calendar.event","name":"Rust Meetup","createdAt":"2026-11-01T10:00:00Z"},"cid":"bafyreigyny66xrsw4dsmltdguv4lcehcopbtlwopkssza2vdwltugb6s54"}}"#;
    const EVENT_URI: &str = "at://did:plc:org/community.lexicon.calendar.event/3ev";

    fn delivery(parsed: Parsed) -> Delivery {
        match parsed {
            Parsed::Delivery(delivery) => delivery,
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    fn reason(parsed: Parsed) -> (String, String) {
        match parsed {
            Parsed::Rejected { subject, reason } => (subject, reason),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_created_event_record_is_a_version_keyed_by_its_identity_and_cid() {
        let parsed = delivery(parse(CREATE, "line 1"));
        assert_eq!(parsed.did, "did:plc:org");
        assert_eq!(
            parsed.observed_at,
            Timestamp::from_unix_micros(1764000000000000)
        );
        assert_eq!(
            parsed.key,
            EventId::for_record_version(
                "did:plc:org",
                EVENT_COLLECTION,
                "3ev",
                "bafyreigyny66xrsw4dsmltdguv4lcehcopbtlwopkssza2vdwltugb6s54"
            )
        );
        match parsed.change {
            Change::EventVersion { uri, cid, record } => {
                assert_eq!(
                    (uri.as_str(), cid.as_str()),
                    (
                        EVENT_URI,
                        "bafyreigyny66xrsw4dsmltdguv4lcehcopbtlwopkssza2vdwltugb6s54"
                    )
                );
                assert!(record.contains("Rust Meetup"));
            }
            other => panic!("expected a version, got {other:?}"),
        }
    }

    #[test]
    fn an_event_record_that_does_not_map_is_rejected_naming_the_field() {
        let raw = CREATE.replace(
            r#""createdAt":"2026-11-01T10:00:00Z""#,
            r#""createdAt":"last week""#,
        );
        let (subject, why) = reason(parse(&raw, "line 1"));
        assert_eq!(subject, EVENT_URI);
        assert_eq!(
            why,
            "invalid by lexicon community.lexicon.calendar.event: record/createdAt must be a valid atproto datetime: \"last week\""
        );
    }

    #[test]
    fn an_oversized_record_is_rejected_with_its_size() {
        let long = "x".repeat(MAX_RECORD_BYTES);
        let raw = CREATE.replace("Rust Meetup", &long);
        let (_, why) = reason(parse(&raw, "line 1"));
        assert!(
            why.starts_with(&format!(
                "record of {} bytes exceeds",
                MAX_RECORD_BYTES + 89
            )),
            "{why}"
        );
    }

    #[test]
    fn the_record_is_kept_byte_for_byte_as_received() {
        let raw = CREATE.replace(
            r#""name":"Rust Meetup","createdAt""#,
            r#""name" : "Rust Meetup" ,"createdAt""#,
        );
        let Change::EventVersion { record, .. } = delivery(parse(&raw, "line 1")).change else {
            panic!("not a version")
        };
        assert!(record.contains(r#""name" : "Rust Meetup" ,"#), "{record}");
    }

    #[test]
    fn the_same_message_twice_yields_the_same_delivery() {
        assert_eq!(parse(CREATE, "line 1"), parse(CREATE, "line 9"));
    }

    #[test]
    fn an_rsvp_maps_its_status_and_names_its_subject() {
        let raw = r#"{"did":"did:plc:guest","time_us":1764000000000001,"kind":"commit","commit":{"rev":"3mptbypcq372f","operation":"update","collection":"community.lexicon.calendar.rsvp","rkey":"7T68ZD4HPRWHQ","record":{"$type":"community.lexicon.calendar.rsvp","status":"community.lexicon.calendar.rsvp#notgoing","subject":{"uri":"at://did:plc:org/community.lexicon.calendar.event/3ev","cid":"bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"}},"cid":"bafyreib4uuaaw4dfpb6nyigkrspwndwuyyospb72qkbtpfsy3ndo543nzm"}}"#;
        assert_eq!(
            delivery(parse(raw, "line 2")).change,
            Change::RsvpVersion {
                uri: "at://did:plc:guest/community.lexicon.calendar.rsvp/7T68ZD4HPRWHQ".into(),
                cid: "bafyreib4uuaaw4dfpb6nyigkrspwndwuyyospb72qkbtpfsy3ndo543nzm".into(),
                subject_uri: EVENT_URI.into(),
                status: AttendanceStatus::Declined,
            }
        );
    }

    #[test]
    fn an_unknown_rsvp_status_is_rejected() {
        let raw = r#"{"did":"did:plc:guest","time_us":1,"kind":"commit","commit":{"rev":"3mptbyp63ih2m","operation":"create","collection":"community.lexicon.calendar.rsvp","rkey":"k","record":{"$type":"community.lexicon.calendar.rsvp","status":"community.lexicon.calendar.rsvp#maybe","subject":{"uri":"at://did:plc:org/community.lexicon.calendar.event/3ev","cid":"bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"}},"cid":"bafyreieis7y4we4bkg26lsispbedzo5rn7gbx3bf2bxkpw6hvg726kktee"}}"#;
        assert_eq!(
            reason(parse(raw, "line 4")),
            (
                "at://did:plc:guest/community.lexicon.calendar.rsvp/k".into(),
                "status \"community.lexicon.calendar.rsvp#maybe\" is not a known RSVP status"
                    .into()
            )
        );
    }

    #[test]
    fn deletes_name_the_record_only() {
        let raw = r#"{"did":"did:plc:guest","time_us":5,"kind":"commit","commit":{"rev":"3mptbypqiez2a","operation":"delete","collection":"community.lexicon.calendar.rsvp","rkey":"k"}}"#;
        let parsed = delivery(parse(raw, "l"));
        assert_eq!(
            parsed.change,
            Change::RsvpDeleted {
                uri: "at://did:plc:guest/community.lexicon.calendar.rsvp/k".into()
            }
        );
        assert_eq!(
            parsed.key,
            EventId::for_record_version("did:plc:guest", RSVP_COLLECTION, "k", "3mptbypqiez2a")
        );
    }

    #[test]
    fn identity_and_account_messages_are_kept() {
        let identity = r#"{"did":"did:plc:a","time_us":7,"kind":"identity","identity":{"did":"did:plc:a","handle":"alice.test","seq":12,"time":"2026-07-04T14:38:07.877Z"}}"#;
        assert_eq!(
            delivery(parse(identity, "l")).change,
            Change::Identity {
                handle: Some("alice.test".into())
            }
        );
        let account = r#"{"did":"did:plc:a","time_us":8,"kind":"account","account":{"active":false,"did":"did:plc:a","seq":13,"status":"deactivated","time":"2026-07-04T14:38:07.877Z"}}"#;
        assert_eq!(
            delivery(parse(account, "l")).change,
            Change::Account {
                active: false,
                status: Some("deactivated".into())
            }
        );
    }

    #[test]
    fn a_line_that_is_not_json_is_rejected_under_its_source_position() {
        assert_eq!(
            reason(parse("{not json", "sample.jsonl:7")).0,
            "sample.jsonl:7"
        );
    }

    #[test]
    fn other_collections_are_ignored_with_a_reason() {
        let raw = r#"{"did":"did:plc:x","time_us":1,"kind":"commit","commit":{"rev":"3mptbyp63ih2m","operation":"create","collection":"app.bsky.feed.like","rkey":"k","record":{},"cid":"bafyreieis7y4we4bkg26lsispbedzo5rn7gbx3bf2bxkpw6hvg726kktee"}}"#;
        assert_eq!(
            parse(raw, "l"),
            Parsed::Ignored("app.bsky.feed.like is not a calendar collection".into())
        );
    }

    #[test]
    fn identifiers_that_break_the_atproto_syntax_are_rejected_naming_field_and_value() {
        let cases = [
            (
                r#""did":"did:plc:org""#,
                r#""did":"did:PLC:org""#,
                "line 1",
                r#"did "did:PLC:org" is not a valid DID"#,
            ),
            (
                r#""did":"did:plc:org""#,
                r#""did":"not a did""#,
                "line 1",
                r#"did "not a did" is not a valid DID"#,
            ),
            (
                r#""rkey":"3ev""#,
                r#""rkey":"..""#,
                "line 1",
                r#"rkey ".." is not a valid record key"#,
            ),
            (
                r#""rkey":"3ev""#,
                r#""rkey":"a/b""#,
                "line 1",
                r#"rkey "a/b" is not a valid record key"#,
            ),
            (
                r#""rev":"3mptbypluud2a""#,
                r#""rev":"yesterday""#,
                "line 1",
                r#"rev "yesterday" is not a valid TID"#,
            ),
            (
                r#""time_us":1764000000000000"#,
                r#""time_us":-5"#,
                "line 1",
                "time_us -5 is negative",
            ),
            (
                r#""cid":"bafyreigyny66xrsw4dsmltdguv4lcehcopbtlwopkssza2vdwltugb6s54""#,
                r#""cid":"bafy-not""#,
                EVENT_URI,
                r#"cid "bafy-not" is not a valid CID"#,
            ),
        ];
        for (from, to, subject, why) in cases {
            let raw = CREATE.replace(from, to);
            assert_ne!(raw, CREATE, "{from}");
            assert_eq!(
                reason(parse(&raw, "line 1")),
                (subject.to_owned(), why.to_owned())
            );
        }
    }

    #[test]
    fn a_non_numeric_time_is_not_a_message() {
        let raw = CREATE.replace("1764000000000000", "\"soon\"");
        let (subject, why) = reason(parse(&raw, "line 3"));
        assert_eq!(subject, "line 3");
        assert!(
            why.starts_with("not a Jetstream message: invalid type: string"),
            "{why}"
        );
    }

    #[test]
    fn a_record_holding_a_nul_is_rejected_naming_where() {
        let raw = CREATE.replace("Rust Meetup", r"Rust\\u0000 \u0000Meetup");
        assert_eq!(
            reason(parse(&raw, "line 1")),
            (
                EVENT_URI.to_owned(),
                "record/name holds U+0000 (NUL), which text stores refuse".to_owned()
            )
        );
    }

    #[test]
    fn a_quoted_value_is_escaped_and_cut() {
        assert_eq!(shown("a\0b\nc"), r#""a\0b\nc""#);
        let long = "x".repeat(100);
        assert_eq!(shown(&long), format!("{:?}…", "x".repeat(64)));
    }

    #[test]
    fn identity_and_account_messages_keep_to_their_syntax() {
        let identity = r#"{"did":"did:plc:a","time_us":7,"kind":"identity","identity":{"did":"did:plc:a","handle":"not a handle","seq":12}}"#;
        assert_eq!(
            reason(parse(identity, "l")).1,
            r#"identity/handle "not a handle" is not a valid handle"#
        );
        let negative = r#"{"did":"did:plc:a","time_us":7,"kind":"identity","identity":{"did":"did:plc:a","seq":-1}}"#;
        assert_eq!(
            reason(parse(negative, "l")).1,
            "identity/seq -1 is negative"
        );
        let account = r#"{"did":"did:plc:a","time_us":8,"kind":"account","account":{"active":false,"seq":13,"status":"gone\u0000"}}"#;
        assert_eq!(
            reason(parse(account, "l")).1,
            r#"account/status "gone\0" is not a status token"#
        );
    }

    #[test]
    fn an_unknown_kind_is_ignored_without_quoting_its_whole_value() {
        let raw = format!(
            r#"{{"did":"did:plc:a","time_us":1,"kind":"{}"}}"#,
            "Z".repeat(200)
        );
        let Parsed::Ignored(why) = parse(&raw, "l") else {
            panic!("not ignored")
        };
        assert_eq!(
            why,
            format!("{:?}… messages are not synced", "Z".repeat(64))
        );
    }

    #[test]
    fn follow_up_events_derive_their_ids_from_the_message() {
        let parsed = delivery(parse(CREATE, "l"));
        assert_eq!(parsed.metadata("").event_id, parsed.key);
        let shadow = parsed.metadata("shadow");
        assert_eq!(shadow.event_id, EventId::caused_by(parsed.key, "shadow"));
        assert_eq!(shadow.causation_id, Some(parsed.key));
    }
}
