//! The JSON values the checks read: `serde_json`'s own, and the borrowed
//! ones of `serde_json_borrow`, which intake parses without copying a
//! string or hashing a key.

use serde::Serialize;

/// A JSON value, as the lexicon checks read it. Where an object repeats a
/// key, the last value counts, as in `serde_json`.
pub trait Json: Serialize + Sized {
    /// The value of `name`, when this is an object that has it.
    fn field(&self, name: &str) -> Option<&Self>;
    /// Whether this is an object.
    fn is_object(&self) -> bool;
    /// The keys and values, in order, when this is an object.
    fn entries(&self) -> Vec<(&str, &Self)>;
    /// The elements, when this is an array.
    fn elements(&self) -> Option<&[Self]>;
    /// The text, when this is a string.
    fn text(&self) -> Option<&str>;
    /// The number, when this is an integer that fits an `i64`.
    fn integer(&self) -> Option<i64>;
    /// The truth value, when this is a boolean.
    fn boolean(&self) -> Option<bool>;
    /// Whether this is `null`.
    fn is_null(&self) -> bool;
}

impl Json for serde_json::Value {
    fn field(&self, name: &str) -> Option<&Self> {
        self.as_object()?.get(name)
    }

    fn is_object(&self) -> bool {
        self.is_object()
    }

    fn entries(&self) -> Vec<(&str, &Self)> {
        self.as_object()
            .map(|object| object.iter().map(|(k, v)| (k.as_str(), v)).collect())
            .unwrap_or_default()
    }

    fn elements(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }

    fn text(&self) -> Option<&str> {
        self.as_str()
    }

    fn integer(&self) -> Option<i64> {
        self.as_i64()
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn is_null(&self) -> bool {
        self.is_null()
    }
}

impl Json for serde_json_borrow::Value<'_> {
    fn field(&self, name: &str) -> Option<&Self> {
        self.as_object()?
            .as_vec()
            .iter()
            .rev()
            .find_map(|(key, value)| (&**key == name).then_some(value))
    }

    fn is_object(&self) -> bool {
        self.is_object()
    }

    fn entries(&self) -> Vec<(&str, &Self)> {
        self.as_object()
            .map(|object| object.as_vec().iter().map(|(k, v)| (&**k, v)).collect())
            .unwrap_or_default()
    }

    fn elements(&self) -> Option<&[Self]> {
        self.as_array()
    }

    fn text(&self) -> Option<&str> {
        self.as_str()
    }

    fn integer(&self) -> Option<i64> {
        self.as_i64()
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn is_null(&self) -> bool {
        self.is_null()
    }
}
