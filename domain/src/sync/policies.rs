//! The spec's field-specific conflict policies, as pure functions from the
//! two sides of a field to the value kept and why.

use super::decisions::{FieldValue, Policy, Winner};
use crate::attendance::Answer;
use crate::envelope::Origin;
use crate::occurrence::{EventDetails, Place};

/// One field the two platforms disagree on, and what is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// OpenMeet's value.
    pub openmeet: FieldValue,
    /// Bluesky's value.
    pub bluesky: FieldValue,
    /// Which side was kept.
    pub winner: Winner,
    /// Why.
    pub policy: Policy,
    /// The value kept.
    pub resolved: FieldValue,
}

/// User-written content: a manual edit of it is preserved.
fn is_user_content(value: &FieldValue) -> bool {
    matches!(value, FieldValue::Name(_) | FieldValue::Description(_))
}

/// `first`'s places, then each of `second`'s that `first` lacks, each once.
pub fn merge_places(first: &[Place], second: &[Place]) -> Vec<Place> {
    let mut merged: Vec<Place> = Vec::with_capacity(first.len() + second.len());
    for place in first.iter().chain(second) {
        if !merged.contains(place) {
            merged.push(place.clone());
        }
    }
    merged
}

/// An occurrence imported from Bluesky (its source of truth), whose fields
/// `manual` were edited in OpenMeet since, received the version `incoming`.
///
/// A manual edit of the name or description is preserved; locations are
/// merged when the edit added some the record lacks; every other field
/// follows the record.
pub fn resolve_imported(manual: &[FieldValue], incoming: &EventDetails) -> Vec<Resolution> {
    manual
        .iter()
        .filter_map(|ours| {
            let theirs = ours.read_from(incoming)?;
            if &theirs == ours {
                return None;
            }
            let (winner, policy, resolved) = match (ours, &theirs) {
                (ours, _) if is_user_content(ours) => {
                    (Winner::OpenMeet, Policy::ManualEditPreserved, ours.clone())
                }
                (FieldValue::Places(ours), FieldValue::Places(theirs)) => {
                    let merged = merge_places(theirs, ours);
                    if &merged == theirs {
                        return None;
                    }
                    (
                        Winner::Merged,
                        Policy::LocationsMerged,
                        FieldValue::Places(merged),
                    )
                }
                _ => (Winner::Bluesky, Policy::SourceOfTruth, theirs.clone()),
            };
            Some(Resolution {
                openmeet: ours.clone(),
                bluesky: theirs,
                winner,
                policy,
                resolved,
            })
        })
        .collect()
}

/// An occurrence scheduled in OpenMeet (its source of truth) and published
/// by us was changed on Bluesky to `incoming`.
///
/// OpenMeet's values stay, except that locations the Bluesky version adds
/// are merged in.
pub fn resolve_published(ours: &EventDetails, incoming: &EventDetails) -> Vec<Resolution> {
    FieldValue::all_of(ours)
        .into_iter()
        .zip(FieldValue::all_of(incoming))
        .filter(|(ours, theirs)| ours != theirs)
        .map(|(ours, theirs)| {
            let merged = match (&ours, &theirs) {
                (FieldValue::Places(ours_places), FieldValue::Places(theirs_places)) => {
                    Some(merge_places(ours_places, theirs_places))
                        .filter(|merged| merged != ours_places)
                }
                _ => None,
            };
            let (winner, policy, resolved) = match merged {
                Some(merged) => (
                    Winner::Merged,
                    Policy::LocationsMerged,
                    FieldValue::Places(merged),
                ),
                None => (Winner::OpenMeet, Policy::SourceOfTruth, ours.clone()),
            };
            Resolution {
                openmeet: ours,
                bluesky: theirs,
                winner,
                policy,
                resolved,
            }
        })
        .collect()
}

/// The fields a write of ours overwrote: another client changed a record
/// we publish (`before`, our last version, became `theirs`) before our new
/// version (`ours`) was written over it at a refused swap. OpenMeet is the
/// source of truth of its events, so ours was written whole; a resolution
/// for each field the other client changed that ours does not say as they
/// did. Without our last version, every field that differs counts.
pub fn overwritten(
    before: Option<&EventDetails>,
    ours: &EventDetails,
    theirs: &EventDetails,
) -> Vec<Resolution> {
    let before = FieldValue::all_of(before.unwrap_or(ours));
    FieldValue::all_of(ours)
        .into_iter()
        .zip(FieldValue::all_of(theirs))
        .zip(before)
        .filter(|((ours, theirs), before)| theirs != before && ours != theirs)
        .map(|((ours, theirs), _)| Resolution {
            openmeet: ours.clone(),
            bluesky: theirs,
            winner: Winner::OpenMeet,
            policy: Policy::SourceOfTruth,
            resolved: ours,
        })
        .collect()
}

impl Resolution {
    /// The decision this resolution of a field of `occurrence` records,
    /// `in_effect` being the field's value before it.
    pub fn decided_for(
        self,
        occurrence: crate::occurrence::OccurrenceId,
        in_effect: FieldValue,
    ) -> super::ConflictResolved {
        super::ConflictResolved {
            subject: super::ConflictSubject::Occurrence(occurrence),
            openmeet: self.openmeet,
            bluesky: self.bluesky,
            winner: self.winner,
            policy: self.policy,
            in_effect,
            resolved: self.resolved,
        }
    }
}

/// Which of two answers of one user, given on different platforms, stands:
/// the later one, ties broken by [`Answer::supersedes`].
pub fn latest_answer(current: Answer, new: Answer) -> Answer {
    if new.supersedes(&current) {
        new
    } else {
        current
    }
}

/// The winner named by the platform an answer came from.
pub fn winner_of(origin: Origin) -> Winner {
    match origin {
        Origin::OpenMeet => Winner::OpenMeet,
        Origin::Bluesky => Winner::Bluesky,
    }
}
