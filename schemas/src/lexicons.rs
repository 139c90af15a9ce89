//! The lexicon documents of `schemas/lexicons/`, embedded at build time, and
//! validation of values against them.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;
use thiserror::Error;

use crate::json::Json;
use crate::validate::{Checks, NodeId};

/// Every document in `schemas/lexicons/`.
const DOCUMENTS: &[(&str, &str)] = &[
    (
        "com.atproto.repo.strongRef",
        include_str!("../lexicons/com.atproto.repo.strongRef.json"),
    ),
    (
        "community.lexicon.calendar.event",
        include_str!("../lexicons/community.lexicon.calendar.event.json"),
    ),
    (
        "community.lexicon.calendar.rsvp",
        include_str!("../lexicons/community.lexicon.calendar.rsvp.json"),
    ),
    (
        "community.lexicon.location.address",
        include_str!("../lexicons/community.lexicon.location.address.json"),
    ),
    (
        "community.lexicon.location.fsq",
        include_str!("../lexicons/community.lexicon.location.fsq.json"),
    ),
    (
        "community.lexicon.location.geo",
        include_str!("../lexicons/community.lexicon.location.geo.json"),
    ),
    (
        "community.lexicon.location.hthree",
        include_str!("../lexicons/community.lexicon.location.hthree.json"),
    ),
    (
        "openmeet.lexicon.calendar.recurrence",
        include_str!("../lexicons/openmeet.lexicon.calendar.recurrence.json"),
    ),
    (
        "openmeet.lexicon.group",
        include_str!("../lexicons/openmeet.lexicon.group.json"),
    ),
];

/// Why a value does not conform to its lexicon: where, and what is wrong.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{path} {reason}")]
pub struct Invalid {
    /// The field, such as `locations[0].country` (`record` for the whole).
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A set of lexicon definitions, addressed as `nsid#name` (`nsid` alone
/// means `nsid#main`).
pub struct Lexicons {
    defs: HashMap<String, Value>,
    checks: Checks,
    /// The record shape of each record definition, by `nsid#name` (and
    /// by `nsid` alone for `nsid#main`).
    records: HashMap<String, NodeId>,
}

static OURS: LazyLock<Lexicons> = LazyLock::new(|| {
    let mut defs = HashMap::new();
    for (nsid, text) in DOCUMENTS {
        // The documents are part of this crate; the tests load every one.
        let doc: Value = serde_json::from_str(text).expect("lexicon documents are JSON");
        debug_assert_eq!(doc["id"].as_str(), Some(*nsid));
        if let Some(entries) = doc["defs"].as_object() {
            for (name, def) in entries {
                defs.insert(format!("{nsid}#{name}"), def.clone());
            }
        }
    }
    let mut checks = Checks::compile(&defs);
    let mut records = HashMap::new();
    for (name, def) in defs.iter().filter(|(_, def)| def["type"] == "record") {
        let nsid = name.split('#').next().unwrap_or(name);
        let shape = checks.add(&defs, nsid, &def["record"]);
        if name.ends_with("#main") {
            records.insert(nsid.to_owned(), shape);
        }
        records.insert(name.clone(), shape);
    }
    Lexicons {
        defs,
        checks,
        records,
    }
});

impl Lexicons {
    /// The lexicons of `schemas/lexicons/`.
    pub fn ours() -> &'static Lexicons {
        &OURS
    }

    /// The NSIDs of every document.
    pub fn nsids() -> impl Iterator<Item = &'static str> {
        DOCUMENTS.iter().map(|(nsid, _)| *nsid)
    }

    /// The definition `reference` names (`nsid`, `nsid#name`).
    pub fn def(&self, reference: &str) -> Option<&Value> {
        self.defs.get(&canonical(reference))
    }

    /// Checks a record: its `$type`, if present, must name `nsid`, and its
    /// fields must match the record definition.
    pub fn validate_record<V: Json>(&self, nsid: &str, record: &V) -> Result<(), Invalid> {
        let shape = self
            .records
            .get(nsid)
            .or_else(|| self.records.get(&canonical(nsid)))
            .copied()
            .ok_or_else(|| Invalid {
                path: "record".into(),
                reason: format!("has no record lexicon {nsid}"),
            })?;
        if !record.is_object() {
            return Err(Invalid {
                path: "record".into(),
                reason: "must be an object".into(),
            });
        }
        match record.field("$type") {
            Some(found) if found.text() == Some(nsid) => {}
            Some(found) => {
                return Err(Invalid {
                    path: "record/$type".into(),
                    reason: format!(
                        "must be {nsid}, not {}",
                        serde_json::to_string(found).unwrap_or_default()
                    ),
                });
            }
            None => {}
        }
        self.checks
            .check(shape, record)
            .map_err(|fault| fault.at("record"))
    }

    /// Checks a value against any definition (an object, a string, ...).
    pub fn validate<V: Json>(&self, reference: &str, value: &V) -> Result<(), Invalid> {
        let def = self
            .checks
            .named(&canonical(reference))
            .ok_or_else(|| Invalid {
                path: "value".into(),
                reason: format!("has no lexicon {reference}"),
            })?;
        self.checks
            .check(def, value)
            .map_err(|fault| fault.at("value"))
    }
}

/// `nsid` → `nsid#main`; `nsid#name` unchanged.
pub(crate) fn canonical(reference: &str) -> String {
    if reference.contains('#') {
        reference.to_owned()
    } else {
        format!("{reference}#main")
    }
}
