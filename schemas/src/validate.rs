//! Lexicon definitions compiled once into a tree of checks, and the walk of
//! a value through it. References are resolved, defaults folded into the
//! required lists and bounds read when the tree is built, so checking a
//! valid value allocates nothing; the path of an invalid one is assembled
//! only as its error travels back up.

use std::collections::HashMap;

use serde_json::Value;
use unicode_segmentation::UnicodeSegmentation;

use crate::formats;
use crate::json::Json;
use crate::lexicons::{Invalid, canonical};

/// A node of the tree: an index into [`Checks::nodes`].
pub(crate) type NodeId = usize;

/// Every definition of a set of lexicons, compiled.
pub(crate) struct Checks {
    nodes: Vec<Node>,
    /// Each definition (`nsid#name`) by its node.
    by_name: HashMap<String, NodeId>,
}

enum Node {
    Object {
        /// Required properties without a default, in lexicon order.
        required: Vec<String>,
        nullable: Vec<String>,
        properties: Vec<(String, NodeId)>,
    },
    Union {
        /// Each member's canonical name (`nsid#name`) and node.
        members: Vec<(String, NodeId)>,
        closed: bool,
    },
    Array {
        min: Option<u64>,
        max: Option<u64>,
        items: NodeId,
    },
    String(Box<StringChecks>),
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean {
        expected: Option<bool>,
    },
    Unknown,
    /// Checks as another node does (a reference).
    Alias(NodeId),
    /// Any value reaching it is refused, for this reason (an unknown
    /// reference, an unsupported type).
    Refused(String),
}

struct StringChecks {
    expected: Option<String>,
    /// The allowed values, and how the message shows them.
    allowed: Option<(Vec<String>, String)>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_graphemes: Option<u64>,
    max_graphemes: Option<u64>,
    format: Option<Format>,
}

enum Format {
    Known(fn(&str) -> bool, &'static str),
    Unsupported(String),
}

/// An invalid value: why, and the path below the root, innermost first.
pub(crate) struct Fault {
    reason: String,
    path: Vec<String>,
}

impl Fault {
    fn new(reason: impl Into<String>) -> Self {
        Fault {
            reason: reason.into(),
            path: vec![],
        }
    }

    fn within(mut self, step: impl ToString) -> Self {
        self.path.push(step.to_string());
        self
    }

    /// The error, its path starting at `root`.
    pub(crate) fn at(self, root: &str) -> Invalid {
        let mut path = root.to_owned();
        for step in self.path.iter().rev() {
            path.push('/');
            path.push_str(step);
        }
        Invalid {
            path,
            reason: self.reason,
        }
    }
}

impl Checks {
    /// Compiles `defs`, each named `nsid#name`.
    pub(crate) fn compile(defs: &HashMap<String, Value>) -> Self {
        let mut names: Vec<&String> = defs.keys().collect();
        names.sort();
        let mut checks = Checks {
            nodes: Vec::with_capacity(names.len()),
            by_name: HashMap::with_capacity(names.len()),
        };
        // Every definition has its node before any is compiled, so
        // references (recursive ones too) resolve to a node.
        for name in &names {
            checks.by_name.insert((*name).clone(), checks.nodes.len());
            checks.nodes.push(Node::Unknown);
        }
        for name in names {
            let nsid = name.split('#').next().unwrap_or(name);
            let node = checks.node(defs, nsid, &defs[name]);
            let id = checks.by_name[name];
            checks.nodes[id] = node;
        }
        checks
    }

    /// The node of a definition (`nsid#name`).
    pub(crate) fn named(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// Compiles `def`, nested in the document `nsid`, into a new node.
    pub(crate) fn add(&mut self, defs: &HashMap<String, Value>, nsid: &str, def: &Value) -> NodeId {
        let node = self.node(defs, nsid, def);
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn node(&mut self, defs: &HashMap<String, Value>, nsid: &str, def: &Value) -> Node {
        match def["type"].as_str().unwrap_or_default() {
            "object" => {
                let nullable = strings(&def["nullable"]);
                let required = strings(&def["required"])
                    .into_iter()
                    // A missing property with a default takes the default,
                    // as the reference validator does before it checks
                    // `required`.
                    .filter(|name| !has_default(defs, nsid, &def["properties"][name]))
                    .collect();
                let mut properties = vec![];
                for (name, property) in def["properties"].as_object().into_iter().flatten() {
                    properties.push((name.clone(), self.add(defs, nsid, property)));
                }
                Node::Object {
                    required,
                    nullable,
                    properties,
                }
            }
            "ref" => {
                let reference = resolve(nsid, def["ref"].as_str().unwrap_or_default());
                self.reference(&reference)
            }
            "union" => {
                let members = strings(&def["refs"])
                    .into_iter()
                    .map(|member| {
                        let reference = resolve(nsid, &member);
                        let node = self.reference(&reference);
                        self.nodes.push(node);
                        (reference, self.nodes.len() - 1)
                    })
                    .collect();
                Node::Union {
                    members,
                    closed: def["closed"] == Value::Bool(true),
                }
            }
            "array" => Node::Array {
                min: def["minLength"].as_u64(),
                max: def["maxLength"].as_u64(),
                items: self.add(defs, nsid, &def["items"]),
            },
            "string" => Node::String(Box::new(StringChecks {
                expected: def["const"].as_str().map(str::to_owned),
                allowed: def["enum"].as_array().map(|allowed| {
                    let texts = allowed
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect();
                    (texts, Value::Array(allowed.clone()).to_string())
                }),
                min_length: def["minLength"].as_u64(),
                max_length: def["maxLength"].as_u64(),
                min_graphemes: def["minGraphemes"].as_u64(),
                max_graphemes: def["maxGraphemes"].as_u64(),
                format: def["format"].as_str().map(format),
            })),
            "integer" => Node::Integer {
                min: def["minimum"].as_i64(),
                max: def["maximum"].as_i64(),
            },
            "boolean" => Node::Boolean {
                expected: def["const"].as_bool(),
            },
            "unknown" => Node::Unknown,
            other => Node::Refused(format!(
                "has a lexicon type this validator does not support: {other:?}"
            )),
        }
    }

    /// A node that checks as the definition `reference` does.
    fn reference(&self, reference: &str) -> Node {
        match self.by_name.get(reference) {
            Some(&target) => Node::Alias(target),
            None => Node::Refused(format!("refers to unknown {reference}")),
        }
    }
}

impl Checks {
    /// Checks `value` against the node `id`.
    pub(crate) fn check<V: Json>(&self, id: NodeId, value: &V) -> Result<(), Fault> {
        match &self.nodes[id] {
            Node::Object {
                required,
                nullable,
                properties,
            } => {
                if !value.is_object() {
                    return Err(Fault::new("must be an object"));
                }
                if let Some(missing) = required.iter().find(|name| value.field(name).is_none()) {
                    return Err(Fault::new(format!("must have the property \"{missing}\"")));
                }
                for (name, property) in properties {
                    match value.field(name) {
                        None => {}
                        Some(field) if field.is_null() && nullable.contains(name) => {}
                        Some(field) => {
                            self.check(*property, field).map_err(|f| f.within(name))?;
                        }
                    }
                }
                Ok(())
            }
            Node::Union { members, closed } => {
                let Some(type_name) = value.field("$type").and_then(Json::text) else {
                    return Err(Fault::new(
                        "must be an object which includes the \"$type\" property",
                    ));
                };
                match members.iter().find(|(name, _)| names(type_name, name)) {
                    Some((_, member)) => self.check(*member, value),
                    None if *closed => Err(Fault::new(format!(
                        "$type must be one of the union's members, not {type_name}"
                    ))),
                    // Open unions admit members from newer lexicons unchecked.
                    None => Ok(()),
                }
            }
            Node::Array { min, max, items } => {
                let Some(elements) = value.elements() else {
                    return Err(Fault::new("must be an array"));
                };
                bounded(
                    elements.len() as u64,
                    *min,
                    *max,
                    |max| format!("must not have more than {max} elements"),
                    |min| format!("must not have fewer than {min} elements"),
                )?;
                for (n, element) in elements.iter().enumerate() {
                    self.check(*items, element).map_err(|f| f.within(n))?;
                }
                Ok(())
            }
            Node::String(checks) => match value.text() {
                Some(text) => checks.check(text),
                None => Err(Fault::new("must be a string")),
            },
            Node::Integer { min, max } => {
                let Some(number) = value.integer() else {
                    return Err(Fault::new("must be an integer"));
                };
                if let Some(max) = max.filter(|max| number > *max) {
                    return Err(Fault::new(format!("can not be greater than {max}")));
                }
                if let Some(min) = min.filter(|min| number < *min) {
                    return Err(Fault::new(format!("can not be less than {min}")));
                }
                Ok(())
            }
            Node::Boolean { expected } => match (value.boolean(), expected) {
                (Some(found), Some(expected)) if found != *expected => {
                    Err(Fault::new(format!("must be {expected}")))
                }
                (Some(_), _) => Ok(()),
                (None, _) => Err(Fault::new("must be a boolean")),
            },
            Node::Unknown if value.is_object() => Ok(()),
            Node::Unknown => Err(Fault::new("must be an object")),
            Node::Alias(target) => self.check(*target, value),
            Node::Refused(reason) => Err(Fault::new(reason.clone())),
        }
    }
}

impl StringChecks {
    fn check(&self, text: &str) -> Result<(), Fault> {
        if let Some(expected) = self.expected.as_ref().filter(|expected| *expected != text) {
            return Err(Fault::new(format!("must be {expected}")));
        }
        if let Some((allowed, shown)) = &self.allowed
            && !allowed.iter().any(|option| option == text)
        {
            return Err(Fault::new(format!("must be one of {shown}")));
        }
        // Lengths count UTF-8 bytes, as the data model does; graphemes count
        // what a reader perceives as characters.
        let length = text.len() as u64;
        bounded(
            length,
            self.min_length,
            self.max_length,
            |max| format!("must not be longer than {max} characters"),
            |min| format!("must not be shorter than {min} characters"),
        )?;
        if self.max_graphemes.is_some() || self.min_graphemes.is_some() {
            // A grapheme is at least one byte: a text within the bounds in
            // bytes is within them in graphemes.
            let graphemes = if self.min_graphemes.is_none()
                && self.max_graphemes.is_some_and(|max| length <= max)
            {
                length
            } else {
                text.graphemes(true).count() as u64
            };
            bounded(
                graphemes,
                self.min_graphemes,
                self.max_graphemes,
                |max| format!("must not be longer than {max} graphemes"),
                |min| format!("must not be shorter than {min} graphemes"),
            )?;
        }
        match &self.format {
            None => Ok(()),
            Some(Format::Known(valid, _)) if valid(text) => Ok(()),
            Some(Format::Known(_, expected)) => {
                Err(Fault::new(format!("must be {expected}: {text:?}")))
            }
            Some(Format::Unsupported(other)) => Err(Fault::new(format!(
                "has a format this validator does not support: {other}"
            ))),
        }
    }
}

/// Checks `count` against the bounds, the upper one first.
fn bounded(
    count: u64,
    min: Option<u64>,
    max: Option<u64>,
    too_many: impl Fn(u64) -> String,
    too_few: impl Fn(u64) -> String,
) -> Result<(), Fault> {
    if let Some(max) = max.filter(|max| count > *max) {
        return Err(Fault::new(too_many(max)));
    }
    if let Some(min) = min.filter(|min| count < *min) {
        return Err(Fault::new(too_few(min)));
    }
    Ok(())
}

fn format(name: &str) -> Format {
    let known = |valid, expected| Format::Known(valid, expected);
    match name {
        "datetime" => known(formats::is_datetime, "a valid atproto datetime"),
        "uri" => known(formats::is_uri, "a uri"),
        "at-uri" => known(formats::is_at_uri, "a valid at-uri"),
        "did" => known(formats::is_did, "a valid did"),
        "handle" => known(formats::is_handle, "a valid handle"),
        "nsid" => known(formats::is_nsid, "a valid nsid"),
        "cid" => known(formats::is_cid, "a cid string"),
        "record-key" => known(formats::is_record_key, "a valid record key"),
        "tid" => known(formats::is_tid, "a valid tid"),
        other => Format::Unsupported(other.to_owned()),
    }
}

/// Whether `type_name` (`nsid` or `nsid#name`) names the definition
/// `canonical_name` (`nsid#name`).
fn names(type_name: &str, canonical_name: &str) -> bool {
    type_name == canonical_name || canonical_name.strip_suffix("#main") == Some(type_name)
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn resolve(nsid: &str, reference: &str) -> String {
    match reference.strip_prefix('#') {
        Some(name) => format!("{nsid}#{name}"),
        None => canonical(reference),
    }
}

fn has_default(defs: &HashMap<String, Value>, nsid: &str, property: &Value) -> bool {
    if property.get("default").is_some() {
        return true;
    }
    property["type"] == "ref"
        && defs
            .get(&resolve(nsid, property["ref"].as_str().unwrap_or_default()))
            .is_some_and(|target| target.get("default").is_some())
}
