//! `openmeet-sync import-jetstream FILE`: turns recorded Jetstream messages
//! into domain events. Running it twice appends nothing new: event ids are
//! derived from the records.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use domain::intake::{Outcome, from_jetstream};
use domain::{DomainEvent, NewEvent};
use indicatif::{ProgressBar, ProgressStyle};
use store::{EventStore, ExpectedVersion};
use tracing::Instrument;

/// Arguments of `import-jetstream`.
#[derive(Args)]
pub struct ImportArgs {
    /// A file of Jetstream messages, one JSON object per line.
    file: PathBuf,
}

#[derive(Default)]
struct Summary {
    messages: usize,
    appended: BTreeMap<&'static str, usize>,
    already_stored: usize,
    rejected: usize,
    ignored: BTreeMap<String, usize>,
}

/// Imports every line of the file and prints what happened.
pub async fn run(database_url: &str, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let store = super::connect(database_url).await?;
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
    let mut summary = Summary::default();
    for (line_no, line) in lines {
        let source = format!("{}:{line_no}", args.file.display());
        let span = tracing::info_span!("message", %source);
        summary.messages += 1;
        match from_jetstream(line, &source) {
            Outcome::Ignored(reason) => *summary.ignored.entry(reason).or_default() += 1,
            Outcome::Events(events) => {
                for intake in events {
                    let event_type = intake.event.event_type();
                    let rejected = matches!(intake.event, DomainEvent::RecordRejected(_));
                    let new = NewEvent {
                        metadata: intake.metadata,
                        payload: intake.event.encode(),
                    };
                    let appended = store
                        .append(&intake.stream, ExpectedVersion::Any, vec![new])
                        .instrument(span.clone())
                        .await
                        .with_context(|| format!("cannot append {event_type} for {source}"))?;
                    if appended.already_stored {
                        summary.already_stored += 1;
                    } else {
                        *summary.appended.entry(event_type).or_default() += 1;
                        if rejected {
                            summary.rejected += 1;
                            tracing::warn!(parent: &span, "message rejected; kept as RecordRejected");
                        }
                    }
                }
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    print_summary(&args.file.display().to_string(), &summary);
    Ok(ExitCode::SUCCESS)
}

fn print_summary(file: &str, summary: &Summary) {
    println!("imported {file}: {} messages", summary.messages);
    for (event_type, count) in &summary.appended {
        println!("  appended {count:>4} {event_type}");
    }
    println!(
        "  already stored {} (seen before: not written again)",
        summary.already_stored
    );
    println!(
        "  rejected {} (kept in stream rejected-firehose)",
        summary.rejected
    );
    for (reason, count) in &summary.ignored {
        println!("  ignored {count:>4}: {reason}");
    }
}
