//! Identities: OpenMeet users, and shadow accounts for Bluesky DIDs that
//! have not joined.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    Shadow {
        /// The shadow account.
        user_id: UserId,
        /// The DID.
        did: String,
        /// The handle, when known.
        handle: Option<String>,
    },
    /// A full OpenMeet account.
    Registered {
        /// The account.
        user_id: UserId,
        /// The DID.
        did: String,
        /// The handle, when known.
        handle: Option<String>,
    },
}

/// What can be asked of an identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityCommand {
    /// A record from this DID arrived.
    ObserveActivity {
        /// The DID.
        did: String,
        /// Its handle, when the source names it.
        handle: Option<String>,
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
    /// The DID's handle changed.
    ChangeHandle(String),
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
    /// A handle change for a DID never seen.
    #[error("the identity is unknown")]
    Unknown,
}

impl crate::decider::Decider for Identity {
    type Command = IdentityCommand;
    type Error = IdentityError;

    fn decide(
        &self,
        command: &IdentityCommand,
        _at: crate::time::Timestamp,
    ) -> Result<Vec<crate::catalogue::DomainEvent>, IdentityError> {
        match (self, command) {
            (Identity::Unknown, IdentityCommand::ObserveActivity { did, handle }) => Ok(vec![
                ShadowAccountCreated {
                    user_id: UserId::shadow_for(did),
                    did: did.clone(),
                    handle: handle.clone(),
                    display_name: None,
                }
                .into(),
            ]),
            (_, IdentityCommand::ObserveActivity { .. }) => Ok(vec![]),
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
            (Identity::Shadow { user_id, did, .. }, IdentityCommand::Register { .. }) => {
                Err(IdentityError::ShadowExists {
                    did: did.clone(),
                    user_id: *user_id,
                })
            }
            (
                Identity::Registered { user_id, .. },
                IdentityCommand::Register { user_id: asked, .. },
            ) if user_id == asked => Ok(vec![]),
            (Identity::Registered { user_id, did, .. }, IdentityCommand::Register { .. }) => {
                Err(IdentityError::AlreadyRegistered {
                    did: did.clone(),
                    user_id: *user_id,
                })
            }
            (
                Identity::Unknown,
                IdentityCommand::ChangeHandle(_) | IdentityCommand::ChangeAccountStatus { .. },
            ) => Err(IdentityError::Unknown),
            (
                Identity::Shadow { did, .. } | Identity::Registered { did, .. },
                IdentityCommand::ChangeAccountStatus {
                    active,
                    status,
                    observed_at,
                },
            ) => Ok(vec![
                AccountStatusChanged {
                    did: did.clone(),
                    active: *active,
                    status: status.clone(),
                    observed_at: *observed_at,
                }
                .into(),
            ]),
            (
                Identity::Shadow { did, handle, .. } | Identity::Registered { did, handle, .. },
                IdentityCommand::ChangeHandle(new),
            ) => Ok(if handle.as_ref() == Some(new) {
                vec![]
            } else {
                vec![
                    HandleChanged {
                        did: did.clone(),
                        handle: new.clone(),
                    }
                    .into(),
                ]
            }),
        }
    }

    fn evolve(self, event: &crate::catalogue::DomainEvent) -> Identity {
        use crate::catalogue::DomainEvent;
        match (self, event) {
            (Identity::Unknown, DomainEvent::ShadowAccountCreated(created)) => Identity::Shadow {
                user_id: created.user_id,
                did: created.did.clone(),
                handle: created.handle.clone(),
            },
            (Identity::Unknown, DomainEvent::AccountRegistered(registered)) => {
                Identity::Registered {
                    user_id: registered.user_id,
                    did: registered.did.clone(),
                    handle: registered.handle.clone(),
                }
            }
            (Identity::Shadow { user_id, did, .. }, DomainEvent::HandleChanged(changed)) => {
                Identity::Shadow {
                    user_id,
                    did,
                    handle: Some(changed.handle.clone()),
                }
            }
            (Identity::Registered { user_id, did, .. }, DomainEvent::HandleChanged(changed)) => {
                Identity::Registered {
                    user_id,
                    did,
                    handle: Some(changed.handle.clone()),
                }
            }
            (state, _) => state,
        }
    }
}
