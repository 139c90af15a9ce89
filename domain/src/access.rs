//! Who may do what. Authorization is a pure function of what the caller is
//! (as the API's session proves it) and what the action touches, so the
//! whole policy reads, and is tested, as one table.

use thiserror::Error;

use crate::identity::UserId;

/// What kind of account a caller holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// A full OpenMeet account (registered, or a claimed shadow).
    Full,
    /// A provisional account of a DID that has not joined: it owns what was
    /// imported for it and can do nothing.
    Shadow,
}

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The account.
    pub user_id: UserId,
    /// The DID its session was proven with.
    pub did: String,
    /// Full or shadow.
    pub kind: AccountKind,
    /// Whether the account is active on the network.
    pub active: bool,
    /// An OpenMeet administrator.
    pub admin: bool,
}

/// An event (occurrence or series) an action touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventTarget {
    /// Its owner, when it has one.
    pub owner: Option<UserId>,
    /// Imported from Bluesky: Bluesky is its source of truth, and it is never
    /// pushed back.
    pub imported: bool,
    /// False when its owner's account is deactivated, taken down or deleted:
    /// reads hide it.
    pub visible: bool,
}

/// What a caller asks to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Edit an event's content in OpenMeet.
    Edit(EventTarget),
    /// Publish (or sync) an event to Bluesky, into its owner's repository.
    Publish(EventTarget),
    /// Change an event's Bluesky sharing settings.
    ChangeBlueskySettings(EventTarget),
    /// Answer an event on behalf of `attendee`.
    Rsvp {
        /// The event.
        event: EventTarget,
        /// Whose answer it is.
        attendee: UserId,
    },
    /// Write an event's OpenMeet answers to Bluesky again: everyone's
    /// (`attendee` absent), or one attendee's.
    SyncAttendance {
        /// The event.
        event: EventTarget,
        /// Whose answer, when only one.
        attendee: Option<UserId>,
    },
    /// Claim the shadow account of `did`.
    Claim {
        /// The shadow's DID.
        did: &'a str,
    },
    /// Accept, adjust or reject a series proposal for `organizer`'s events.
    ReviewProposal {
        /// The DID whose events the proposal groups.
        organizer: &'a str,
    },
    /// See every organizer's proposals.
    ListAllProposals,
    /// Hand firehose messages to the processor over HTTP.
    ProcessFirehose,
    /// Read what intake rejected (the records may hold anyone's data).
    ReadRejections,
    /// Page through every account, deactivated and deleted ones included.
    ListAccounts,
    /// Put an OpenMeet series or event in, owned by `owner`: the owner
    /// itself, or the platform acting for it (an administrator's session).
    CreateOwned {
        /// The owner's DID.
        owner: &'a str,
    },
    /// Read what only an account and the operators know of it (its local id,
    /// when its Bluesky session expires), beside what the network publishes.
    ReadAccountPrivate {
        /// The account's DID.
        did: &'a str,
    },
}

/// Why an action is refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Denied {
    /// Shadow accounts cannot act.
    #[error("a shadow account cannot act; log in with Bluesky to claim it")]
    ShadowAccount,
    /// The caller's account is not active.
    #[error("the account is not active")]
    Inactive,
    /// Only the event's owner may do this.
    #[error("only the event's owner may do this")]
    NotOwner,
    /// The event came from Bluesky, which stays its source of truth.
    #[error("the event was imported from Bluesky and is never pushed back")]
    ReadOnly,
    /// Users act only for themselves.
    #[error("a user can only answer for themselves")]
    OnBehalfOfAnother,
    /// A shadow account is claimed only by a login with its own DID.
    #[error("only a login with {0} can claim its shadow account")]
    NotYourDid(String),
    /// The event is hidden with its owner's account.
    #[error("the event is not visible")]
    Hidden,
    /// Only the owner itself, or the platform for it, puts its events in.
    #[error("only the owner itself, or the platform acting for it, may put its events in")]
    ForAnother,
    /// Only the account itself and administrators may see this.
    #[error("only the account itself and administrators may see this")]
    NotYourAccount,
    /// Only administrators may do this.
    #[error("only administrators may do this")]
    AdminOnly,
}

/// Whether `caller` may carry out `action`.
pub fn authorize(caller: &Caller, action: Action<'_>) -> Result<(), Denied> {
    if caller.kind == AccountKind::Shadow {
        return Err(Denied::ShadowAccount);
    }
    if !caller.active {
        return Err(Denied::Inactive);
    }
    let owns = |event: &EventTarget| event.owner == Some(caller.user_id);
    match action {
        Action::Edit(event) => {
            if !event.visible && !caller.admin {
                Err(Denied::Hidden)
            } else if owns(&event) || caller.admin {
                Ok(())
            } else {
                Err(Denied::NotOwner)
            }
        }
        // Publishing writes into the owner's own repository: not even an
        // administrator may do it for them.
        Action::Publish(event) | Action::ChangeBlueskySettings(event) => {
            if event.imported {
                Err(Denied::ReadOnly)
            } else if owns(&event) {
                Ok(())
            } else {
                Err(Denied::NotOwner)
            }
        }
        Action::Rsvp { event, attendee } => {
            if attendee != caller.user_id {
                Err(Denied::OnBehalfOfAnother)
            } else if !event.visible {
                Err(Denied::Hidden)
            } else {
                Ok(())
            }
        }
        Action::SyncAttendance { event, attendee } => {
            if !event.visible {
                Err(Denied::Hidden)
            } else if attendee == Some(caller.user_id) || owns(&event) || caller.admin {
                Ok(())
            } else if attendee.is_some() {
                Err(Denied::OnBehalfOfAnother)
            } else {
                Err(Denied::NotOwner)
            }
        }
        Action::Claim { did } => {
            if did == caller.did {
                Ok(())
            } else {
                Err(Denied::NotYourDid(did.to_owned()))
            }
        }
        Action::ReadAccountPrivate { did } => {
            if did == caller.did || caller.admin {
                Ok(())
            } else {
                Err(Denied::NotYourAccount)
            }
        }
        Action::CreateOwned { owner } => {
            if owner == caller.did || caller.admin {
                Ok(())
            } else {
                Err(Denied::ForAnother)
            }
        }
        Action::ReviewProposal { organizer } => {
            if organizer == caller.did || caller.admin {
                Ok(())
            } else {
                Err(Denied::NotOwner)
            }
        }
        Action::ListAllProposals
        | Action::ProcessFirehose
        | Action::ReadRejections
        | Action::ListAccounts => {
            if caller.admin {
                Ok(())
            } else {
                Err(Denied::AdminOnly)
            }
        }
    }
}
