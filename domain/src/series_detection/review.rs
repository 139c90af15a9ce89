//! An organizer's answer to a proposal, on the proposal's own stream:
//! accepted as proposed, adjusted (other members or rule) then accepted,
//! or rejected. A rejected group is not proposed again unless new events
//! join it (see `sync::detection`).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{ProposalId, SeriesProposed, organizer_of};
use crate::catalogue::DomainEvent;
use crate::recurrence::{Recurrence, RecurrenceError};
use crate::series::SeriesId;
use crate::time::Timestamp;

/// The fewest events a series is made of.
pub const MIN_MEMBERS: usize = 2;

/// The organizer accepted a proposal: `series_id` is created from it, and
/// its member events become the series' occurrences. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesProposalAccepted {
    /// The proposal.
    pub proposal_id: ProposalId,
    /// The version answered.
    pub version: u32,
    /// The organizer's DID.
    pub organizer: String,
    /// The series created.
    pub series_id: SeriesId,
    /// The member events, as accepted.
    pub uris: Vec<String>,
    /// The rule, as accepted (iCalendar lines).
    pub rrule: String,
}

/// The organizer changed a proposal's members or rule before accepting
/// it. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesProposalAdjusted {
    /// The proposal.
    pub proposal_id: ProposalId,
    /// The version adjusted.
    pub version: u32,
    /// The members after the change.
    pub uris: Vec<String>,
    /// The rule after the change.
    pub rrule: String,
}

/// The organizer rejected a proposal. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesProposalRejected {
    /// The proposal.
    pub proposal_id: ProposalId,
    /// The version rejected.
    pub version: u32,
    /// The organizer's DID.
    pub organizer: String,
    /// The members rejected together: not proposed again unless others join.
    pub uris: Vec<String>,
}

/// A proposal as its answers left it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProposalReview {
    /// Never proposed.
    #[default]
    Unknown,
    /// Proposed and unanswered (or proposed again after a rejection).
    Open(SeriesProposed),
    /// Rejected; detection may still propose a new version.
    Rejected(SeriesProposed),
    /// Accepted: the series exists.
    Accepted {
        /// The series made from it.
        series_id: SeriesId,
    },
}

/// What an organizer may answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewCommand {
    /// Create the series as proposed.
    Accept {
        /// The id of the new series.
        series_id: SeriesId,
    },
    /// Change the members or the rule, then create the series.
    Adjust {
        /// The id of the new series.
        series_id: SeriesId,
        /// The members after the change.
        uris: Vec<String>,
        /// The rule after the change (iCalendar lines).
        rrule: String,
    },
    /// Never propose this group again.
    Reject,
}

/// Why an answer is refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ReviewError {
    /// No such proposal.
    #[error("no such proposal")]
    Unknown,
    /// It was accepted already.
    #[error("the proposal was accepted already: series {0}")]
    AlreadyAccepted(SeriesId),
    /// Too few members.
    #[error("a series needs at least {MIN_MEMBERS} events, not {0}")]
    TooFewMembers(usize),
    /// A member is not the organizer's.
    #[error("{uri} is not an event of {organizer}")]
    NotTheOrganizers {
        /// The member.
        uri: String,
        /// The proposal's organizer.
        organizer: String,
    },
    /// The rule does not read or expand.
    #[error(transparent)]
    Rule(#[from] RecurrenceError),
    /// A member is not an imported event now (never seen, deleted or
    /// unreadable).
    #[error("{0} is not an imported event (never seen, deleted or unreadable)")]
    NotImported(String),
}

impl ProposalReview {
    /// The latest version of the proposal, unless accepted or unknown.
    pub fn latest(&self) -> Option<&SeriesProposed> {
        match self {
            ProposalReview::Open(proposal) | ProposalReview::Rejected(proposal) => Some(proposal),
            _ => None,
        }
    }
}

fn checked_members(proposal: &SeriesProposed, uris: &[String]) -> Result<Vec<String>, ReviewError> {
    let mut members: Vec<String> = Vec::with_capacity(uris.len());
    for uri in uris {
        if organizer_of(uri) != proposal.organizer {
            return Err(ReviewError::NotTheOrganizers {
                uri: uri.clone(),
                organizer: proposal.organizer.clone(),
            });
        }
        if !members.contains(uri) {
            members.push(uri.clone());
        }
    }
    if members.len() < MIN_MEMBERS {
        return Err(ReviewError::TooFewMembers(members.len()));
    }
    Ok(members)
}

fn accepted(
    proposal: &SeriesProposed,
    series_id: SeriesId,
    uris: Vec<String>,
    rrule: String,
) -> DomainEvent {
    SeriesProposalAccepted {
        proposal_id: proposal.proposal_id,
        version: proposal.version,
        organizer: proposal.organizer.clone(),
        series_id,
        uris,
        rrule,
    }
    .into()
}

impl crate::decider::Decider for ProposalReview {
    type Command = ReviewCommand;
    type Error = ReviewError;

    fn decide(
        &self,
        command: &ReviewCommand,
        _at: Timestamp,
    ) -> Result<Vec<DomainEvent>, ReviewError> {
        let proposal = match self {
            ProposalReview::Unknown => return Err(ReviewError::Unknown),
            ProposalReview::Accepted { series_id } => {
                return Err(ReviewError::AlreadyAccepted(*series_id));
            }
            ProposalReview::Open(proposal) | ProposalReview::Rejected(proposal) => proposal,
        };
        match command {
            ReviewCommand::Accept { series_id } => {
                Recurrence::from_ical(&proposal.rrule)?;
                Ok(vec![accepted(
                    proposal,
                    *series_id,
                    proposal.uris.clone(),
                    proposal.rrule.clone(),
                )])
            }
            ReviewCommand::Adjust {
                series_id,
                uris,
                rrule,
            } => {
                let members = checked_members(proposal, uris)?;
                Recurrence::from_ical(rrule)?;
                Ok(vec![
                    SeriesProposalAdjusted {
                        proposal_id: proposal.proposal_id,
                        version: proposal.version,
                        uris: members.clone(),
                        rrule: rrule.clone(),
                    }
                    .into(),
                    accepted(proposal, *series_id, members, rrule.clone()),
                ])
            }
            ReviewCommand::Reject => Ok(match self {
                ProposalReview::Rejected(_) => vec![],
                _ => vec![
                    SeriesProposalRejected {
                        proposal_id: proposal.proposal_id,
                        version: proposal.version,
                        organizer: proposal.organizer.clone(),
                        uris: proposal.uris.clone(),
                    }
                    .into(),
                ],
            }),
        }
    }

    fn evolve(self, event: &DomainEvent) -> ProposalReview {
        match (self, event) {
            (ProposalReview::Accepted { series_id }, _) => ProposalReview::Accepted { series_id },
            (_, DomainEvent::SeriesProposed(proposed)) => ProposalReview::Open(proposed.clone()),
            (ProposalReview::Open(proposal), DomainEvent::SeriesProposalRejected(_)) => {
                ProposalReview::Rejected(proposal)
            }
            (_, DomainEvent::SeriesProposalAccepted(accepted)) => ProposalReview::Accepted {
                series_id: accepted.series_id,
            },
            (state, _) => state,
        }
    }
}

/// The series an acceptance creates, from its members as their streams
/// hold them now (`members`, in the acceptance's order): the content of the
/// first by start, under the shared name the proposal found when the
/// first's name starts with it, starting when the accepted rule starts.
/// Its events stay Bluesky's: the series is never pushed back.
pub fn series_of(
    accepted: &SeriesProposalAccepted,
    review: &ProposalReview,
    members: &[(String, crate::occurrence::Occurrence)],
) -> Result<crate::series::SeriesCommand, ReviewError> {
    let recurrence = Recurrence::from_ical(&accepted.rrule)?;
    let mut details = Vec::with_capacity(members.len());
    for (uri, occurrence) in members {
        match occurrence {
            crate::occurrence::Occurrence::Imported { details: d, .. } => details.push(d),
            _ => return Err(ReviewError::NotImported(uri.clone())),
        }
    }
    let first = details
        .into_iter()
        .min_by_key(|d| d.starts_at)
        .cloned()
        .ok_or(ReviewError::TooFewMembers(0))?;
    let shared = review
        .latest()
        .map(|p| p.series_name.clone())
        .unwrap_or_default();
    let name = match first.name.get(..shared.len()) {
        Some(prefix) if !shared.is_empty() && prefix.to_lowercase() == shared => prefix.to_owned(),
        _ if shared.is_empty() => first.name.clone(),
        _ => shared,
    };
    let details = crate::occurrence::EventDetails {
        name,
        starts_at: Some(recurrence.starts_at),
        ends_at: None,
        time_zone: Some(recurrence.time_zone.clone()),
        ..first
    };
    Ok(crate::series::SeriesCommand::Create {
        series_id: accepted.series_id,
        slug: crate::slug::slug(&details.name, accepted.series_id.0),
        details,
        recurrence,
        origin: crate::envelope::Origin::Bluesky,
    })
}
