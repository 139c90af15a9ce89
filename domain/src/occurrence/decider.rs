//! The occurrence aggregate: one dated event, scheduled locally or imported
//! from a Bluesky record.

use schemas::records::{EVENT_NSID, EventRecord};
use thiserror::Error;

use super::{
    EventChangedExternally, EventDeletedExternally, EventDetails, EventImported,
    OccurrenceCancelled, OccurrenceDeleted, OccurrenceEdited, OccurrenceId, OccurrenceScheduled,
};
use crate::catalogue::DomainEvent;
use crate::decider::Decider;
use crate::series::SeriesId;
use crate::sync::ConflictSubject;
use crate::time::Timestamp;

/// An occurrence, as its events leave it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Occurrence {
    /// Never scheduled or imported.
    #[default]
    Absent,
    /// Scheduled in OpenMeet.
    Local {
        /// The occurrence.
        id: OccurrenceId,
        /// Its series, if any.
        series_id: Option<SeriesId>,
        /// Its content.
        details: EventDetails,
        /// The CID of the last version of its Bluesky record the firehose
        /// brought back, once published.
        observed_cid: Option<String>,
        /// Whether its record is in its owner's repository now (published,
        /// and not deleted by us since).
        published: bool,
    },
    /// Imported from a Bluesky record.
    Imported {
        /// The occurrence.
        id: OccurrenceId,
        /// The record's AT-URI.
        uri: String,
        /// The CID of the version last seen.
        cid: String,
        /// Its content: the record's, or the latest OpenMeet edit.
        details: EventDetails,
    },
    /// Cancelled in OpenMeet; kept for history.
    Cancelled {
        /// The occurrence.
        id: OccurrenceId,
        /// Its content when cancelled.
        details: EventDetails,
        /// The CID of the last version of its Bluesky record seen.
        observed_cid: Option<String>,
        /// Whether a record of it is on Bluesky now, as far as we wrote or
        /// imported it.
        published: bool,
    },
    /// Imported, but its stored record no longer maps (a later mapping
    /// refuses it); it has no content until a readable version arrives.
    Unreadable {
        /// The occurrence.
        id: OccurrenceId,
        /// The record's AT-URI.
        uri: String,
        /// The CID of the version last seen.
        cid: String,
        /// Why it does not map.
        reason: String,
    },
    /// Deleted in OpenMeet; kept for history.
    Removed {
        /// The occurrence.
        id: OccurrenceId,
    },
    /// Its record was deleted on Bluesky.
    Deleted {
        /// The occurrence.
        id: OccurrenceId,
        /// The deleted record's AT-URI.
        uri: String,
    },
}

/// What can be asked of an occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OccurrenceCommand {
    /// A version of a Bluesky record arrived (create or update): of a record
    /// imported from Bluesky, or of one we published.
    Import {
        /// The record's AT-URI.
        uri: String,
        /// The version's CID.
        cid: String,
        /// The record's JSON, as received.
        record: String,
        /// When the source says it changed.
        observed_at: Timestamp,
    },
    /// The Bluesky record was deleted.
    DeleteExternally {
        /// The record's AT-URI.
        uri: String,
        /// When the source says it was deleted.
        observed_at: Timestamp,
    },
    /// Schedule a local occurrence.
    Schedule {
        /// The new occurrence.
        occurrence_id: OccurrenceId,
        /// Its series, if any.
        series_id: Option<SeriesId>,
        /// Its content.
        details: EventDetails,
    },
    /// Edit the content in OpenMeet.
    Edit(EventDetails),
    /// Cancel it in OpenMeet.
    Cancel {
        /// Why, when given.
        reason: Option<String>,
    },
    /// Delete it in OpenMeet.
    Delete,
}

/// Why an occurrence command was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum OccurrenceError {
    /// The record cannot become an occurrence.
    #[error("record {uri}: {reason}")]
    InvalidRecord {
        /// The record.
        uri: String,
        /// Why, naming the field.
        reason: String,
    },
    /// Schedule on an occurrence that exists.
    #[error("occurrence {0} already exists")]
    AlreadyExists(OccurrenceId),
    /// A command for an occurrence that does not exist.
    #[error("the occurrence does not exist")]
    NotFound,
    /// A record version for an occurrence that was scheduled locally.
    #[error("occurrence {0} was scheduled in OpenMeet, not imported")]
    NotImported(OccurrenceId),
    /// A deletion in OpenMeet of an event that came from Bluesky.
    #[error("occurrence {0} was imported from Bluesky; it is deleted there")]
    FromBluesky(OccurrenceId),
    /// An edit of a cancelled or deleted occurrence.
    #[error("occurrence {0} is cancelled or deleted")]
    Closed(OccurrenceId),
    /// A command holding text no read model can store.
    #[error(transparent)]
    Unstorable(#[from] crate::text::UnstorableText),
}

/// Reads a record's JSON into event details, or says which field is wrong.
pub fn details_of(uri: &str, record: &str) -> Result<EventDetails, OccurrenceError> {
    let invalid = |reason: String| OccurrenceError::InvalidRecord {
        uri: uri.to_owned(),
        reason,
    };
    if crate::text::json_escapes_nul(record) {
        let field = serde_json::from_str::<serde_json::Value>(record)
            .ok()
            .and_then(|value| crate::text::nul_in_value("record", &value))
            .unwrap_or_else(|| "record".into());
        return Err(invalid(crate::text::UnstorableText { field }.to_string()));
    }
    // One parse straight into the typed record; a syntax error and a record
    // of the wrong shape both say where they are.
    let record: EventRecord = serde_json::from_str(record).map_err(|err| {
        invalid(if err.is_syntax() || err.is_eof() {
            format!("not JSON: {err}")
        } else {
            format!("{EVENT_NSID} record does not fit its type: {err}")
        })
    })?;
    EventDetails::from_record(&record).map_err(|err| invalid(err.to_string()))
}

/// The state a stored record version leaves: imported with its content,
/// or unreadable when the current mapping refuses it.
fn imported_state(id: OccurrenceId, uri: &str, cid: &str, record: &str) -> Occurrence {
    match details_of(uri, record) {
        Ok(details) => Occurrence::Imported {
            id,
            uri: uri.to_owned(),
            cid: cid.to_owned(),
            details,
        },
        Err(err) => Occurrence::Unreadable {
            id,
            uri: uri.to_owned(),
            cid: cid.to_owned(),
            reason: err.to_string(),
        },
    }
}

impl Occurrence {
    fn id(&self) -> Option<OccurrenceId> {
        match self {
            Occurrence::Absent => None,
            Occurrence::Local { id, .. }
            | Occurrence::Imported { id, .. }
            | Occurrence::Cancelled { id, .. }
            | Occurrence::Unreadable { id, .. }
            | Occurrence::Removed { id }
            | Occurrence::Deleted { id, .. } => Some(*id),
        }
    }

    /// The content, unless it was deleted.
    pub fn details(&self) -> Option<&EventDetails> {
        match self {
            Occurrence::Local { details, .. }
            | Occurrence::Imported { details, .. }
            | Occurrence::Cancelled { details, .. } => Some(details),
            Occurrence::Absent
            | Occurrence::Unreadable { .. }
            | Occurrence::Removed { .. }
            | Occurrence::Deleted { .. } => None,
        }
    }
}

impl Decider for Occurrence {
    type Command = OccurrenceCommand;
    type Error = OccurrenceError;

    fn decide(
        &self,
        command: &OccurrenceCommand,
        _at: Timestamp,
    ) -> Result<Vec<DomainEvent>, OccurrenceError> {
        match command {
            OccurrenceCommand::Schedule { details, .. } | OccurrenceCommand::Edit(details) => {
                details.check_storable()?;
            }
            OccurrenceCommand::Cancel { reason } => {
                crate::text::check_optional("reason", reason.as_deref())?;
            }
            _ => {}
        }
        match (self, command) {
            (Occurrence::Imported { cid: seen, .. }, OccurrenceCommand::Import { cid, .. })
                if seen == cid =>
            {
                Ok(vec![])
            }
            (
                Occurrence::Imported { id, .. } | Occurrence::Unreadable { id, .. },
                OccurrenceCommand::Import {
                    uri,
                    cid,
                    record,
                    observed_at,
                },
            ) => {
                details_of(uri, record)?;
                Ok(vec![
                    EventChangedExternally {
                        occurrence_id: *id,
                        uri: uri.clone(),
                        cid: cid.clone(),
                        record: record.clone(),
                        observed_at: *observed_at,
                    }
                    .into(),
                ])
            }
            (
                Occurrence::Absent | Occurrence::Deleted { .. },
                OccurrenceCommand::Import {
                    uri,
                    cid,
                    record,
                    observed_at,
                },
            ) => {
                details_of(uri, record)?;
                Ok(vec![
                    EventImported {
                        occurrence_id: OccurrenceId::for_record(uri),
                        uri: uri.clone(),
                        cid: cid.clone(),
                        record: record.clone(),
                        observed_at: *observed_at,
                    }
                    .into(),
                ])
            }
            (
                Occurrence::Local { observed_cid, .. } | Occurrence::Cancelled { observed_cid, .. },
                OccurrenceCommand::Import { cid, .. },
            ) if observed_cid.as_ref() == Some(cid) => Ok(vec![]),
            (
                Occurrence::Local { id, .. } | Occurrence::Cancelled { id, .. },
                OccurrenceCommand::Import {
                    uri,
                    cid,
                    record,
                    observed_at,
                },
            ) => {
                // Our own record coming back, or edited on Bluesky: recorded as
                // it arrived; the process manager decides what it changes.
                details_of(uri, record)?;
                Ok(vec![
                    EventChangedExternally {
                        occurrence_id: *id,
                        uri: uri.clone(),
                        cid: cid.clone(),
                        record: record.clone(),
                        observed_at: *observed_at,
                    }
                    .into(),
                ])
            }
            (
                Occurrence::Imported { id, .. } | Occurrence::Unreadable { id, .. },
                OccurrenceCommand::DeleteExternally { uri, observed_at },
            ) => Ok(vec![
                EventDeletedExternally {
                    occurrence_id: *id,
                    uri: uri.clone(),
                    observed_at: *observed_at,
                }
                .into(),
            ]),
            (Occurrence::Deleted { .. }, OccurrenceCommand::DeleteExternally { .. }) => Ok(vec![]),
            // The firehose echo of our own delete (sharing turned off, the
            // event made private, unpublished): nothing is there any more.
            (
                Occurrence::Local {
                    published: false, ..
                }
                | Occurrence::Cancelled {
                    published: false, ..
                },
                OccurrenceCommand::DeleteExternally { .. },
            ) => Ok(vec![]),
            (Occurrence::Absent, OccurrenceCommand::DeleteExternally { .. }) => {
                Err(OccurrenceError::NotFound)
            }
            (
                Occurrence::Local { id, .. } | Occurrence::Cancelled { id, .. },
                OccurrenceCommand::DeleteExternally { .. },
            ) => Err(OccurrenceError::NotImported(*id)),
            (
                Occurrence::Absent,
                OccurrenceCommand::Schedule {
                    occurrence_id,
                    series_id,
                    details,
                },
            ) => Ok(vec![
                OccurrenceScheduled {
                    occurrence_id: *occurrence_id,
                    series_id: *series_id,
                    details: details.clone(),
                }
                .into(),
            ]),
            (state, OccurrenceCommand::Schedule { occurrence_id, .. }) => Err(
                OccurrenceError::AlreadyExists(state.id().unwrap_or(*occurrence_id)),
            ),
            (
                Occurrence::Local { id, details, .. } | Occurrence::Imported { id, details, .. },
                OccurrenceCommand::Edit(new),
            ) => Ok(if details == new {
                vec![]
            } else {
                vec![
                    OccurrenceEdited {
                        occurrence_id: *id,
                        details: new.clone(),
                    }
                    .into(),
                ]
            }),
            (
                Occurrence::Local { id, .. } | Occurrence::Imported { id, .. },
                OccurrenceCommand::Cancel { reason },
            ) => Ok(vec![
                OccurrenceCancelled {
                    occurrence_id: *id,
                    reason: reason.clone(),
                }
                .into(),
            ]),
            (Occurrence::Cancelled { .. }, OccurrenceCommand::Cancel { .. }) => Ok(vec![]),
            (
                Occurrence::Local { id, .. } | Occurrence::Cancelled { id, .. },
                OccurrenceCommand::Delete,
            ) => Ok(vec![OccurrenceDeleted { occurrence_id: *id }.into()]),
            (
                Occurrence::Removed { .. },
                OccurrenceCommand::Delete
                | OccurrenceCommand::Import { .. }
                | OccurrenceCommand::DeleteExternally { .. },
            ) => Ok(vec![]),
            (
                Occurrence::Imported { id, .. }
                | Occurrence::Unreadable { id, .. }
                | Occurrence::Deleted { id, .. },
                OccurrenceCommand::Delete,
            ) => Err(OccurrenceError::FromBluesky(*id)),
            (
                Occurrence::Removed { id }
                | Occurrence::Cancelled { id, .. }
                | Occurrence::Deleted { id, .. }
                | Occurrence::Unreadable { id, .. },
                _,
            ) => Err(OccurrenceError::Closed(*id)),
            (Occurrence::Absent, _) => Err(OccurrenceError::NotFound),
        }
    }

    fn evolve(self, event: &DomainEvent) -> Occurrence {
        match (self, event) {
            (_, DomainEvent::EventImported(imported)) => imported_state(
                imported.occurrence_id,
                &imported.uri,
                &imported.cid,
                &imported.record,
            ),
            (
                Occurrence::Imported { id, .. } | Occurrence::Unreadable { id, .. },
                DomainEvent::EventChangedExternally(changed),
            ) => imported_state(id, &changed.uri, &changed.cid, &changed.record),
            (
                Occurrence::Imported { id, uri, .. } | Occurrence::Unreadable { id, uri, .. },
                DomainEvent::EventDeletedExternally(_),
            ) => Occurrence::Deleted { id, uri },
            (
                mut state @ (Occurrence::Local { .. } | Occurrence::Cancelled { .. }),
                DomainEvent::EventChangedExternally(changed),
            ) => {
                if let Occurrence::Local { observed_cid, .. }
                | Occurrence::Cancelled { observed_cid, .. } = &mut state
                {
                    *observed_cid = Some(changed.cid.clone());
                }
                state
            }
            (
                mut state @ (Occurrence::Local { .. } | Occurrence::Cancelled { .. }),
                DomainEvent::OccurrencePublished(_) | DomainEvent::OccurrenceUnpublished(_),
            ) => {
                if let Occurrence::Local { published, .. }
                | Occurrence::Cancelled { published, .. } = &mut state
                {
                    *published = matches!(event, DomainEvent::OccurrencePublished(_));
                }
                state
            }
            (Occurrence::Absent, DomainEvent::OccurrenceScheduled(scheduled)) => {
                Occurrence::Local {
                    id: scheduled.occurrence_id,
                    series_id: scheduled.series_id,
                    details: scheduled.details.clone(),
                    observed_cid: None,
                    published: false,
                }
            }
            (
                Occurrence::Local {
                    id,
                    series_id,
                    observed_cid,
                    published,
                    ..
                },
                DomainEvent::OccurrenceEdited(edited),
            ) => Occurrence::Local {
                id,
                series_id,
                details: edited.details.clone(),
                observed_cid,
                published,
            },
            (mut state, DomainEvent::ConflictResolved(resolved))
                if matches!(resolved.subject, ConflictSubject::Occurrence(_)) =>
            {
                if let Occurrence::Local { details, .. }
                | Occurrence::Imported { details, .. }
                | Occurrence::Cancelled { details, .. } = &mut state
                {
                    resolved.apply_to(details);
                }
                state
            }
            (Occurrence::Imported { id, uri, cid, .. }, DomainEvent::OccurrenceEdited(edited)) => {
                Occurrence::Imported {
                    id,
                    uri,
                    cid,
                    details: edited.details.clone(),
                }
            }
            (
                Occurrence::Local {
                    id,
                    details,
                    observed_cid,
                    published,
                    ..
                },
                DomainEvent::OccurrenceCancelled(_),
            ) => Occurrence::Cancelled {
                id,
                details,
                observed_cid,
                published,
            },
            (
                Occurrence::Imported {
                    id, details, cid, ..
                },
                DomainEvent::OccurrenceCancelled(_),
            ) => Occurrence::Cancelled {
                id,
                details,
                observed_cid: Some(cid),
                published: true,
            },
            (
                Occurrence::Local { id, .. } | Occurrence::Cancelled { id, .. },
                DomainEvent::OccurrenceDeleted(_),
            ) => Occurrence::Removed { id },
            (state, _) => state,
        }
    }
}
