//! Applies a batch of events to a read model with one load and one store
//! per batch, whatever the batch size.

use std::collections::{HashMap, HashSet};

use domain::{DomainEvent, RecordedEvent};
use sqlx::PgConnection;

use crate::read_model::ReadModel;

/// Folds `events` (in log order) into the rows of `M` inside the caller's
/// transaction. An erasure splits the batch: what came before it is
/// stored, then erased, and what comes after it stays.
pub(crate) async fn fold<M: ReadModel>(
    conn: &mut PgConnection,
    events: &[(RecordedEvent, DomainEvent)],
) -> Result<(), sqlx::Error> {
    let mut rest = events;
    while let Some(at) = rest
        .iter()
        .position(|(_, event)| matches!(event, DomainEvent::PersonalDataErased(_)))
    {
        fold_keyed::<M>(conn, &rest[..=at]).await?;
        if let DomainEvent::PersonalDataErased(erased) = &rest[at].1 {
            M::erase(conn, erased).await?;
        }
        rest = &rest[at + 1..];
    }
    fold_keyed::<M>(conn, rest).await
}

async fn fold_keyed<M: ReadModel>(
    conn: &mut PgConnection,
    events: &[(RecordedEvent, DomainEvent)],
) -> Result<(), sqlx::Error> {
    let mut seen = HashSet::new();
    let keys: Vec<M::Key> = events
        .iter()
        .flat_map(|(_, event)| M::keys(event))
        .filter(|key| seen.insert(key.clone()))
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let stored = M::load(conn, &keys).await?;
    let mut rows: HashMap<M::Key, Option<M::Row>> = keys
        .iter()
        .map(|key| (key.clone(), stored.get(key).cloned()))
        .collect();
    for (recorded, event) in events {
        for key in M::keys(event) {
            let row = rows.remove(&key).flatten();
            let next = M::apply(row, &key, recorded, event);
            rows.insert(key, next);
        }
    }
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for key in keys {
        match (rows.remove(&key).flatten(), stored.get(&key)) {
            (Some(row), Some(old)) if row == *old => {}
            (Some(row), _) => upserts.push(row),
            (None, Some(_)) => deletes.push(key),
            (None, None) => {}
        }
    }
    M::store(conn, &upserts, &deletes).await
}
