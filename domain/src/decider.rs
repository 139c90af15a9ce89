//! The shape every aggregate shares: decide events from a command, evolve
//! state from events. Both pure; time comes in as an argument.

use crate::catalogue::DomainEvent;
use crate::time::Timestamp;

/// An aggregate's rules.
pub trait Decider: Sized + Default {
    /// What can be asked of it.
    type Command;
    /// Why a command is refused.
    type Error;

    /// The events that carrying out `command` at `at` records; none when the
    /// command changes nothing (a repeat is not an error).
    fn decide(
        &self,
        command: &Self::Command,
        at: Timestamp,
    ) -> Result<Vec<DomainEvent>, Self::Error>;

    /// The state after `event`. Events of other aggregates leave it unchanged.
    fn evolve(self, event: &DomainEvent) -> Self;

    /// The state after all of `events`, from the initial state.
    fn replay<'a>(events: impl IntoIterator<Item = &'a DomainEvent>) -> Self {
        events.into_iter().fold(Self::default(), Self::evolve)
    }
}
