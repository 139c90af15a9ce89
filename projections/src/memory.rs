//! The whole-log fold of a rebuild: rows kept in memory until the end, then
//! each written once, in bulk, with no load of earlier rows.

use std::collections::HashMap;

use domain::{DomainEvent, RecordedEvent};
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::PgConnection;

use crate::read_model::ReadModel;

/// Rows turned into COPY text at a time when a table is flushed.
const FLUSH_CHUNK: usize = 10_000;

/// One projection's rows, folded in memory.
pub(crate) trait Table: Send {
    /// Applies one event.
    fn apply(&mut self, event: &(RecordedEvent, DomainEvent));
    /// How many rows (including removed ones) it holds.
    fn len(&self) -> usize;
    /// Writes every row to the tables of the connection's `search_path` and
    /// forgets them.
    fn flush<'a>(
        &'a mut self,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;
}

/// The rows of read model `M`; `None` marks a row the log removed.
pub(crate) struct InMemory<M: ReadModel> {
    rows: HashMap<M::Key, Option<M::Row>>,
}

impl<M: ReadModel> Default for InMemory<M> {
    fn default() -> Self {
        Self {
            rows: HashMap::new(),
        }
    }
}

impl<M> Table for InMemory<M>
where
    M: ReadModel + Send + 'static,
    M::Key: 'static,
    M::Row: 'static,
{
    fn apply(&mut self, (recorded, event): &(RecordedEvent, DomainEvent)) {
        if let DomainEvent::PersonalDataErased(erased) = event {
            for row in self.rows.values_mut() {
                if row.as_ref().is_some_and(|row| M::erases(erased, row)) {
                    *row = None;
                }
            }
        }
        for key in M::keys(event) {
            let row = self.rows.remove(&key).flatten();
            let next = M::apply(row, &key, recorded, event);
            self.rows.insert(key, next);
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn flush<'a>(
        &'a mut self,
        conn: &'a mut PgConnection,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        async move {
            let rows: Vec<M::Row> = self.rows.drain().filter_map(|(_, row)| row).collect();
            if rows.is_empty() {
                return Ok(());
            }
            // One COPY per table, fed a chunk of lines at a time.
            let mut copy = conn
                .copy_in_raw(&format!("COPY {} FROM STDIN", M::COPY_TARGET))
                .await?;
            for chunk in rows.chunks(FLUSH_CHUNK) {
                let mut text = String::with_capacity(chunk.len() * 256);
                for row in chunk {
                    M::copy_line(row, &mut text);
                }
                copy.send(text.as_bytes()).await?;
            }
            copy.finish().await.map(|_| ())
        }
        .boxed()
    }
}
