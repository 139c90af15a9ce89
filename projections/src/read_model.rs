//! What a read model is: which rows an event touches, how a row changes,
//! and how rows are loaded and stored.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

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

    /// Writes `upserts` and removes `deletes`. With [`Write::InsertOnly`]
    /// the rows are plain inserts, for a table known to hold none of their
    /// keys (a rebuild's bulk load, before its unique indexes exist).
    fn store(
        conn: &mut PgConnection,
        upserts: &[Self::Row],
        deletes: &[Self::Key],
        write: Write,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// How rows are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// Insert, or update the row with the same key.
    Upsert,
    /// Insert only: no row with these keys exists.
    InsertOnly,
}

/// The statement for `write`: an upsert, or the same insert without its
/// `ON CONFLICT` clause.
pub(crate) fn statement(upsert: &'static str, write: Write) -> &'static str {
    match (write, upsert.find(" ON CONFLICT")) {
        (Write::InsertOnly, Some(end)) => &upsert[..end],
        _ => upsert,
    }
}
