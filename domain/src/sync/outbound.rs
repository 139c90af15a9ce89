//! OpenMeet answers going out to Bluesky: when a user with a full account
//! answers an event that has a Bluesky record, the process manager asks for
//! an RSVP record in that user's repository, under a record key chosen once
//! per user and event (a change is a write to the same key, never a second
//! record). The publisher carries the request out and records the outcome.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::manager::Decisions;
use crate::attendance::{Answer, AttendanceStatus, RsvpChanged, attendance_stream};
use crate::catalogue::DomainEvent;
use crate::envelope::Origin;
use crate::identity::UserId;
use crate::occurrence::OccurrenceId;
use crate::record_key::record_key;

/// Write this answer as an RSVP record in the attendee's repository.
/// Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsvpPublishRequested {
    /// The occurrence answered.
    pub occurrence_id: OccurrenceId,
    /// The attendee.
    pub attendee_id: UserId,
    /// Their DID: the repository written to.
    pub did: String,
    /// The record key, chosen once for this attendee and occurrence.
    pub rkey: String,
    /// The event record's AT-URI (the strong ref's `uri`).
    pub subject_uri: String,
    /// Its CID when answered (the strong ref's `cid`).
    pub subject_cid: String,
    /// The answer.
    pub status: AttendanceStatus,
    /// The CID of our last write of this record, to swap.
    pub swap: Option<String>,
}

/// The RSVP record was written. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsvpPublished {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// The attendee.
    pub attendee_id: UserId,
    /// The record's AT-URI.
    pub uri: String,
    /// The CID the PDS answered with.
    pub cid: String,
}

/// The RSVP record could not be written, for good (the user must log in
/// again, the PDS refused the record, ...). Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RsvpPublishFailed {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// The attendee.
    pub attendee_id: UserId,
    /// Why.
    pub reason: String,
}

/// Someone asked for an event's OpenMeet answers to be written to Bluesky
/// again (all of them, or one attendee's). Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceSyncRequested {
    /// The occurrence.
    pub occurrence_id: OccurrenceId,
    /// Only this attendee's answer, when given.
    pub attendee_id: Option<UserId>,
}

/// What outbound RSVPs need to know.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Outbound {
    /// Full accounts and their DIDs.
    accounts: BTreeMap<UserId, String>,
    /// The Bluesky record of each imported occurrence: URI and current CID.
    records: BTreeMap<OccurrenceId, (String, String)>,
    /// Per attendee and occurrence: the record key, and our last write's CID.
    written: BTreeMap<(OccurrenceId, UserId), (String, Option<String>)>,
}

impl Outbound {
    /// Follows what outbound RSVPs depend on.
    pub(super) fn follow(&mut self, event: &DomainEvent) {
        match event {
            DomainEvent::AccountRegistered(e) => {
                self.accounts.insert(e.user_id, e.did.clone());
            }
            DomainEvent::ShadowClaimed(e) => {
                self.accounts.insert(e.user_id, e.did.clone());
            }
            DomainEvent::PersonalDataErased(e) => {
                self.accounts.remove(&e.user_id);
            }
            DomainEvent::EventImported(e) => {
                self.records
                    .insert(e.occurrence_id, (e.uri.clone(), e.cid.clone()));
            }
            DomainEvent::EventChangedExternally(e) => {
                self.records
                    .insert(e.occurrence_id, (e.uri.clone(), e.cid.clone()));
            }
            DomainEvent::EventDeletedExternally(e) => {
                self.records.remove(&e.occurrence_id);
            }
            // OpenMeet's own events have a Bluesky record once published.
            DomainEvent::OccurrencePublished(e) => {
                self.records
                    .insert(e.occurrence_id, (e.uri.clone(), e.cid.clone()));
            }
            DomainEvent::SelfPublishedEchoMatched(e) => {
                self.records
                    .insert(e.occurrence_id, (e.uri.clone(), e.cid.clone()));
            }
            DomainEvent::OccurrenceUnpublished(e) => {
                self.records.remove(&e.occurrence_id);
            }
            // Its own requests are in the state since they were decided (a
            // second answer in the same batch must find the key chosen).
            DomainEvent::RsvpPublishRequested(e) => {
                self.written
                    .entry((e.occurrence_id, e.attendee_id))
                    .or_insert_with(|| (e.rkey.clone(), None));
            }
            DomainEvent::RsvpPublished(e) => {
                if let Some((_, cid)) = self.written.get_mut(&(e.occurrence_id, e.attendee_id)) {
                    *cid = Some(e.cid.clone());
                }
            }
            _ => {}
        }
    }

    /// An answer given in OpenMeet, now in effect, goes out when its
    /// attendee has a full account and its event a Bluesky record.
    pub(super) fn answered(&mut self, changed: &RsvpChanged, out: &mut Decisions) {
        if changed.origin != Origin::OpenMeet {
            return;
        }
        let answer = Answer {
            status: changed.status,
            origin: changed.origin,
            changed_at: changed.changed_at,
        };
        self.request(
            changed.occurrence_id,
            changed.attendee_id,
            &answer,
            false,
            out,
        );
    }

    /// Asks again for every OpenMeet answer in `answers` (in effect, of
    /// `occurrence`), without swapping: the record is made to say the
    /// answer, whatever happened to it on Bluesky.
    pub(super) fn resync(
        &mut self,
        occurrence: OccurrenceId,
        mut answers: Vec<(UserId, Answer)>,
        out: &mut Decisions,
    ) {
        answers.sort_by_key(|(user, _)| *user);
        for (user, answer) in answers {
            if answer.origin == Origin::OpenMeet {
                self.request(occurrence, user, &answer, true, out);
            }
        }
    }

    fn request(
        &mut self,
        occurrence_id: OccurrenceId,
        attendee_id: UserId,
        answer: &Answer,
        resync: bool,
        out: &mut Decisions,
    ) {
        let (Some(did), Some((uri, cid))) = (
            self.accounts.get(&attendee_id),
            self.records.get(&occurrence_id),
        ) else {
            return;
        };
        let key = (occurrence_id, attendee_id);
        let (rkey, swap) = match self.written.get(&key) {
            Some((rkey, swap)) => (rkey.clone(), swap.clone().filter(|_| !resync)),
            None => (
                record_key(
                    answer.changed_at,
                    &format!("rsvp/{occurrence_id}/{attendee_id}"),
                ),
                None,
            ),
        };
        self.written.insert(key, (rkey.clone(), swap.clone()));
        let request = RsvpPublishRequested {
            occurrence_id,
            attendee_id,
            did: did.clone(),
            rkey,
            subject_uri: uri.clone(),
            subject_cid: cid.clone(),
            status: answer.status,
            swap,
        };
        let label = if resync {
            "rsvp-resync"
        } else {
            "rsvp-publish"
        };
        out.record(
            attendance_stream(occurrence_id),
            &format!("{label}/{}", attendee_id.0),
            request.into(),
        );
    }
}
