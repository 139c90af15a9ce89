//! A detected series as the log records it: `SeriesProposed`, one version
//! per change of the proposal, in the stream `proposal-{id}`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Proposal;
use crate::envelope::{EventId, StreamId, derived_uuid};

/// A proposal: one group of an organizer's events, across its versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProposalId(pub Uuid);

impl ProposalId {
    /// The id of a proposal first made when `cause` was handled, for the
    /// group whose earliest member was `first_uri`.
    pub fn first_made(cause: EventId, first_uri: &str) -> Self {
        Self(derived_uuid(
            "series-proposal",
            &format!("{}/{first_uri}", cause.0),
        ))
    }

    /// Its stream.
    pub fn stream(self) -> StreamId {
        StreamId::new("proposal", self.0)
    }
}

/// The version of detection's rules. Raised whenever the same events may
/// be proposed differently (version 2: zones inferred, series split by
/// weekday and by a change of rule). A proposal records the version that
/// made it, so that `audit verify` replays only what this build would
/// decide alike, and says how many were decided by earlier rules.
pub const DETECTOR_VERSION: u16 = 2;

/// Thousandths, the precision detection rounds its scores to; payloads
/// hold no floats, so a replayed proposal equals the recorded one bit for
/// bit.
fn thousandths(score: f64) -> u16 {
    (score.clamp(0.0, 1.0) * 1000.0).round() as u16
}

/// Detection proposed that these imported events are one series, or
/// changed what it proposed. Schema version 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesProposed {
    /// The proposal.
    pub proposal_id: ProposalId,
    /// 1 for the first proposal, one more for each change.
    pub version: u32,
    /// The organizer's DID.
    pub organizer: String,
    /// The member events, by start.
    pub uris: Vec<String>,
    /// `DTSTART;TZID=…`, `RRULE:…` and, when needed, `EXDATE` and `RDATE`.
    pub rrule: String,
    /// How sure detection is, in thousandths.
    pub confidence: u16,
    /// The name the members share.
    pub series_name: String,
    /// How alike their names are, in thousandths.
    pub name_similarity: u16,
    /// The timing pattern, in words.
    pub pattern: String,
    /// How well the dates follow the rule, in thousandths.
    pub timing: u16,
    /// How alike the members' locations are, in thousandths, when at least
    /// two give one.
    pub location_similarity: Option<u16>,
    /// How alike their descriptions are, in thousandths, when at least two
    /// give one.
    pub description_similarity: Option<u16>,
    /// Rule dates no event takes.
    pub skipped: Vec<String>,
    /// Members off the rule.
    pub moved: Vec<String>,
    /// The IANA zone whose wall time the rule repeats in.
    pub zone: String,
    /// What the zone rests on (`record`, `offset`, `location`, `times`,
    /// `unknown`); `None` for proposals recorded before version 2.
    pub zone_source: Option<String>,
    /// Evidence the members carry that could not be used.
    pub ignored: Vec<String>,
    /// The version of detection's rules that made it
    /// ([`DETECTOR_VERSION`]; 1 for proposals recorded before version 2).
    pub detector: u16,
}

/// Schema version 1 of [`SeriesProposed`], which did not say its zone's
/// source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesProposedV1 {
    /// The proposal.
    pub proposal_id: ProposalId,
    /// Its version.
    pub version: u32,
    /// The organizer's DID.
    pub organizer: String,
    /// The member events.
    pub uris: Vec<String>,
    /// The rule.
    pub rrule: String,
    /// Confidence, in thousandths.
    pub confidence: u16,
    /// The shared name.
    pub series_name: String,
    /// Name similarity, in thousandths.
    pub name_similarity: u16,
    /// The pattern, in words.
    pub pattern: String,
    /// Timing, in thousandths.
    pub timing: u16,
    /// Location similarity, in thousandths.
    pub location_similarity: Option<u16>,
    /// Description similarity, in thousandths.
    pub description_similarity: Option<u16>,
    /// Skipped dates.
    pub skipped: Vec<String>,
    /// Moved members.
    pub moved: Vec<String>,
}

impl From<SeriesProposedV1> for SeriesProposed {
    fn from(v1: SeriesProposedV1) -> Self {
        // The rule always named its zone; only its source is unknown.
        let zone = v1
            .rrule
            .strip_prefix("DTSTART;TZID=")
            .and_then(|rest| rest.split_once(':'))
            .map_or("UTC", |(zone, _)| zone)
            .to_owned();
        SeriesProposed {
            proposal_id: v1.proposal_id,
            version: v1.version,
            organizer: v1.organizer,
            uris: v1.uris,
            rrule: v1.rrule,
            confidence: v1.confidence,
            series_name: v1.series_name,
            name_similarity: v1.name_similarity,
            pattern: v1.pattern,
            timing: v1.timing,
            location_similarity: v1.location_similarity,
            description_similarity: v1.description_similarity,
            skipped: v1.skipped,
            moved: v1.moved,
            zone,
            zone_source: None,
            ignored: vec![],
            detector: 1,
        }
    }
}

impl SeriesProposed {
    /// Version `version` of proposal `proposal_id`, saying `proposal`.
    pub fn of(proposal_id: ProposalId, version: u32, proposal: &Proposal) -> Self {
        let explanation = &proposal.explanation;
        Self {
            proposal_id,
            version,
            organizer: proposal.organizer.clone(),
            uris: proposal.uris.clone(),
            rrule: proposal.rrule.clone(),
            confidence: thousandths(proposal.confidence),
            series_name: explanation.series_name.clone(),
            name_similarity: thousandths(explanation.name_similarity),
            pattern: explanation.pattern.clone(),
            timing: thousandths(explanation.timing),
            location_similarity: explanation.location_similarity.map(thousandths),
            description_similarity: explanation.description_similarity.map(thousandths),
            skipped: explanation.skipped.clone(),
            moved: explanation.moved.clone(),
            zone: explanation.zone.clone(),
            zone_source: Some(explanation.zone_source.name().to_owned()),
            ignored: explanation.ignored.clone(),
            detector: DETECTOR_VERSION,
        }
    }

    /// True when both say the same, whatever their versions.
    pub fn says_the_same_as(&self, other: &SeriesProposed) -> bool {
        let unversioned = |p: &SeriesProposed| SeriesProposed {
            version: 0,
            ..p.clone()
        };
        unversioned(self) == unversioned(other)
    }
}
