//! Text the read side can store. PostgreSQL refuses U+0000 (NUL) in `text`
//! and `jsonb` alike, so a NUL that reached a read model would stop it.
//! The rule (see `docs/domain.md`): input holding a NUL anywhere is refused
//! where it enters the domain, naming the field; nothing is rewritten, so
//! what we keep and write back is what its author wrote.

use schemas::Json;
use thiserror::Error;

/// A text that no read model can store.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{field} holds U+0000 (NUL), which text stores refuse")]
pub struct UnstorableText {
    /// Where the text is, such as `name` or `record/locations/0/name`.
    pub field: String,
}

/// `value` of `field`, refused when it holds a NUL.
pub fn check(field: &str, value: &str) -> Result<(), UnstorableText> {
    if value.contains('\0') {
        Err(UnstorableText {
            field: field.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// [`check`] for an optional text.
pub fn check_optional(field: &str, value: Option<&str>) -> Result<(), UnstorableText> {
    value.map_or(Ok(()), |value| check(field, value))
}

/// The path (under `root`) of the first string or key of a JSON value
/// that holds a NUL.
pub fn nul_in_value<V: Json>(root: &str, value: &V) -> Option<String> {
    if let Some(text) = value.text() {
        return text.contains('\0').then(|| root.to_owned());
    }
    if let Some(elements) = value.elements() {
        return elements
            .iter()
            .enumerate()
            .find_map(|(n, element)| nul_in_value(&format!("{root}/{n}"), element));
    }
    value.entries().into_iter().find_map(|(key, inner)| {
        if key.contains('\0') {
            Some(format!("{root}/{}", key.escape_debug()))
        } else {
            nul_in_value(&format!("{root}/{key}"), inner)
        }
    })
}

/// Whether JSON text escapes a NUL (`\u0000`), which is the only way a
/// valid JSON document can hold one. Found without parsing: the escape
/// counts when an odd number of backslashes stands before its `u`.
pub fn json_escapes_nul(json: &str) -> bool {
    let bytes = json.as_bytes();
    json.match_indices("u0000").any(|(at, _)| {
        let backslashes = bytes[..at]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        backslashes % 2 == 1
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_nul_is_named_by_its_field() {
        assert_eq!(
            check("name", "Rust\0Meetup").unwrap_err().to_string(),
            "name holds U+0000 (NUL), which text stores refuse"
        );
        assert_eq!(check("name", "Rust Meetup"), Ok(()));
    }

    #[test]
    fn the_path_of_a_nul_in_a_record_names_arrays_and_keys() {
        let value: serde_json::Value =
            serde_json::from_str(r#"{"name":"ok","locations":[{"name":"a"},{"name":"b\u0000"}]}"#)
                .unwrap();
        assert_eq!(
            nul_in_value("record", &value).as_deref(),
            Some("record/locations/1/name")
        );
        let key: serde_json::Value = serde_json::from_str(r#"{"x\u0000":1}"#).unwrap();
        assert_eq!(nul_in_value("record", &key).as_deref(), Some("record/x\\0"));
        let clean: serde_json::Value = serde_json::from_str(r#"{"a":[1,"b",{"c":null}]}"#).unwrap();
        assert_eq!(nul_in_value("record", &clean), None);
    }

    #[test]
    fn an_escaped_backslash_before_u0000_is_no_nul() {
        assert!(json_escapes_nul(r#"{"name":"a\u0000"}"#));
        assert!(json_escapes_nul(r#"{"name":"\\\u0000"}"#));
        assert!(!json_escapes_nul(r#"{"name":"\\u0000"}"#));
        assert!(!json_escapes_nul(r#"{"name":"u0000"}"#));
    }

    proptest! {
        #[test]
        fn the_text_scan_agrees_with_parsing(text in "[a\\\\\u{0}u0]{0,12}") {
            let json = serde_json::to_string(&serde_json::json!({ "name": text })).unwrap();
            let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(json_escapes_nul(&json), nul_in_value("record", &parsed).is_some());
        }
    }
}
