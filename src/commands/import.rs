//! `openmeet-sync import-jetstream FILE`: applies recorded Jetstream
//! messages straight to the event store, through the same code path as the
//! ingest processor but without the bus. Running it twice appends nothing
//! new: event ids are derived from the records.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ingest::apply::{Applier, Outcome};
use tracing::Instrument;

/// Arguments of `import-jetstream`.
#[derive(Args)]
pub struct ImportArgs {
    /// A file of Jetstream messages, one JSON object per line.
    file: PathBuf,
}

/// Imports every line of the file and prints what happened.
pub async fn run(database_url: &str, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let applier = Applier::new(super::connect(database_url).await?);
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| (n + 1, line))
        .collect();

    let progress = ProgressBar::new(lines.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages, {per_sec}, eta {eta}")
            .context("progress template")?,
    );
    let mut tally = Tally::default();
    for (line_no, line) in lines {
        let source = format!("{}:{line_no}", args.file.display());
        let outcome = applier
            .apply(line, &source)
            .instrument(tracing::info_span!("message", %source))
            .await?;
        tally.count(&outcome);
        progress.inc(1);
    }
    progress.finish_and_clear();
    println!("imported {}", args.file.display());
    tally.print();
    Ok(ExitCode::SUCCESS)
}

/// Counts of what became of messages, for a closing summary.
#[derive(Default)]
pub struct Tally {
    messages: usize,
    appended: BTreeMap<&'static str, usize>,
    already_applied: usize,
    parked: usize,
    rejected: usize,
    ignored: BTreeMap<String, usize>,
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
            Outcome::Rejected { subject, reason } => {
                self.rejected += 1;
                tracing::warn!(%subject, %reason, "message rejected; kept as RecordRejected");
            }
        }
    }

    /// Prints the summary.
    pub fn print(&self) {
        println!("  {} messages", self.messages);
        for (event_type, count) in &self.appended {
            println!("  appended {count:>4} {event_type}");
        }
        println!(
            "  already applied {} (seen before: nothing new written)",
            self.already_applied
        );
        println!("  parked {} (RSVPs waiting for their event)", self.parked);
        println!(
            "  rejected {} (kept in stream rejected-firehose)",
            self.rejected
        );
        for (reason, count) in &self.ignored {
            println!("  ignored {count:>4}: {reason}");
        }
    }
}
