//! `openmeet-sync import-jetstream FILE`: applies recorded Jetstream
//! messages straight to the event store, through the same code path as the
//! ingest processor but without the bus. Running it twice appends nothing
//! new: event ids are derived from the records.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ingest::apply::{Applier, Outcome};
use ingest::tally::Tally;
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
        if let Outcome::Rejected { subject, reason } = &outcome {
            tracing::warn!(%subject, %reason, "message rejected; kept as RecordRejected");
        }
        tally.count(&outcome);
        progress.inc(1);
    }
    progress.finish_and_clear();
    print!("imported {}\n{tally}", args.file.display());
    Ok(ExitCode::SUCCESS)
}
