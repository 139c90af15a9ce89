//! What a read model is: which rows an event touches, how a row changes,
//! and how rows are loaded and stored.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

use domain::identity::PersonalDataErased;
use domain::{DomainEvent, RecordedEvent};
use sqlx::PgConnection;

/// One read model. `apply` is pure; `load` and `store` are its SQL. The SQL
/// names tables without a schema: the caller sets `search_path`, so the same
/// code writes the live tables or a rebuild's side copy.
pub trait ReadModel {
    /// What identifies a row.
    type Key: Hash + Eq + Clone + Send + Sync;
    /// A row.
    type Row: Clone + PartialEq + Send + Sync;

    /// The keys of the rows `event` changes (often none).
    fn keys(event: &DomainEvent) -> Vec<Self::Key>;

    /// The row after `event`: `None` when it does not (or no longer) exist.
    fn apply(
        row: Option<Self::Row>,
        key: &Self::Key,
        recorded: &RecordedEvent,
        event: &DomainEvent,
    ) -> Option<Self::Row>;

    /// The stored rows of `keys`.
    fn load(
        conn: &mut PgConnection,
        keys: &[Self::Key],
    ) -> impl Future<Output = Result<HashMap<Self::Key, Self::Row>, sqlx::Error>> + Send;

    /// The table and its columns, in the order [`ReadModel::copy_line`]
    /// writes them: `table (column, ...)`.
    const COPY_TARGET: &'static str;

    /// Appends `row` to `out` as one line of `COPY ... FROM STDIN` text.
    fn copy_line(row: &Self::Row, out: &mut String);

    /// Writes `upserts` and removes `deletes`.
    fn store(
        conn: &mut PgConnection,
        upserts: &[Self::Row],
        deletes: &[Self::Key],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// True when `row` holds personal data that `erased` removes. Rows are
    /// found by what they hold, not by key: an account's deletion does not
    /// list the rows it reaches.
    fn erases(_erased: &PersonalDataErased, _row: &Self::Row) -> bool {
        false
    }

    /// Removes the stored rows [`ReadModel::erases`] selects.
    fn erase(
        _conn: &mut PgConnection,
        _erased: &PersonalDataErased,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        async { Ok(()) }
    }
}

/// The AT-URI prefix of every record in `did`'s repository.
pub(crate) fn repository_prefix(did: &str) -> String {
    format!("at://{did}/")
}

/// Appends one field of a `COPY` text line: `\N` for NULL, the text with
/// backslash, tab, newline and carriage return escaped otherwise, then the
/// separator (`\t`, or `\n` after the last field).
pub(crate) fn copy_field(out: &mut String, value: Option<&str>, last: bool) {
    match value {
        None => out.push_str("\\N"),
        Some(text) => {
            for c in text.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
    out.push(if last { '\n' } else { '\t' });
}

/// Appends a whole `COPY` text line.
pub(crate) fn copy_fields(out: &mut String, fields: &[Option<String>]) {
    for (n, field) in fields.iter().enumerate() {
        copy_field(out, field.as_deref(), n + 1 == fields.len());
    }
}

#[cfg(test)]
mod tests {
    use super::copy_field;

    #[test]
    fn copy_fields_escape_what_the_text_format_reserves() {
        let mut line = String::new();
        copy_field(&mut line, Some("a\tb\\c\nd"), false);
        copy_field(&mut line, None, true);
        assert_eq!(line, "a\\tb\\\\c\\nd\t\\N\n");
    }
}
