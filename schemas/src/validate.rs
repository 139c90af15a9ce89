//! The walk of a value against a lexicon definition.

use serde_json::Value;
use unicode_segmentation::UnicodeSegmentation;

use crate::formats;
use crate::lexicons::{Invalid, Lexicons, Path, canonical};

/// Checks `value` against `def`, a definition of the document `nsid`.
pub(crate) fn value(
    lexicons: &Lexicons,
    nsid: &str,
    def: &Value,
    value: &Value,
    path: &Path,
) -> Result<(), Invalid> {
    match def["type"].as_str().unwrap_or_default() {
        "object" => object(lexicons, nsid, def, value, path),
        "ref" => {
            let reference = resolve(nsid, def["ref"].as_str().unwrap_or_default());
            let target = lexicons
                .def(&reference)
                .ok_or_else(|| path.invalid(format!("refers to unknown {reference}")))?;
            let target_nsid = reference.split('#').next().unwrap_or(nsid).to_owned();
            self::value(lexicons, &target_nsid, target, value, path)
        }
        "union" => union(lexicons, nsid, def, value, path),
        "array" => array(lexicons, nsid, def, value, path),
        "string" => string(def, value, path),
        "integer" => integer(def, value, path),
        "boolean" => match value {
            Value::Bool(found) => match def.get("const") {
                Some(Value::Bool(expected)) if expected != found => {
                    Err(path.invalid(format!("must be {expected}")))
                }
                _ => Ok(()),
            },
            _ => Err(path.invalid("must be a boolean")),
        },
        "unknown" => match value {
            Value::Object(_) => Ok(()),
            _ => Err(path.invalid("must be an object")),
        },
        other => Err(path.invalid(format!(
            "has a lexicon type this validator does not support: {other:?}"
        ))),
    }
}

fn resolve(nsid: &str, reference: &str) -> String {
    match reference.strip_prefix('#') {
        Some(name) => format!("{nsid}#{name}"),
        None => canonical(reference),
    }
}

fn object(
    lexicons: &Lexicons,
    nsid: &str,
    def: &Value,
    value: &Value,
    path: &Path,
) -> Result<(), Invalid> {
    let Some(fields) = value.as_object() else {
        return Err(path.invalid("must be an object"));
    };
    let nullable: Vec<&str> = def["nullable"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for required in def["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        // A missing property with a default takes the default, as the
        // reference validator does before it checks `required`.
        if !fields.contains_key(required)
            && !has_default(lexicons, nsid, &def["properties"][required])
        {
            return Err(path.invalid(format!("must have the property \"{required}\"")));
        }
    }
    let Some(properties) = def["properties"].as_object() else {
        return Ok(());
    };
    for (name, property) in properties {
        match fields.get(name) {
            None => {}
            Some(Value::Null) if nullable.contains(&name.as_str()) => {}
            Some(field) => self::value(lexicons, nsid, property, field, &path.field(name))?,
        }
    }
    Ok(())
}

fn has_default(lexicons: &Lexicons, nsid: &str, property: &Value) -> bool {
    if property.get("default").is_some() {
        return true;
    }
    property["type"] == "ref"
        && lexicons
            .def(&resolve(nsid, property["ref"].as_str().unwrap_or_default()))
            .is_some_and(|target| target.get("default").is_some())
}

fn union(
    lexicons: &Lexicons,
    nsid: &str,
    def: &Value,
    value: &Value,
    path: &Path,
) -> Result<(), Invalid> {
    let Some(type_name) = value
        .as_object()
        .and_then(|fields| fields.get("$type"))
        .and_then(Value::as_str)
    else {
        return Err(path.invalid("must be an object which includes the \"$type\" property"));
    };
    let wanted = canonical(type_name);
    let member = def["refs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|r| resolve(nsid, r) == wanted);
    match member {
        Some(reference) => {
            let reference = resolve(nsid, reference);
            let target = lexicons
                .def(&reference)
                .ok_or_else(|| path.invalid(format!("refers to unknown {reference}")))?;
            let target_nsid = reference.split('#').next().unwrap_or(nsid).to_owned();
            self::value(lexicons, &target_nsid, target, value, path)
        }
        None if def["closed"] == Value::Bool(true) => Err(path.invalid(format!(
            "$type must be one of the union's members, not {type_name}"
        ))),
        // Open unions admit members from newer lexicons unchecked.
        None => Ok(()),
    }
}

fn array(
    lexicons: &Lexicons,
    nsid: &str,
    def: &Value,
    value: &Value,
    path: &Path,
) -> Result<(), Invalid> {
    let Some(items) = value.as_array() else {
        return Err(path.invalid("must be an array"));
    };
    let count = items.len() as u64;
    bounds(
        def,
        "Length",
        count,
        path,
        |max| format!("must not have more than {max} elements"),
        |min| format!("must not have fewer than {min} elements"),
    )?;
    for (n, item) in items.iter().enumerate() {
        self::value(lexicons, nsid, &def["items"], item, &path.index(n))?;
    }
    Ok(())
}

fn string(def: &Value, value: &Value, path: &Path) -> Result<(), Invalid> {
    let Some(text) = value.as_str() else {
        return Err(path.invalid("must be a string"));
    };
    if let Some(expected) = def["const"].as_str().filter(|expected| *expected != text) {
        return Err(path.invalid(format!("must be {expected}")));
    }
    if let Some(allowed) = def["enum"].as_array()
        && !allowed.iter().any(|option| option.as_str() == Some(text))
    {
        return Err(path.invalid(format!("must be one of {}", Value::Array(allowed.clone()))));
    }
    // Lengths count UTF-8 bytes, as the data model does; graphemes count
    // what a reader perceives as characters.
    bounds(
        def,
        "Length",
        text.len() as u64,
        path,
        |max| format!("must not be longer than {max} characters"),
        |min| format!("must not be shorter than {min} characters"),
    )?;
    if def.get("maxGraphemes").is_some() || def.get("minGraphemes").is_some() {
        let graphemes = text.graphemes(true).count() as u64;
        bounds(
            def,
            "Graphemes",
            graphemes,
            path,
            |max| format!("must not be longer than {max} graphemes"),
            |min| format!("must not be shorter than {min} graphemes"),
        )?;
    }
    let Some(format) = def["format"].as_str() else {
        return Ok(());
    };
    let (valid, expected) = match format {
        "datetime" => (formats::is_datetime(text), "a valid atproto datetime"),
        "uri" => (formats::is_uri(text), "a uri"),
        "at-uri" => (formats::is_at_uri(text), "a valid at-uri"),
        "did" => (formats::is_did(text), "a valid did"),
        "handle" => (formats::is_handle(text), "a valid handle"),
        "nsid" => (formats::is_nsid(text), "a valid nsid"),
        "cid" => (formats::is_cid(text), "a cid string"),
        "record-key" => (formats::is_record_key(text), "a valid record key"),
        other => {
            return Err(path.invalid(format!(
                "has a format this validator does not support: {other}"
            )));
        }
    };
    if valid {
        Ok(())
    } else {
        Err(path.invalid(format!("must be {expected}: {text:?}")))
    }
}

/// Checks `count` against the definition's `max{suffix}` and `min{suffix}`.
fn bounds(
    def: &Value,
    suffix: &str,
    count: u64,
    path: &Path,
    too_many: impl Fn(u64) -> String,
    too_few: impl Fn(u64) -> String,
) -> Result<(), Invalid> {
    if let Some(max) = def[format!("max{suffix}")]
        .as_u64()
        .filter(|max| count > *max)
    {
        return Err(path.invalid(too_many(max)));
    }
    if let Some(min) = def[format!("min{suffix}")]
        .as_u64()
        .filter(|min| count < *min)
    {
        return Err(path.invalid(too_few(min)));
    }
    Ok(())
}

fn integer(def: &Value, value: &Value, path: &Path) -> Result<(), Invalid> {
    let Some(number) = value.as_i64() else {
        return Err(path.invalid("must be an integer"));
    };
    if let Some(max) = def["maximum"].as_i64().filter(|max| number > *max) {
        return Err(path.invalid(format!("can not be greater than {max}")));
    }
    if let Some(min) = def["minimum"].as_i64().filter(|min| number < *min) {
        return Err(path.invalid(format!("can not be less than {min}")));
    }
    Ok(())
}
