//! `openmeet.lexicon.group`.

use serde::{Deserialize, Serialize};

use super::{Extra, Record, StrongRef};

/// The group lexicon's NSID.
pub const GROUP_NSID: &str = "openmeet.lexicon.group";

/// A group of people who meet, owned by its creator's repository.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The group's name.
    pub name: String,
    /// What it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was created.
    #[serde(rename = "createdAt")]
    pub created_at: String,
    /// Who may join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<Membership>,
    /// Role assignments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<RoleAssignment>>,
    /// Events the group hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<StrongRef>>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Record for GroupRecord {
    const NSID: &'static str = GROUP_NSID;
}

/// Who may join a group, and who sees its content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// `#open`, `#approval`, `#invite` (open set).
    pub policy: String,
    /// What members are expected to meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria: Option<String>,
    /// `#public` or `#members` (open set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One person's role in a group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// The person.
    pub did: String,
    /// `#admin`, `#moderator`, `#member` (open set).
    pub role: String,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Carried by an event record: the group hosting it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostedBy {
    /// The group record.
    pub group: StrongRef,
    /// Fields this type does not know.
    #[serde(flatten)]
    pub extra: Extra,
}
