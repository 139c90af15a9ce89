//! Where a message goes on the bus: its subject, its deduplication id and
//! its source cursor, read from the message's Jetstream-shaped JSON without
//! touching the record.

use std::borrow::Cow;

use domain::intake::{EVENT_COLLECTION, check_commit, check_message, is_wanted};
use domain::rejection::Input;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::lines::{HEAD_BYTES, MAX_LINE_BYTES};

/// A message bound for the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed {
    /// The subject below the bus root, such as `event.create`.
    pub subject: &'static str,
    /// JetStream's deduplication id: `did/collection/rkey/rev` for records,
    /// `did/kind/seq` for identity and account messages.
    pub msg_id: String,
    /// What it is about, to name it in logs and rejections: the record's
    /// AT-URI, or the DID of an identity or account message.
    pub about: String,
    /// The source's own cursor for this message (Jetstream `time_us`, or
    /// the firehose `seq`).
    pub cursor: i64,
    /// When the source says it happened, in Unix microseconds.
    pub time_us: i64,
    /// The message, in Jetstream's JSON shape.
    pub payload: String,
}

/// Input that cannot become a bus message, kept for the dead-letter
/// subject with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// Why it cannot be routed.
    pub reason: String,
    /// The input as received, or only its first [`HEAD_BYTES`] when it is
    /// larger than any message ([`MAX_LINE_BYTES`]).
    pub payload: Vec<u8>,
    /// For a payload cut to its first bytes: what the whole input was.
    pub cut: Option<Cut>,
}

/// The size and digest of an input of which only the first bytes are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, as 64 hex digits.
    pub sha256: String,
}

impl Cut {
    /// The size and digest of `input`.
    pub fn of(input: &[u8]) -> Self {
        Self {
            size: input.len() as u64,
            sha256: format!("{:x}", Sha256::digest(input)),
        }
    }
}

impl DeadLetter {
    /// The dead letter of `input`: all of it, or past [`MAX_LINE_BYTES`]
    /// its first bytes with its size and digest, so that a dead letter is
    /// never larger than a message.
    pub fn new(reason: impl Into<String>, mut input: Vec<u8>) -> Self {
        let cut = (input.len() > MAX_LINE_BYTES).then(|| {
            let cut = Cut::of(&input);
            input.truncate(HEAD_BYTES);
            cut
        });
        Self {
            reason: reason.into(),
            payload: input,
            cut,
        }
    }

    /// The same letter with only the first [`HEAD_BYTES`] of its input
    /// (and what the whole was), for a bus that refused it whole; `None`
    /// when it holds no more than that already.
    pub fn head_only(self) -> Option<DeadLetter> {
        if self.payload.len() <= HEAD_BYTES {
            return None;
        }
        let cut = self.cut.unwrap_or_else(|| Cut::of(&self.payload));
        Some(DeadLetter {
            reason: self.reason,
            payload: self.payload[..HEAD_BYTES].to_vec(),
            cut: Some(cut),
        })
    }

    /// What is known of the input, for its `RecordRejected`.
    pub fn input(&self) -> Input<'_> {
        match &self.cut {
            None => Input::Whole(&self.payload),
            Some(cut) => Input::Part {
                head: &self.payload,
                size: cut.size,
                sha256: &cut.sha256,
            },
        }
    }
}

/// Why a message does not go to the bus.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Unrouted {
    /// A message about something this system does not sync.
    #[error("filtered: {0}")]
    Filtered(String),
    /// Input that is not a readable message; it becomes a dead letter.
    #[error("malformed: {0}")]
    Malformed(String),
    /// A message over the size limit: it becomes this dead letter, which
    /// holds a reference to it (its id, size and digest) and its first
    /// bytes, never a payload the bus would refuse.
    #[error("oversized: {}", .0.reason)]
    Oversized(DeadLetter),
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    did: Cow<'a, str>,
    time_us: i64,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    commit: Option<CommitHead<'a>>,
    identity: Option<Sequenced>,
    account: Option<Sequenced>,
}

/// What routing reads of a commit.
#[derive(Deserialize)]
pub struct CommitHead<'a> {
    /// The repository revision.
    #[serde(borrow)]
    pub rev: Cow<'a, str>,
    /// `create`, `update` or `delete`.
    #[serde(borrow)]
    pub operation: Cow<'a, str>,
    /// The record's collection.
    #[serde(borrow)]
    pub collection: Cow<'a, str>,
    /// The record key.
    #[serde(borrow)]
    pub rkey: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Sequenced {
    seq: Option<i64>,
}

/// Routes one Jetstream JSON line, kept byte for byte as the payload.
/// `cursor` is the source's cursor for it (`None`: the line's `time_us`).
pub fn route_jetstream(line: &str, cursor: Option<i64>) -> Result<Routed, Unrouted> {
    let head: Head = serde_json::from_str(line)
        .map_err(|err| Unrouted::Malformed(format!("not a Jetstream message: {err}")))?;
    route(head, cursor, || line.to_owned())
}

/// Routes a message built as a JSON value (the firehose decoder's), read
/// in place rather than written out and parsed again; the payload is the
/// value written as one line.
pub fn route_value(line: &serde_json::Value, cursor: Option<i64>) -> Result<Routed, Unrouted> {
    let head = Head::deserialize(line)
        .map_err(|err| Unrouted::Malformed(format!("not a Jetstream message: {err}")))?;
    route(head, cursor, || line.to_string())
}

/// Routes a commit op of `did` whose Jetstream line is already written
/// (`payload`), without reading it back.
pub fn route_commit(
    did: &str,
    time_us: i64,
    commit: CommitHead,
    cursor: i64,
    payload: impl FnOnce() -> String,
) -> Result<Routed, Unrouted> {
    let head = Head {
        did: Cow::Borrowed(did),
        time_us,
        kind: Cow::Borrowed("commit"),
        commit: Some(commit),
        identity: None,
        account: None,
    };
    route(head, Some(cursor), payload)
}

fn route(
    head: Head,
    cursor: Option<i64>,
    payload: impl FnOnce() -> String,
) -> Result<Routed, Unrouted> {
    let collection = head.commit.as_ref().map(|commit| &*commit.collection);
    if !is_wanted(&head.kind, collection) {
        return Err(Unrouted::Filtered(match collection {
            Some(collection) => collection.to_owned(),
            None => head.kind.clone().into_owned(),
        }));
    }
    // The identifiers become the message id header and the cursor: the
    // same syntax rules as intake, before anything reaches the bus.
    check_message(&head.did, head.time_us).map_err(Unrouted::Malformed)?;
    let (subject, msg_id, about) = match (&*head.kind, &head.commit) {
        ("commit", Some(commit)) => {
            check_commit(&commit.rkey, &commit.rev).map_err(Unrouted::Malformed)?;
            let subject = match (commit.collection == EVENT_COLLECTION, &*commit.operation) {
                (true, "create") => "event.create",
                (true, "update") => "event.update",
                (true, "delete") => "event.delete",
                (false, "create") => "rsvp.create",
                (false, "update") => "rsvp.update",
                (false, "delete") => "rsvp.delete",
                (_, operation) => {
                    return Err(Unrouted::Malformed(format!(
                        "unknown commit operation {operation:?}"
                    )));
                }
            };
            (
                subject,
                format!(
                    "{}/{}/{}/{}",
                    head.did, commit.collection, commit.rkey, commit.rev
                ),
                format!("at://{}/{}/{}", head.did, commit.collection, commit.rkey),
            )
        }
        ("commit", None) => {
            return Err(Unrouted::Malformed(
                "a commit message without a commit".into(),
            ));
        }
        (kind, _) => {
            let (subject, seq) = if kind == "identity" {
                ("identity", head.identity.and_then(|i| i.seq))
            } else {
                ("account", head.account.and_then(|a| a.seq))
            };
            (
                subject,
                format!("{}/{kind}/{}", head.did, seq.unwrap_or(head.time_us)),
                head.did.clone().into_owned(),
            )
        }
    };
    let payload = payload();
    if payload.len() > MAX_LINE_BYTES {
        return Err(Unrouted::Oversized(oversized(&msg_id, payload)));
    }
    Ok(Routed {
        subject,
        msg_id,
        about,
        cursor: cursor.unwrap_or(head.time_us),
        time_us: head.time_us,
        payload,
    })
}

/// The dead letter standing for an oversized message.
fn oversized(msg_id: &str, payload: String) -> DeadLetter {
    let reason = format!(
        "message {msg_id} of {} bytes exceeds the {MAX_LINE_BYTES}-byte limit",
        payload.len()
    );
    DeadLetter::new(reason, payload.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calendar_commit_is_routed_by_collection_and_operation() {
        let line = r#"{"did":"did:plc:a","time_us":17,"kind":"commit","commit":{"rev":"3mptbypluud2a","operation":"update","collection":"community.lexicon.calendar.rsvp","rkey":"k","record":{"x":1},"cid":"c"}}"#;
        let routed = route_jetstream(line, None).unwrap();
        assert_eq!(routed.subject, "rsvp.update");
        assert_eq!(
            routed.msg_id,
            "did:plc:a/community.lexicon.calendar.rsvp/k/3mptbypluud2a"
        );
        assert_eq!(routed.cursor, 17);
        assert_eq!(routed.payload, line);
    }

    #[test]
    fn a_value_routes_as_its_written_line_does() {
        let line = r#"{"did":"did:plc:a","time_us":17,"kind":"commit","commit":{"rev":"3mptbypluud2a","operation":"create","collection":"community.lexicon.calendar.event","rkey":"k","record":{"name":"x"},"cid":"c"}}"#;
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(route_value(&value, Some(5)), route_jetstream(line, Some(5)));
        let like: serde_json::Value = serde_json::json!({"did": "did:plc:a", "time_us": 1, "kind": "commit",
            "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.like", "rkey": "k"}});
        assert_eq!(
            route_value(&like, None),
            Err(Unrouted::Filtered("app.bsky.feed.like".into()))
        );
    }

    #[test]
    fn identity_and_account_messages_pass_the_filter() {
        let line = r#"{"did":"did:plc:a","time_us":9,"kind":"account","account":{"active":false,"did":"did:plc:a","seq":44,"status":"deleted","time":"2026-07-04T14:38:07.877Z"}}"#;
        let routed = route_jetstream(line, Some(3)).unwrap();
        assert_eq!(
            (routed.subject, routed.msg_id.as_str(), routed.cursor),
            ("account", "did:plc:a/account/44", 3)
        );
    }

    #[test]
    fn other_collections_are_filtered_and_garbage_is_malformed() {
        let like = r#"{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.like","rkey":"k","record":{},"cid":"c"}}"#;
        assert_eq!(
            route_jetstream(like, None),
            Err(Unrouted::Filtered("app.bsky.feed.like".into()))
        );
        assert!(matches!(
            route_jetstream("{\"did\":", None),
            Err(Unrouted::Malformed(reason)) if reason.starts_with("not a Jetstream message")
        ));
    }

    #[test]
    fn a_message_over_the_limit_becomes_a_reference_never_a_payload() {
        let record = serde_json::json!({"name": "x".repeat(2 << 20)});
        let value = serde_json::json!({"did": "did:plc:a", "time_us": 1, "kind": "commit", "commit": {
            "rev": "3mptbypluud2a", "operation": "create", "collection": EVENT_COLLECTION,
            "rkey": "big", "record": record, "cid": "bafy"}});
        let Err(Unrouted::Oversized(letter)) = route_value(&value, None) else {
            panic!("an oversized message was routed");
        };
        assert_eq!(letter.payload.len(), HEAD_BYTES);
        let line = value.to_string();
        assert_eq!(
            letter.reason,
            format!(
                "message did:plc:a/{EVENT_COLLECTION}/big/3mptbypluud2a of {} bytes exceeds the {MAX_LINE_BYTES}-byte limit",
                line.len()
            )
        );
        assert_eq!(
            letter.cut,
            Some(Cut {
                size: line.len() as u64,
                sha256: format!("{:x}", Sha256::digest(line.as_bytes()))
            })
        );
    }

    #[test]
    fn identifiers_that_would_become_headers_or_cursors_keep_to_their_syntax() {
        let line = r#"{"did":"did:plc:a","time_us":17,"kind":"commit","commit":{"rev":"3mptbypluud2a","operation":"delete","collection":"community.lexicon.calendar.event","rkey":"k"}}"#;
        assert!(route_jetstream(line, None).is_ok());
        for (from, to, why) in [
            (
                r#""time_us":17"#,
                r#""time_us":-17"#,
                "time_us -17 is negative",
            ),
            (
                r#""did":"did:plc:a""#,
                r#""did":"did:plc:a\r\nX: y""#,
                r#"did "did:plc:a\r\nX: y" is not a valid DID"#,
            ),
            (
                r#""rkey":"k""#,
                r#""rkey":"k k""#,
                r#"rkey "k k" is not a valid record key"#,
            ),
            (
                r#""rev":"3mptbypluud2a""#,
                r#""rev":"3r""#,
                r#"rev "3r" is not a valid TID"#,
            ),
        ] {
            assert_eq!(
                route_jetstream(&line.replace(from, to), None),
                Err(Unrouted::Malformed(why.into())),
                "{to}"
            );
        }
    }
}
