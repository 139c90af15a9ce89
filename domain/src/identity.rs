//! Identities: OpenMeet users, and shadow accounts for Bluesky DIDs that
//! have not joined.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalogue::DomainEvent;
use crate::envelope::{StreamId, derived_uuid};

/// The local id of a user, full or shadow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

impl UserId {
    /// The id of the shadow account for `did`. Derived, so one DID can never
    /// yield two shadow accounts, whatever the delivery order.
    pub fn shadow_for(did: &str) -> Self {
        Self(derived_uuid("shadow-account", did))
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The stream ordering everything that happens to one DID.
pub fn identity_stream(did: &str) -> StreamId {
    StreamId::new("identity", did)
}

/// The first record from a DID that is not an OpenMeet user created a
/// provisional account for it. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowAccountCreated {
    /// The shadow account.
    pub user_id: UserId,
    /// The DID it stands for.
    pub did: String,
    /// The handle, when known.
    pub handle: Option<String>,
    /// The display name from the account's profile, when known.
    pub display_name: Option<String>,
}

/// A person registered a full OpenMeet account. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRegistered {
    /// The account.
    pub user_id: UserId,
    /// The Bluesky DID it is linked to.
    pub did: String,
    /// The handle, when known.
    pub handle: Option<String>,
}

/// A person proved they hold a DID by logging in with it, and the DID's
/// shadow account became their full account. The account keeps the
/// shadow's id, so every event, RSVP, external ref and series link of the
/// shadow stays attached without being rewritten. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowClaimed {
    /// The account: the shadow's id, now a full account's.
    pub user_id: UserId,
    /// The DID.
    pub did: String,
    /// The handle after the merge: the login's, else the shadow's.
    pub handle: Option<String>,
    /// The display name after the merge: the login's, else the shadow's.
    pub display_name: Option<String>,
}

/// The display name of a DID's account changed (from its profile record).
/// Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayNameChanged {
    /// The DID.
    pub did: String,
    /// The new display name; `None` when the profile no longer has one.
    pub display_name: Option<String>,
}

/// The network reported the DID's account deleted: its personal data is
/// removed from every read model (see `docs/identity.md`). Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataErased {
    /// The account whose data is erased.
    pub user_id: UserId,
    /// Its DID.
    pub did: String,
}

/// A full account's Bluesky session was stored for publishing (at login or
/// after a refresh); no token is in the event. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueskyCredentialsStored {
    /// The account.
    pub user_id: UserId,
    /// The DID the session acts as.
    pub did: String,
    /// `app-password` or `oauth`.
    pub kind: String,
    /// When the session can no longer be refreshed (the user must log in
    /// again by then).
    pub expires_at: Option<crate::time::Timestamp>,
}

/// A full account's Bluesky session can no longer be used (its refresh
/// was refused, or it is gone): publishing for it waits for a new login.
/// Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueskyLoginRequired {
    /// The account.
    pub user_id: UserId,
    /// The DID.
    pub did: String,
    /// Why, as the PDS or the store said it.
    pub reason: String,
}

/// A DID's handle changed. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandleChanged {
    /// The DID.
    pub did: String,
    /// The new handle.
    pub handle: String,
}

/// The network reported a change of a DID's account: deactivated, taken
/// down, deleted, or active again. Schema version 1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStatusChanged {
    /// The DID.
    pub did: String,
    /// Whether the account is active now.
    pub active: bool,
    /// The reason it is not, as the network names it (`deactivated`,
    /// `takendown`, `deleted`, ...).
    pub status: Option<String>,
    /// When the network says it happened.
    pub observed_at: crate::time::Timestamp,
}

/// One DID as OpenMeet knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Identity {
    /// Never seen.
    #[default]
    Unknown,
    /// Seen on Bluesky only: a provisional account that cannot log in.
    Shadow(Profile),
    /// A full OpenMeet account: registered, or a claimed shadow.
    Registered(Profile),
}

/// What OpenMeet holds about one DID's account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The account.
    pub user_id: UserId,
    /// The DID.
    pub did: String,
    /// The handle, when known.
    pub handle: Option<String>,
    /// The display name, when known.
    pub display_name: Option<String>,
    /// False while the network reports the account deactivated, taken
    /// down or deleted.
    pub active: bool,
}

/// What can be asked of an identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityCommand {
    /// A record from this DID arrived.
    ObserveActivity {
        /// The DID.
        did: String,
        /// Its handle, when known.
        handle: Option<String>,
        /// Its display name, when its profile was read.
        display_name: Option<String>,
    },
    /// A person registered with this DID.
    Register {
        /// The new account.
        user_id: UserId,
        /// The DID.
        did: String,
        /// The handle, when known.
        handle: Option<String>,
    },
    /// A person logged in with this DID, proven by its own PDS: registers
    /// them, or claims the DID's shadow account.
    LogIn {
        /// The id a new account gets (unused when the DID has an account or a
        /// shadow).
        new_user_id: UserId,
        /// The DID the PDS authenticated.
        did: String,
        /// The handle the PDS reported.
        handle: Option<String>,
        /// The display name from the account's profile, when read.
        display_name: Option<String>,
    },
    /// A Bluesky session of this account was stored.
    StoreCredentials {
        /// `app-password` or `oauth`.
        kind: String,
        /// When it can no longer be refreshed.
        expires_at: Option<crate::time::Timestamp>,
    },
    /// The account's Bluesky session can no longer be used.
    RequireLogin {
        /// Why.
        reason: String,
    },
    /// The DID's handle changed.
    ChangeHandle(String),
    /// The account's profile names this display name (or none).
    ChangeDisplayName(Option<String>),
    /// The network reported the account's status.
    ChangeAccountStatus {
        /// Whether it is active.
        active: bool,
        /// Why not, when not.
        status: Option<String>,
        /// When.
        observed_at: crate::time::Timestamp,
    },
}

impl IdentityCommand {
    /// Refuses a command whose texts (handles, display names, statuses,
    /// reasons) no read model can store.
    fn check_storable(&self) -> Result<(), crate::text::UnstorableText> {
        use crate::text::{check, check_optional};
        match self {
            IdentityCommand::ObserveActivity {
                did,
                handle,
                display_name,
            }
            | IdentityCommand::LogIn {
                did,
                handle,
                display_name,
                ..
            } => {
                check("did", did)?;
                check_optional("handle", handle.as_deref())?;
                check_optional("display_name", display_name.as_deref())
            }
            IdentityCommand::Register { did, handle, .. } => {
                check("did", did)?;
                check_optional("handle", handle.as_deref())
            }
            IdentityCommand::StoreCredentials { kind, .. } => check("kind", kind),
            IdentityCommand::RequireLogin { reason } => check("reason", reason),
            IdentityCommand::ChangeHandle(handle) => check("handle", handle),
            IdentityCommand::ChangeDisplayName(name) => {
                check_optional("display_name", name.as_deref())
            }
            IdentityCommand::ChangeAccountStatus { status, .. } => {
                check_optional("status", status.as_deref())
            }
        }
    }
}

/// Why an identity command was refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    /// A shadow account exists: it is claimed on login, not registered over.
    #[error("a shadow account ({user_id}) exists for {did}; it is claimed on login")]
    ShadowExists {
        /// The DID.
        did: String,
        /// The shadow account.
        user_id: UserId,
    },
    /// Another account holds the DID.
    #[error("{did} is already registered to account {user_id}")]
    AlreadyRegistered {
        /// The DID.
        did: String,
        /// The account holding it.
        user_id: UserId,
    },
    /// A login for another DID than this identity's.
    #[error("a login for {asked} cannot act on the identity of {did}")]
    WrongDid {
        /// This identity's DID.
        did: String,
        /// The DID the command names.
        asked: String,
    },
    /// A handle change for a DID never seen.
    #[error("the identity is unknown")]
    Unknown,
    /// Shadow accounts own no credentials.
    #[error("{0} is a shadow account; it owns no credentials")]
    ShadowHasNoCredentials(String),
    /// A command holding text no read model can store.
    #[error(transparent)]
    Unstorable(#[from] crate::text::UnstorableText),
}

/// The status the network gives a deleted account.
pub const DELETED: &str = "deleted";

impl Identity {
    /// What is known of the account, unless the DID was never seen.
    pub fn profile(&self) -> Option<&Profile> {
        match self {
            Identity::Unknown => None,
            Identity::Shadow(profile) | Identity::Registered(profile) => Some(profile),
        }
    }

    fn log_in(
        &self,
        new_user_id: UserId,
        did: &str,
        handle: &Option<String>,
        display_name: &Option<String>,
    ) -> Result<Vec<DomainEvent>, IdentityError> {
        if let Some(profile) = self.profile().filter(|profile| profile.did != did) {
            return Err(IdentityError::WrongDid {
                did: profile.did.clone(),
                asked: did.to_owned(),
            });
        }
        Ok(match self {
            Identity::Unknown => {
                let mut events = vec![
                    AccountRegistered {
                        user_id: new_user_id,
                        did: did.to_owned(),
                        handle: handle.clone(),
                    }
                    .into(),
                ];
                if display_name.is_some() {
                    events.push(
                        DisplayNameChanged {
                            did: did.to_owned(),
                            display_name: display_name.clone(),
                        }
                        .into(),
                    );
                }
                events
            }
            Identity::Shadow(shadow) => vec![
                ShadowClaimed {
                    user_id: shadow.user_id,
                    did: did.to_owned(),
                    handle: handle.clone().or_else(|| shadow.handle.clone()),
                    display_name: display_name.clone().or_else(|| shadow.display_name.clone()),
                }
                .into(),
            ],
            Identity::Registered(account) => {
                let mut events = Vec::new();
                if let Some(handle) = handle
                    .as_ref()
                    .filter(|h| account.handle.as_ref() != Some(*h))
                {
                    events.push(
                        HandleChanged {
                            did: did.to_owned(),
                            handle: handle.clone(),
                        }
                        .into(),
                    );
                }
                if display_name.is_some() && *display_name != account.display_name {
                    events.push(
                        DisplayNameChanged {
                            did: did.to_owned(),
                            display_name: display_name.clone(),
                        }
                        .into(),
                    );
                }
                events
            }
        })
    }
}

impl crate::decider::Decider for Identity {
    type Command = IdentityCommand;
    type Error = IdentityError;

    fn decide(
        &self,
        command: &IdentityCommand,
        _at: crate::time::Timestamp,
    ) -> Result<Vec<DomainEvent>, IdentityError> {
        command.check_storable()?;
        match (self, command) {
            (
                Identity::Unknown,
                IdentityCommand::ObserveActivity {
                    did,
                    handle,
                    display_name,
                },
            ) => Ok(vec![
                ShadowAccountCreated {
                    user_id: UserId::shadow_for(did),
                    did: did.clone(),
                    handle: handle.clone(),
                    display_name: display_name.clone(),
                }
                .into(),
            ]),
            (_, IdentityCommand::ObserveActivity { .. }) => Ok(vec![]),
            (
                _,
                IdentityCommand::LogIn {
                    new_user_id,
                    did,
                    handle,
                    display_name,
                },
            ) => self.log_in(*new_user_id, did, handle, display_name),
            (
                Identity::Unknown,
                IdentityCommand::Register {
                    user_id,
                    did,
                    handle,
                },
            ) => Ok(vec![
                AccountRegistered {
                    user_id: *user_id,
                    did: did.clone(),
                    handle: handle.clone(),
                }
                .into(),
            ]),
            (Identity::Shadow(shadow), IdentityCommand::Register { .. }) => {
                Err(IdentityError::ShadowExists {
                    did: shadow.did.clone(),
                    user_id: shadow.user_id,
                })
            }
            (Identity::Registered(account), IdentityCommand::Register { user_id, .. })
                if account.user_id == *user_id =>
            {
                Ok(vec![])
            }
            (Identity::Registered(account), IdentityCommand::Register { .. }) => {
                Err(IdentityError::AlreadyRegistered {
                    did: account.did.clone(),
                    user_id: account.user_id,
                })
            }
            (
                Identity::Unknown,
                IdentityCommand::ChangeHandle(_)
                | IdentityCommand::ChangeDisplayName(_)
                | IdentityCommand::ChangeAccountStatus { .. }
                | IdentityCommand::StoreCredentials { .. }
                | IdentityCommand::RequireLogin { .. },
            ) => Err(IdentityError::Unknown),
            (
                Identity::Shadow(shadow),
                IdentityCommand::StoreCredentials { .. } | IdentityCommand::RequireLogin { .. },
            ) => Err(IdentityError::ShadowHasNoCredentials(shadow.did.clone())),
            (
                Identity::Registered(account),
                IdentityCommand::StoreCredentials { kind, expires_at },
            ) => Ok(vec![
                BlueskyCredentialsStored {
                    user_id: account.user_id,
                    did: account.did.clone(),
                    kind: kind.clone(),
                    expires_at: *expires_at,
                }
                .into(),
            ]),
            (Identity::Registered(account), IdentityCommand::RequireLogin { reason }) => Ok(vec![
                BlueskyLoginRequired {
                    user_id: account.user_id,
                    did: account.did.clone(),
                    reason: reason.clone(),
                }
                .into(),
            ]),
            (
                Identity::Shadow(profile) | Identity::Registered(profile),
                IdentityCommand::ChangeDisplayName(name),
            ) => Ok(if profile.display_name == *name {
                vec![]
            } else {
                vec![
                    DisplayNameChanged {
                        did: profile.did.clone(),
                        display_name: name.clone(),
                    }
                    .into(),
                ]
            }),
            (
                Identity::Shadow(profile) | Identity::Registered(profile),
                IdentityCommand::ChangeAccountStatus {
                    active,
                    status,
                    observed_at,
                },
            ) => {
                let mut events = vec![
                    AccountStatusChanged {
                        did: profile.did.clone(),
                        active: *active,
                        status: status.clone(),
                        observed_at: *observed_at,
                    }
                    .into(),
                ];
                if !active && status.as_deref() == Some(DELETED) {
                    events.push(
                        PersonalDataErased {
                            user_id: profile.user_id,
                            did: profile.did.clone(),
                        }
                        .into(),
                    );
                }
                Ok(events)
            }
            (
                Identity::Shadow(profile) | Identity::Registered(profile),
                IdentityCommand::ChangeHandle(new),
            ) => Ok(if profile.handle.as_ref() == Some(new) {
                vec![]
            } else {
                vec![
                    HandleChanged {
                        did: profile.did.clone(),
                        handle: new.clone(),
                    }
                    .into(),
                ]
            }),
        }
    }

    fn evolve(self, event: &DomainEvent) -> Identity {
        match (self, event) {
            (Identity::Unknown, DomainEvent::ShadowAccountCreated(created)) => {
                Identity::Shadow(Profile {
                    user_id: created.user_id,
                    did: created.did.clone(),
                    handle: created.handle.clone(),
                    display_name: created.display_name.clone(),
                    active: true,
                })
            }
            (Identity::Unknown, DomainEvent::AccountRegistered(registered)) => {
                Identity::Registered(Profile {
                    user_id: registered.user_id,
                    did: registered.did.clone(),
                    handle: registered.handle.clone(),
                    display_name: None,
                    active: true,
                })
            }
            (Identity::Shadow(shadow), DomainEvent::ShadowClaimed(claimed)) => {
                Identity::Registered(Profile {
                    user_id: claimed.user_id,
                    did: claimed.did.clone(),
                    handle: claimed.handle.clone(),
                    display_name: claimed.display_name.clone(),
                    active: shadow.active,
                })
            }
            (identity, event) => identity.with_profile_change(event),
        }
    }
}

impl Identity {
    fn with_profile_change(self, event: &DomainEvent) -> Identity {
        let change = |profile: Profile| match event {
            DomainEvent::HandleChanged(changed) => Profile {
                handle: Some(changed.handle.clone()),
                ..profile
            },
            DomainEvent::DisplayNameChanged(changed) => Profile {
                display_name: changed.display_name.clone(),
                ..profile
            },
            DomainEvent::AccountStatusChanged(changed) => Profile {
                active: changed.active,
                ..profile
            },
            DomainEvent::PersonalDataErased(_) => Profile {
                handle: None,
                display_name: None,
                ..profile
            },
            _ => profile,
        };
        match self {
            Identity::Unknown => Identity::Unknown,
            Identity::Shadow(profile) => Identity::Shadow(change(profile)),
            Identity::Registered(profile) => Identity::Registered(change(profile)),
        }
    }
}
