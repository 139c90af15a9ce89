//! The projections this system keeps, and how a batch of events is applied
//! to one of them atomically with its checkpoint.

use std::fmt;

use domain::skips::ProjectionSkips;
use domain::{DomainEvent, GlobalPosition, RecordedEvent};
use sqlx::{PgConnection, PgPool};
use store::postgres::checkpoints::{self, CheckpointError};
use store::{Advance, Followers};
use thiserror::Error;

use crate::fold::fold;
use crate::models::{attendees, external_refs, occurrences, series, series_proposals, users};

/// One read model and the tables it owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Projection {
    /// `read.series`.
    Series,
    /// `read.occurrences`.
    Occurrences,
    /// `read.attendees`.
    Attendees,
    /// `read.users`.
    Users,
    /// `read.external_refs`.
    ExternalRefs,
    /// `read.series_proposals`.
    SeriesProposals,
}

/// The schema of the live read models.
pub const LIVE_SCHEMA: &str = "read";

/// Why a projection stopped. Errors about an event name it by position,
/// type and stream.
#[derive(Debug, Error)]
pub enum ProjectionError {
    /// A stored event does not decode.
    #[error(
        "projection {projection} stopped at position {position} ({event_type} in {stream}): {reason}"
    )]
    Undecodable {
        /// The projection.
        projection: Projection,
        /// The event's position.
        position: GlobalPosition,
        /// Its type.
        event_type: String,
        /// Its stream.
        stream: String,
        /// What the decoder said.
        reason: String,
    },
    /// Applying an event failed in the database.
    #[error(
        "projection {projection} failed on position {position} ({event_type} in {stream}): {reason}"
    )]
    Apply {
        /// The projection.
        projection: Projection,
        /// The event's position.
        position: GlobalPosition,
        /// Its type.
        event_type: String,
        /// Its stream.
        stream: String,
        /// What the database said.
        reason: String,
    },
    /// The projection's checkpoint moved under it: another runner of the same
    /// projection is active.
    #[error("projection {0}: its checkpoint was moved by another runner; only one may run")]
    ConcurrentRunner(Projection),
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// An operator's skip record does not decode: no projection can know
    /// what to pass over.
    #[error(transparent)]
    UnreadableSkip(#[from] domain::skips::UnreadableSkip),
    /// The database failed outside any one event.
    #[error("projection {projection}: {operation} failed: {source}")]
    Database {
        /// The projection.
        projection: Projection,
        /// What was being done.
        operation: &'static str,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
}

impl fmt::Display for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Projection {
    /// Every projection.
    pub const ALL: [Projection; 6] = [
        Projection::Series,
        Projection::Occurrences,
        Projection::Attendees,
        Projection::Users,
        Projection::ExternalRefs,
        Projection::SeriesProposals,
    ];

    /// Its name, as on the command line and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            Projection::Series => "series",
            Projection::Occurrences => "occurrences",
            Projection::Attendees => "attendees",
            Projection::Users => "users",
            Projection::ExternalRefs => "external_refs",
            Projection::SeriesProposals => "series_proposals",
        }
    }

    /// The projection called `name`.
    pub fn parse(name: &str) -> Option<Projection> {
        Projection::ALL
            .into_iter()
            .find(|projection| projection.name() == name)
    }

    /// The tables it owns (in its schema).
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Projection::Series => &["series"],
            Projection::Occurrences => &["occurrences"],
            Projection::Attendees => &["attendees"],
            Projection::Users => &["users"],
            Projection::ExternalRefs => &["external_refs"],
            Projection::SeriesProposals => &["series_proposals"],
        }
    }

    async fn fold(
        self,
        conn: &mut PgConnection,
        events: &[(RecordedEvent, DomainEvent)],
    ) -> Result<(), sqlx::Error> {
        match self {
            Projection::Series => fold::<series::Series>(conn, events).await,
            Projection::Occurrences => fold::<occurrences::Occurrences>(conn, events).await,
            Projection::Attendees => fold::<attendees::Attendees>(conn, events).await,
            Projection::Users => fold::<users::Users>(conn, events).await,
            Projection::ExternalRefs => fold::<external_refs::ExternalRefs>(conn, events).await,
            Projection::SeriesProposals => {
                fold::<series_proposals::SeriesProposals>(conn, events).await
            }
        }
    }

    /// An empty in-memory fold of this projection, for rebuilds.
    pub(crate) fn in_memory(self) -> Box<dyn crate::memory::Table> {
        use crate::memory::InMemory;
        match self {
            Projection::Series => Box::new(InMemory::<series::Series>::default()),
            Projection::Occurrences => Box::new(InMemory::<occurrences::Occurrences>::default()),
            Projection::Attendees => Box::new(InMemory::<attendees::Attendees>::default()),
            Projection::Users => Box::new(InMemory::<users::Users>::default()),
            Projection::ExternalRefs => {
                Box::new(InMemory::<external_refs::ExternalRefs>::default())
            }
            Projection::SeriesProposals => {
                Box::new(InMemory::<series_proposals::SeriesProposals>::default())
            }
        }
    }

    /// Names a database failure of this projection while doing `operation`.
    pub(crate) fn database(
        self,
        operation: &'static str,
    ) -> impl Fn(sqlx::Error) -> ProjectionError {
        move |source| ProjectionError::Database {
            projection: self,
            operation,
            source,
        }
    }

    /// The live checkpoint (0 when the projection never ran).
    pub async fn checkpoint(self, pool: &PgPool) -> Result<GlobalPosition, ProjectionError> {
        Ok(checkpoints::position(pool, Followers::ReadModels, self.name()).await?)
    }

    /// Applies `events` (contiguous, after the checkpoint) to the tables in
    /// `schema`, in one transaction. With `checkpoint`, the live checkpoint
    /// moves from that position to the last event's in the same transaction.
    pub async fn apply(
        self,
        conn: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
        checkpoint: Option<GlobalPosition>,
    ) -> Result<(), ProjectionError> {
        self.apply_skipping(
            conn,
            schema,
            events,
            checkpoint,
            &ProjectionSkips::default(),
        )
        .await
    }

    /// [`Projection::apply`], passing over the events `skips` names for this
    /// projection (the checkpoint still moves past them).
    pub async fn apply_skipping(
        self,
        conn: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
        checkpoint: Option<GlobalPosition>,
        skips: &ProjectionSkips,
    ) -> Result<(), ProjectionError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        let kept = events
            .iter()
            .filter(|event| !crate::skips::passes_over(skips, self, event));
        let decoded = self.decode(kept)?;
        let checkpoint = checkpoint.map(|from| (from, last.global_position));
        self.apply_decoded(conn, schema, &decoded, checkpoint).await
    }

    /// Applies events already decoded; with `checkpoint` (`from`, `to`) the
    /// live checkpoint moves in the same transaction, even when no event
    /// is left to apply.
    pub async fn apply_decoded(
        self,
        conn: &mut PgConnection,
        schema: &str,
        decoded: &[(RecordedEvent, DomainEvent)],
        checkpoint: Option<(GlobalPosition, GlobalPosition)>,
    ) -> Result<(), ProjectionError> {
        if decoded.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        let mut tx = sqlx::Connection::begin(&mut *conn)
            .await
            .map_err(self.database("beginning a batch"))?;
        set_schema(&mut tx, schema)
            .await
            .map_err(self.database("selecting the schema"))?;
        if let Err(source) = self.fold(&mut tx, decoded).await {
            drop(tx);
            return Err(self.locate_failure(conn, schema, decoded, source).await);
        }
        if let Some((from, to)) = checkpoint {
            let advance = Advance {
                followers: Followers::ReadModels,
                name: self.name().to_owned(),
                from,
                to,
            };
            match advance.within(&mut tx).await {
                Ok(()) => {}
                Err(CheckpointError::Moved { .. }) => {
                    return Err(ProjectionError::ConcurrentRunner(self));
                }
                Err(CheckpointError::Store(err)) => return Err(err.into()),
            }
        }
        tx.commit()
            .await
            .map_err(self.database("committing a batch"))
    }

    /// Decodes events, naming the first that does not decode.
    pub fn decode<'a>(
        self,
        events: impl IntoIterator<Item = &'a RecordedEvent>,
    ) -> Result<Vec<(RecordedEvent, DomainEvent)>, ProjectionError> {
        events
            .into_iter()
            .map(|recorded| match DomainEvent::decode(&recorded.payload) {
                Ok(event) => Ok((recorded.clone(), event)),
                Err(err) => Err(ProjectionError::Undecodable {
                    projection: self,
                    position: recorded.global_position,
                    event_type: recorded.payload.event_type.clone(),
                    stream: recorded.stream_id.to_string(),
                    reason: err.to_string(),
                }),
            })
            .collect()
    }

    /// A batch failed: replays it one event at a time (and rolls back) to
    /// name the event that fails.
    async fn locate_failure(
        self,
        conn: &mut PgConnection,
        schema: &str,
        events: &[(RecordedEvent, DomainEvent)],
        batch_error: sqlx::Error,
    ) -> ProjectionError {
        let culprit = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await.ok()?;
            set_schema(&mut tx, schema).await.ok()?;
            for (n, pair) in events.iter().enumerate() {
                if let Err(err) = self.fold(&mut tx, &events[n..=n]).await {
                    return Some((pair.0.clone(), err));
                }
            }
            None
        }
        .await;
        let (recorded, source) = match culprit {
            Some(found) => found,
            None => (events[events.len() - 1].0.clone(), batch_error),
        };
        ProjectionError::Apply {
            projection: self,
            position: recorded.global_position,
            event_type: recorded.payload.event_type.clone(),
            stream: recorded.stream_id.to_string(),
            reason: source.to_string(),
        }
    }
}

/// Points the transaction's unqualified table names at `schema`.
pub(crate) async fn set_schema(conn: &mut PgConnection, schema: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(schema)
        .execute(conn)
        .await
        .map(|_| ())
}
