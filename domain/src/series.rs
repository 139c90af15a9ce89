//! Event series: a recurrence plus the content its occurrences share.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::catalogue::DomainEvent;
use crate::decider::Decider;
use crate::envelope::{Origin, StreamId};
use crate::occurrence::EventDetails;
use crate::recurrence::{Recurrence, RecurrenceError};
use crate::time::Timestamp;

/// The local id of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeriesId(pub Uuid);

impl SeriesId {
    /// The stream of this series.
    pub fn stream(self) -> StreamId {
        StreamId::new("series", self.0)
    }
}

impl fmt::Display for SeriesId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A series was created. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesCreated {
    /// The series.
    pub series_id: SeriesId,
    /// Its URL name on OpenMeet.
    pub slug: String,
    /// What its occurrences share; `starts_at` is the first occurrence.
    pub details: EventDetails,
    /// When it recurs.
    pub recurrence: Recurrence,
    /// The platform it comes from, its source of truth; never changes.
    pub origin: Origin,
}

/// A series' shared content was edited. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesEdited {
    /// The series.
    pub series_id: SeriesId,
    /// The new content.
    pub details: EventDetails,
}

/// A series' recurrence changed. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecurrenceChanged {
    /// The series.
    pub series_id: SeriesId,
    /// The new recurrence.
    pub recurrence: Recurrence,
}

/// A series was deleted in OpenMeet; what was published of it is deleted
/// from Bluesky. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesDeleted {
    /// The series.
    pub series_id: SeriesId,
}

/// A series, as its events leave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one state is alive per aggregate; boxing would only add an allocation"
)]
pub enum Series {
    /// Not created.
    #[default]
    Absent,
    /// Created.
    Active {
        /// The series.
        id: SeriesId,
        /// Its URL name.
        slug: String,
        /// Shared content.
        details: EventDetails,
        /// When it recurs.
        recurrence: Recurrence,
        /// Its source of truth.
        origin: Origin,
    },
    /// Deleted; kept for history.
    Removed {
        /// The series.
        id: SeriesId,
    },
}

/// What can be asked of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeriesCommand {
    /// Create it.
    Create {
        /// The new id.
        series_id: SeriesId,
        /// Its URL name.
        slug: String,
        /// Shared content.
        details: EventDetails,
        /// When it recurs.
        recurrence: Recurrence,
        /// Where it comes from.
        origin: Origin,
    },
    /// Replace its shared content.
    Edit(EventDetails),
    /// Replace its recurrence.
    ChangeRecurrence(Recurrence),
    /// Delete it.
    Delete,
}

/// Why a series command was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SeriesError {
    /// Create on an existing series.
    #[error("series {0} already exists")]
    AlreadyExists(SeriesId),
    /// Edit of a series that does not exist.
    #[error("the series does not exist")]
    NotFound,
    /// Edit of a deleted series.
    #[error("series {0} was deleted")]
    Deleted(SeriesId),
    /// The recurrence cannot be expanded.
    #[error("invalid recurrence: {0}")]
    InvalidRecurrence(#[from] RecurrenceError),
    /// A command holding text no read model can store.
    #[error(transparent)]
    Unstorable(#[from] crate::text::UnstorableText),
}

impl Series {
    /// The occurrences from `from` to `until`, both inclusive.
    pub fn occurrences_between(
        &self,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<Timestamp>, SeriesError> {
        Ok(self.recurrence()?.schedule()?.between(from, until)?)
    }

    /// The first occurrence strictly after `at`: the one to publish next.
    pub fn next_occurrence_after(&self, at: Timestamp) -> Result<Option<Timestamp>, SeriesError> {
        Ok(self.recurrence()?.schedule()?.next_after(at))
    }

    /// When it recurs, while it exists.
    pub fn recurrence(&self) -> Result<&Recurrence, SeriesError> {
        match self {
            Series::Absent => Err(SeriesError::NotFound),
            Series::Active { recurrence, .. } => Ok(recurrence),
            Series::Removed { id } => Err(SeriesError::Deleted(*id)),
        }
    }
}

impl Decider for Series {
    type Command = SeriesCommand;
    type Error = SeriesError;

    fn decide(
        &self,
        command: &SeriesCommand,
        _at: Timestamp,
    ) -> Result<Vec<DomainEvent>, SeriesError> {
        match command {
            SeriesCommand::Create { slug, details, .. } => {
                crate::text::check("slug", slug)?;
                details.check_storable()?;
            }
            SeriesCommand::Edit(details) => details.check_storable()?,
            SeriesCommand::ChangeRecurrence(_) | SeriesCommand::Delete => {}
        }
        match (self, command) {
            (
                Series::Absent,
                SeriesCommand::Create {
                    series_id,
                    slug,
                    details,
                    recurrence,
                    origin,
                },
            ) => {
                recurrence.schedule()?;
                Ok(vec![
                    SeriesCreated {
                        series_id: *series_id,
                        slug: slug.clone(),
                        details: details.clone(),
                        recurrence: recurrence.clone(),
                        origin: *origin,
                    }
                    .into(),
                ])
            }
            (Series::Active { id, .. } | Series::Removed { id }, SeriesCommand::Create { .. }) => {
                Err(SeriesError::AlreadyExists(*id))
            }
            (Series::Absent, _) => Err(SeriesError::NotFound),
            (Series::Active { id, .. }, SeriesCommand::Delete) => {
                Ok(vec![SeriesDeleted { series_id: *id }.into()])
            }
            (Series::Removed { .. }, SeriesCommand::Delete) => Ok(vec![]),
            (Series::Removed { id }, _) => Err(SeriesError::Deleted(*id)),
            (Series::Active { id, details, .. }, SeriesCommand::Edit(new)) => {
                Ok(if details == new {
                    vec![]
                } else {
                    vec![
                        SeriesEdited {
                            series_id: *id,
                            details: new.clone(),
                        }
                        .into(),
                    ]
                })
            }
            (Series::Active { id, recurrence, .. }, SeriesCommand::ChangeRecurrence(new)) => {
                new.schedule()?;
                Ok(if recurrence == new {
                    vec![]
                } else {
                    vec![
                        RecurrenceChanged {
                            series_id: *id,
                            recurrence: new.clone(),
                        }
                        .into(),
                    ]
                })
            }
        }
    }

    fn evolve(self, event: &DomainEvent) -> Series {
        match (self, event) {
            (Series::Absent, DomainEvent::SeriesCreated(created)) => Series::Active {
                id: created.series_id,
                slug: created.slug.clone(),
                details: created.details.clone(),
                recurrence: created.recurrence.clone(),
                origin: created.origin,
            },
            (
                Series::Active {
                    id,
                    slug,
                    recurrence,
                    origin,
                    ..
                },
                DomainEvent::SeriesEdited(edited),
            ) => Series::Active {
                id,
                slug,
                details: edited.details.clone(),
                recurrence,
                origin,
            },
            (
                Series::Active {
                    id,
                    slug,
                    details,
                    origin,
                    ..
                },
                DomainEvent::RecurrenceChanged(changed),
            ) => Series::Active {
                id,
                slug,
                details,
                recurrence: changed.recurrence.clone(),
                origin,
            },
            (Series::Active { id, .. }, DomainEvent::SeriesDeleted(_)) => Series::Removed { id },
            (state, _) => state,
        }
    }
}
