//! Sharing an OpenMeet event (a series or a standalone occurrence) on
//! Bluesky: who owns it, who may see it and whether it is shared, as the
//! events of its stream leave them, and the rule that only a public one
//! may be shared (everything on the network is public).

use thiserror::Error;

use crate::catalogue::DomainEvent;
use crate::decider::Decider;
use crate::identity::UserId;
use crate::publishing::{BlueskySettingsChanged, Owned, Visibility, VisibilityChanged};
use crate::time::Timestamp;

/// What the stream of an OpenMeet event says about its sharing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shareable {
    /// Its owner, once assigned.
    pub owner: Option<UserId>,
    /// Who may see it (public until OpenMeet says otherwise).
    pub visibility: Visibility,
    /// The sharing settings last recorded.
    pub settings: Option<BlueskySettingsChanged>,
}

/// What can be asked of an OpenMeet event's sharing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SharingCommand {
    /// Turn sharing on or off, with these settings.
    Change(BlueskySettingsChanged),
    /// Record the settings in effect again, so they are written again now.
    Resync,
    /// OpenMeet changed who may see it.
    SetVisibility {
        /// The series or standalone occurrence.
        target: Owned,
        /// Who may see it now.
        visibility: Visibility,
    },
}

/// Why a sharing command was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SharingError {
    /// Sharing turned on for an event not everyone may see.
    #[error(
        "visibility: the event is {}; only a public one may be shared on Bluesky, where everything is public",
        seen_by(*.0)
    )]
    NotPublic(Visibility),
    /// A resync of an event whose sharing was never set.
    #[error("it is not shared on Bluesky")]
    NotShared,
}

/// Who may see an event, in words.
fn seen_by(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Public => "public",
        Visibility::Authenticated => "for signed-in members only",
        Visibility::Private => "private, for those invited",
    }
}

impl Decider for Shareable {
    type Command = SharingCommand;
    type Error = SharingError;

    fn decide(
        &self,
        command: &SharingCommand,
        _at: Timestamp,
    ) -> Result<Vec<DomainEvent>, SharingError> {
        match command {
            SharingCommand::Change(settings)
                if settings.enabled && self.visibility != Visibility::Public =>
            {
                Err(SharingError::NotPublic(self.visibility))
            }
            SharingCommand::Change(settings) => Ok(vec![settings.clone().into()]),
            SharingCommand::Resync => self
                .settings
                .clone()
                .map(|settings| vec![settings.into()])
                .ok_or(SharingError::NotShared),
            SharingCommand::SetVisibility { visibility, .. } if *visibility == self.visibility => {
                Ok(vec![])
            }
            SharingCommand::SetVisibility { target, visibility } => Ok(vec![
                VisibilityChanged {
                    target: *target,
                    visibility: *visibility,
                }
                .into(),
            ]),
        }
    }

    fn evolve(mut self, event: &DomainEvent) -> Shareable {
        match event {
            DomainEvent::OwnerAssigned(assigned) => self.owner = Some(assigned.owner),
            DomainEvent::VisibilityChanged(changed) => self.visibility = changed.visibility,
            DomainEvent::BlueskySettingsChanged(settings) => self.settings = Some(settings.clone()),
            _ => {}
        }
        self
    }
}
