//! Series detection inside the process manager: an organizer's imported
//! standalone events are looked at again whenever one of them arrives,
//! changes or goes, and a proposal that is new, or says something new, is
//! recorded as the next version of its `SeriesProposed`.
//!
//! The organizer's answers shape what comes next: the members of an
//! accepted proposal are a series and no longer candidates, and a rejected
//! group is not proposed again unless events outside it join.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::manager::Decisions;
use crate::catalogue::DomainEvent;
use crate::series_detection::{
    Candidate, DetectionConfig, Proposal, ProposalId, SeriesProposed, detect_for, organizer_of,
};

/// What detection knows: each organizer's candidates and the latest
/// version of each of its proposals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Detection {
    config: DetectionConfig,
    candidates: BTreeMap<String, BTreeMap<String, Candidate>>,
    proposals: BTreeMap<String, Vec<SeriesProposed>>,
    in_series: BTreeSet<String>,
    rejected: BTreeMap<String, Vec<BTreeSet<String>>>,
}

fn shared_members(recorded: &SeriesProposed, found: &Proposal) -> usize {
    let members: BTreeSet<&String> = recorded.uris.iter().collect();
    found
        .uris
        .iter()
        .filter(|uri| members.contains(uri))
        .count()
}

impl Detection {
    /// Follows an organizer's answer to a proposal.
    pub(super) fn answered(&mut self, event: &DomainEvent) {
        match event {
            DomainEvent::SeriesProposalAccepted(accepted) => {
                if let Some(candidates) = self.candidates.get_mut(&accepted.organizer) {
                    for uri in &accepted.uris {
                        candidates.remove(uri);
                    }
                }
                self.in_series.extend(accepted.uris.iter().cloned());
                if let Some(recorded) = self.proposals.get_mut(&accepted.organizer) {
                    recorded.retain(|proposal| proposal.proposal_id != accepted.proposal_id);
                }
            }
            DomainEvent::SeriesProposalRejected(rejected) => {
                self.rejected
                    .entry(rejected.organizer.clone())
                    .or_default()
                    .push(rejected.uris.iter().cloned().collect());
            }
            _ => {}
        }
    }

    fn was_rejected(&self, organizer: &str, found: &Proposal) -> bool {
        self.rejected.get(organizer).is_some_and(|groups| {
            groups
                .iter()
                .any(|group| found.uris.iter().all(|uri| group.contains(uri)))
        })
    }

    /// Follows an event of an imported occurrence; an organizer whose
    /// candidates changed is looked at again.
    pub(super) fn imported_event(&mut self, event: &DomainEvent, out: &mut Decisions) {
        // A version that cannot be a candidate (no start) takes the record
        // out, as its deletion does.
        let (uri, candidate) = match event {
            DomainEvent::EventImported(e) => {
                (&e.uri, Candidate::from_record(&e.uri, &e.record).ok())
            }
            DomainEvent::EventChangedExternally(e) => {
                (&e.uri, Candidate::from_record(&e.uri, &e.record).ok())
            }
            DomainEvent::EventDeletedExternally(e) => (&e.uri, None),
            _ => return,
        };
        if self.in_series.contains(uri) {
            return;
        }
        let organizer = organizer_of(uri).to_owned();
        let candidates = self.candidates.entry(organizer.clone()).or_default();
        let changed = match candidate {
            Some(candidate) => candidates.insert(uri.clone(), candidate.clone()) != Some(candidate),
            None => candidates.remove(uri).is_some(),
        };
        if changed {
            self.detect(&organizer, out);
        }
    }

    fn detect(&mut self, organizer: &str, out: &mut Decisions) {
        let Some(candidates) = self.candidates.get(organizer) else {
            return;
        };
        let found: Vec<Proposal> =
            detect_for(organizer, candidates.values().collect(), &self.config)
                .into_iter()
                .filter(|found| !self.was_rejected(organizer, found))
                .collect();
        let recorded = self.proposals.entry(organizer.to_owned()).or_default();
        let mut continued: BTreeSet<ProposalId> = BTreeSet::new();
        for proposal in found {
            // The proposal it continues: the one sharing most members, of
            // those not continued already by another group this time.
            let best = recorded
                .iter_mut()
                .filter(|old| !continued.contains(&old.proposal_id))
                .map(|old| (shared_members(old, &proposal), old))
                .filter(|(shared, _)| *shared > 0)
                .max_by(|(a, old_a), (b, old_b)| {
                    a.cmp(b)
                        .then_with(|| old_b.proposal_id.cmp(&old_a.proposal_id))
                })
                .map(|(_, old)| old);
            let next = match best {
                Some(old) => {
                    continued.insert(old.proposal_id);
                    let next = SeriesProposed::of(old.proposal_id, old.version + 1, &proposal);
                    if next.says_the_same_as(old) {
                        continue;
                    }
                    *old = next.clone();
                    next
                }
                None => {
                    let first = proposal
                        .uris
                        .first()
                        .map(String::as_str)
                        .unwrap_or(organizer);
                    let id = ProposalId::first_made(out.cause_id(), first);
                    continued.insert(id);
                    let made = SeriesProposed::of(id, 1, &proposal);
                    recorded.push(made.clone());
                    made
                }
            };
            let label = format!("proposal/{}/v{}", next.proposal_id.0, next.version);
            out.record(next.proposal_id.stream(), &label, next.into());
        }
    }
}
