//! The relay/PDS firehose (`com.atproto.sync.subscribeRepos`): one
//! WebSocket message is a frame of two DAG-CBOR values, a header
//! `{op, t}` and a body. Commit bodies carry the changed records as blocks
//! of a CAR file. Decoding turns each calendar op into the same
//! Jetstream-shaped JSON the Jetstream source sends, so everything past the
//! consumer handles one format.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use domain::Timestamp;
use domain::intake::is_wanted;
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::routing::{CommitHead, DeadLetter, Routed, Unrouted, route_commit, route_value};

const DAG_CBOR: u64 = 0x71;
const SHA2_256: u64 = 0x12;

/// What one frame held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Messages of a sequenced frame (`#commit`, `#identity`, `#account`,
    /// or one this system does not sync).
    Messages {
        /// The frame's sequence number: the firehose cursor.
        seq: i64,
        /// Messages for the bus.
        routed: Vec<Routed>,
        /// What was filtered out (collections or frame types).
        filtered: Vec<String>,
        /// Ops that cannot be routed, with the reason.
        dead: Vec<DeadLetter>,
    },
    /// An informational frame, such as `OutdatedCursor`.
    Info {
        /// Its name.
        name: String,
        /// Its text.
        message: Option<String>,
    },
    /// An error frame: the server ends the stream after it.
    Error {
        /// The error name, such as `FutureCursor` or `ConsumerTooSlow`.
        error: String,
        /// Its text.
        message: Option<String>,
    },
}

/// A frame that cannot be read at all.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("undecodable firehose frame: {0}")]
pub struct FrameError(pub String);

#[derive(Deserialize)]
struct Header<'a> {
    op: i64,
    #[serde(borrow)]
    t: Option<&'a str>,
}

#[derive(Deserialize)]
struct CommitBody<'a> {
    seq: i64,
    #[serde(borrow)]
    repo: &'a str,
    #[serde(borrow)]
    rev: &'a str,
    #[serde(borrow)]
    time: &'a str,
    #[serde(borrow)]
    ops: Vec<Op<'a>>,
    #[serde(borrow, with = "serde_bytes_borrowed")]
    blocks: &'a [u8],
}

#[derive(Deserialize)]
struct Op<'a> {
    #[serde(borrow)]
    action: &'a str,
    #[serde(borrow)]
    path: &'a str,
    cid: Option<Cid>,
}

#[derive(Deserialize)]
struct IdentityBody {
    seq: i64,
    did: String,
    time: String,
    handle: Option<String>,
}

#[derive(Deserialize)]
struct AccountBody {
    seq: i64,
    did: String,
    time: String,
    active: bool,
    status: Option<String>,
}

#[derive(Deserialize)]
struct Sequenced {
    seq: i64,
}

#[derive(Deserialize)]
struct InfoBody {
    name: String,
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message: Option<String>,
}

mod serde_bytes_borrowed {
    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'de [u8], D::Error> {
        <&[u8] as serde::Deserialize>::deserialize(d)
    }
}

fn bad(what: &str, err: impl std::fmt::Display) -> FrameError {
    FrameError(format!("{what}: {err}"))
}

/// Decodes one WebSocket message of the firehose.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, FrameError> {
    let mut de = serde_ipld_dagcbor::de::Deserializer::from_slice(bytes);
    let header = Header::deserialize(&mut de).map_err(|err| bad("header", err))?;
    macro_rules! body {
        ($t:ty) => {{
            let body = <$t>::deserialize(&mut de).map_err(|err| bad("body", err))?;
            de.end().map_err(|err| bad("trailing bytes", err))?;
            body
        }};
    }
    if header.op == -1 {
        let body = body!(ErrorBody);
        return Ok(Frame::Error {
            error: body.error,
            message: body.message,
        });
    }
    match header.t {
        Some("#commit") => decode_commit(body!(CommitBody)),
        Some("#identity") => {
            let body = body!(IdentityBody);
            let mut line = json!({
                "did": body.did,
                "time_us": micros(&body.time)?,
                "kind": "identity",
                "identity": {"did": body.did, "handle": body.handle, "seq": body.seq, "time": body.time},
            });
            drop_nulls(&mut line["identity"]);
            Ok(single(body.seq, &line))
        }
        Some("#account") => {
            let body = body!(AccountBody);
            let mut line = json!({
                "did": body.did,
                "time_us": micros(&body.time)?,
                "kind": "account",
                "account": {"active": body.active, "did": body.did, "seq": body.seq, "status": body.status, "time": body.time},
            });
            drop_nulls(&mut line["account"]);
            Ok(single(body.seq, &line))
        }
        Some("#info") => {
            let body = body!(InfoBody);
            Ok(Frame::Info {
                name: body.name,
                message: body.message,
            })
        }
        Some(other) => {
            let body = Sequenced::deserialize(&mut de).map_err(|err| bad("body", err))?;
            Ok(Frame::Messages {
                seq: body.seq,
                routed: vec![],
                filtered: vec![other.to_owned()],
                dead: vec![],
            })
        }
        None => Err(FrameError("a message frame without a type".into())),
    }
}

/// Jetstream leaves absent optional fields out rather than writing null.
fn drop_nulls(object: &mut Value) {
    if let Value::Object(fields) = object {
        fields.retain(|_, value| !value.is_null());
    }
}

fn single(seq: i64, line: &Value) -> Frame {
    let mut sorted = Sorted::default();
    sorted.file(route_value(line, Some(seq)), || {
        line.to_string().into_bytes()
    });
    sorted.into_frame(seq)
}

/// A sequenced frame's messages as they are sorted: for the bus, filtered
/// out, or dead letters.
#[derive(Default)]
struct Sorted {
    routed: Vec<Routed>,
    filtered: Vec<String>,
    dead: Vec<DeadLetter>,
}

impl Sorted {
    /// Files what routing made of a message; `payload` is the message, kept
    /// when it becomes a dead letter.
    fn file(&mut self, routing: Result<Routed, Unrouted>, payload: impl FnOnce() -> Vec<u8>) {
        match routing {
            Ok(message) => self.routed.push(message),
            Err(Unrouted::Filtered(what)) => self.filtered.push(what),
            Err(Unrouted::Malformed(reason)) => self.dead.push(DeadLetter::new(reason, payload())),
            Err(Unrouted::Oversized(letter)) => self.dead.push(letter),
        }
    }

    fn into_frame(self, seq: i64) -> Frame {
        Frame::Messages {
            seq,
            routed: self.routed,
            filtered: self.filtered,
            dead: self.dead,
        }
    }
}

fn micros(time: &str) -> Result<i64, FrameError> {
    Timestamp::parse_rfc3339(time)
        .map(Timestamp::as_unix_micros)
        .map_err(|err| bad("time", format!("{time:?}: {err}")))
}

/// The collection an op's `collection/rkey` path names.
fn collection_of<'a>(op: &Op<'a>) -> &'a str {
    op.path
        .split_once('/')
        .map_or(op.path, |(collection, _)| collection)
}

fn decode_commit(body: CommitBody) -> Result<Frame, FrameError> {
    let time_us = micros(body.time)?;
    let (wanted, unwanted): (Vec<&Op>, Vec<&Op>) = body
        .ops
        .iter()
        .partition(|op| is_wanted("commit", Some(collection_of(op))));
    let mut sorted = Sorted {
        filtered: unwanted
            .iter()
            .map(|op| collection_of(op).to_owned())
            .collect(),
        ..Sorted::default()
    };
    let blocks = if wanted.is_empty() {
        vec![]
    } else {
        car_blocks(body.blocks)?
    };
    for op in wanted {
        let (collection, rkey) = op.path.split_once('/').unwrap_or((op.path, ""));
        let mut commit = CommitLine {
            rev: body.rev,
            operation: op.action,
            collection,
            rkey,
            record: None,
            cid: None,
        };
        if let Some(cid) = op.cid {
            match record_of(&blocks, &cid) {
                Ok(record) => {
                    commit.record = Some(record);
                    commit.cid = Some(cid.to_string());
                }
                Err(reason) => {
                    sorted.dead.push(DeadLetter::new(
                        format!("at://{}/{}: {reason}", body.repo, op.path),
                        serde_json::to_vec(&commit).unwrap_or_default(),
                    ));
                    continue;
                }
            }
        }
        let line = Line {
            did: body.repo,
            time_us,
            kind: "commit",
            commit: &commit,
        };
        let mut text = match serde_json::to_string(&line) {
            Ok(text) => text,
            Err(err) => {
                sorted.dead.push(DeadLetter::new(
                    format!(
                        "at://{}/{}: not writable as JSON: {err}",
                        body.repo, op.path
                    ),
                    vec![],
                ));
                continue;
            }
        };
        let head = CommitHead {
            rev: body.rev.into(),
            operation: op.action.into(),
            collection: collection.into(),
            rkey: rkey.into(),
        };
        let routing = route_commit(body.repo, time_us, head, body.seq, || {
            std::mem::take(&mut text)
        });
        sorted.file(routing, || text.into_bytes());
    }
    Ok(sorted.into_frame(body.seq))
}

/// A commit op as a Jetstream line, written without building a JSON tree.
#[derive(Serialize)]
struct Line<'a> {
    did: &'a str,
    time_us: i64,
    kind: &'static str,
    commit: &'a CommitLine<'a>,
}

#[derive(Serialize)]
struct CommitLine<'a> {
    rev: &'a str,
    operation: &'a str,
    collection: &'a str,
    rkey: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "at_json")]
    record: Option<Ipld>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cid: Option<String>,
}

fn at_json<S: Serializer>(record: &Option<Ipld>, serializer: S) -> Result<S::Ok, S::Error> {
    match record {
        Some(record) => AtJson(record).serialize(serializer),
        None => serializer.serialize_none(),
    }
}

/// A DAG-CBOR value written as atproto JSON: links as `{"$link"}`, bytes
/// as `{"$bytes"}`, integers beyond 64 bits as strings.
struct AtJson<'a>(&'a Ipld);

impl Serialize for AtJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Ipld::Null => serializer.serialize_unit(),
            Ipld::Bool(b) => serializer.serialize_bool(*b),
            Ipld::Integer(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(small), _) => serializer.serialize_i64(small),
                (_, Ok(large)) => serializer.serialize_u64(large),
                _ => serializer.serialize_str(&i.to_string()),
            },
            Ipld::Float(f) => serializer.serialize_f64(*f),
            Ipld::String(text) => serializer.serialize_str(text),
            Ipld::Bytes(bytes) => tagged(serializer, "$bytes", STANDARD_NO_PAD.encode(bytes)),
            Ipld::List(items) => serializer.collect_seq(items.iter().map(AtJson)),
            Ipld::Map(map) => serializer.collect_map(map.iter().map(|(k, v)| (k, AtJson(v)))),
            Ipld::Link(cid) => tagged(serializer, "$link", cid.to_string()),
        }
    }
}

fn tagged<S: Serializer>(serializer: S, tag: &str, value: String) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(1))?;
    map.serialize_entry(tag, &value)?;
    map.end()
}

/// The blocks of a CAR v1 file, left in place: each section is a varint
/// length, then a CID and the block's bytes. (`iroh-car`'s reader is
/// async and copies every block; a commit's CAR is already in memory.)
fn car_blocks(car: &[u8]) -> Result<Vec<(Cid, &[u8])>, FrameError> {
    #[derive(Deserialize)]
    struct CarHeader {
        version: u64,
    }
    let mut rest = car;
    let header: CarHeader = serde_ipld_dagcbor::from_slice(section(&mut rest)?)
        .map_err(|err| bad("CAR header", err))?;
    if header.version != 1 {
        return Err(bad(
            "CAR header",
            format!("version {} is not 1", header.version),
        ));
    }
    let mut blocks = vec![];
    while !rest.is_empty() {
        let mut block = section(&mut rest)?;
        let cid = Cid::read_bytes(&mut block).map_err(|err| bad("CAR block CID", err))?;
        blocks.push((cid, block));
    }
    Ok(blocks)
}

/// The next length-prefixed section of a CAR file.
fn section<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], FrameError> {
    let (length, tail) =
        unsigned_varint::decode::usize(rest).map_err(|err| bad("CAR section length", err))?;
    if length > tail.len() {
        return Err(bad(
            "CAR section",
            format!("{length} bytes announced, {} left", tail.len()),
        ));
    }
    let (section, after) = tail.split_at(length);
    *rest = after;
    Ok(section)
}

/// The record a CID names, checked against its bytes.
fn record_of(blocks: &[(Cid, &[u8])], cid: &Cid) -> Result<Ipld, String> {
    let bytes = blocks
        .iter()
        .find_map(|(block, bytes)| (block == cid).then_some(*bytes))
        .ok_or_else(|| format!("record block {cid} is missing from the commit"))?;
    let hash = cid.hash();
    if cid.codec() != DAG_CBOR || hash.code() != SHA2_256 {
        return Err(format!("CID {cid} is not a dag-cbor sha2-256 CID"));
    }
    if Sha256::digest(bytes)[..] != *hash.digest() {
        return Err(format!("record bytes do not match their CID {cid}"));
    }
    serde_ipld_dagcbor::from_slice(bytes)
        .map_err(|err| format!("record block {cid} is not DAG-CBOR: {err}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn prefixed(bytes: &[u8]) -> Vec<u8> {
        let mut buffer = unsigned_varint::encode::usize_buffer();
        let mut section = unsigned_varint::encode::usize(bytes.len(), &mut buffer).to_vec();
        section.extend_from_slice(bytes);
        section
    }

    fn header(version: u64) -> Vec<u8> {
        let header = BTreeMap::from([
            ("version", Ipld::Integer(version.into())),
            ("roots", Ipld::List(vec![])),
        ]);
        prefixed(&serde_ipld_dagcbor::to_vec(&header).unwrap())
    }

    #[test]
    fn dag_cbor_is_written_as_atproto_json() {
        let cid: Cid = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
            .parse()
            .unwrap();
        let value = Ipld::Map(BTreeMap::from([
            ("blob".to_owned(), Ipld::Link(cid)),
            ("bytes".to_owned(), Ipld::Bytes(vec![1, 2, 3])),
            ("big".to_owned(), Ipld::Integer(u64::MAX as i128 + 1)),
            (
                "list".to_owned(),
                Ipld::List(vec![Ipld::Null, Ipld::Bool(true), Ipld::Integer(-3)]),
            ),
        ]));
        assert_eq!(
            serde_json::to_string(&AtJson(&value)).unwrap(),
            format!(
                r#"{{"big":"18446744073709551616","blob":{{"$link":"{cid}"}},"bytes":{{"$bytes":"AQID"}},"list":[null,true,-3]}}"#
            )
        );
    }

    #[test]
    fn car_blocks_are_read_in_place_and_bad_cars_are_named() {
        let record = serde_ipld_dagcbor::to_vec(&BTreeMap::from([("name", "x")])).unwrap();
        let digest = Sha256::digest(&record);
        let cid = Cid::new_v1(
            DAG_CBOR,
            cid::multihash::Multihash::wrap(SHA2_256, &digest).unwrap(),
        );
        let mut block = cid.to_bytes();
        block.extend_from_slice(&record);
        let mut car = header(1);
        car.extend(prefixed(&block));

        let blocks = car_blocks(&car).unwrap();
        assert_eq!(blocks, vec![(cid, record.as_slice())]);
        let record = record_of(&blocks, &cid).unwrap();
        assert_eq!(
            serde_json::to_value(AtJson(&record)).unwrap(),
            json!({"name": "x"})
        );

        let mut future = header(2);
        future.extend(prefixed(&block));
        assert_eq!(
            car_blocks(&future),
            Err(FrameError("CAR header: version 2 is not 1".into()))
        );
        let cut = &car[..car.len() - 3];
        assert!(
            matches!(car_blocks(cut), Err(FrameError(reason)) if reason.starts_with("CAR section: "))
        );
    }
}
