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
