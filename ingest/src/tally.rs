//! Counts of what became of messages, for closing summaries.

use std::collections::BTreeMap;
use std::fmt;

use crate::apply::Outcome;

/// What became of a run's messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages seen.
    pub messages: usize,
    /// Events appended, by type.
    pub appended: BTreeMap<&'static str, usize>,
    /// Messages already applied before.
    pub already_applied: usize,
    /// RSVPs parked until their event arrives.
    pub parked: usize,
    /// Messages rejected.
    pub rejected: usize,
    /// Messages ignored, by reason.
    pub ignored: BTreeMap<String, usize>,
}

impl Tally {
    /// Adds one message's outcome.
    pub fn count(&mut self, outcome: &Outcome) {
        self.messages += 1;
        match outcome {
            Outcome::Applied(types) => {
                for event_type in types {
                    *self.appended.entry(event_type).or_default() += 1;
                }
            }
            Outcome::AlreadyApplied => self.already_applied += 1,
            Outcome::Parked => self.parked += 1,
            Outcome::Ignored(reason) => *self.ignored.entry(reason.clone()).or_default() += 1,
            Outcome::Rejected { .. } => self.rejected += 1,
        }
    }

    /// Messages that appended events: every message has one outcome.
    pub fn applied(&self) -> usize {
        self.messages
            - self.already_applied
            - self.parked
            - self.rejected
            - self.ignored.values().sum::<usize>()
    }

    /// Adds the counts of `other`, another part of the run.
    pub fn add(&mut self, other: &Tally) {
        self.messages += other.messages;
        for (event_type, count) in &other.appended {
            *self.appended.entry(event_type).or_default() += count;
        }
        self.already_applied += other.already_applied;
        self.parked += other.parked;
        self.rejected += other.rejected;
        for (reason, count) in &other.ignored {
            *self.ignored.entry(reason.clone()).or_default() += count;
        }
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  {} messages", self.messages)?;
        for (event_type, count) in &self.appended {
            writeln!(f, "  appended {count:>4} {event_type}")?;
        }
        writeln!(
            f,
            "  already applied {} (seen before: nothing new written)",
            self.already_applied
        )?;
        writeln!(
            f,
            "  parked {} (RSVPs waiting for their event)",
            self.parked
        )?;
        writeln!(
            f,
            "  rejected {} (kept in stream rejected-firehose)",
            self.rejected
        )?;
        for (reason, count) in &self.ignored {
            writeln!(f, "  ignored {count:>4}: {reason}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up_and_applied_messages_are_the_rest() {
        let (mut first, mut second) = (Tally::default(), Tally::default());
        first.count(&Outcome::Applied(vec![
            "EventImported",
            "ShadowAccountCreated",
        ]));
        first.count(&Outcome::AlreadyApplied);
        second.count(&Outcome::Applied(vec!["EventImported"]));
        second.count(&Outcome::Parked);
        second.count(&Outcome::Ignored("another collection".into()));
        second.count(&Outcome::Rejected {
            subject: "at://x".into(),
            reason: "bad".into(),
        });
        first.add(&second);
        assert_eq!(first.messages, 6);
        assert_eq!(first.applied(), 2);
        assert_eq!(first.appended["EventImported"], 2);
        assert_eq!(
            (first.already_applied, first.parked, first.rejected),
            (1, 1, 1)
        );
        assert_eq!(first.ignored["another collection"], 1);
    }
}
