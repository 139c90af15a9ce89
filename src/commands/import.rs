//! `openmeet-sync import-jetstream FILE`: applies recorded Jetstream
//! messages straight to the event store, through the same code path as the
//! ingest processor but without the bus. The file is read line by line
//! with the consumer's line reader, so memory stays flat in its size and a
//! broken line is rejected alone. Running it twice appends nothing new:
//! event ids are derived from the records.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ingest::apply::{Applier, Outcome};
use ingest::lines::{Line, LineCounts, Lines};
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
    // Rejections name the file by its full path, as `ingest consume` does,
    // so that both paths record the same rejection of the same line.
    let name = std::fs::canonicalize(&args.file)
        .unwrap_or_else(|_| args.file.clone())
        .display()
        .to_string();
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("cannot read {name}"))?;
    let size = file.metadata().await.map_or(0, |m| m.len());
    let applier = Applier::new(super::connect(database_url).await?);
    let progress = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes}, {bytes_per_sec}, eta {eta}")
            .context("progress template")?,
    );
    let mut lines = Lines::new(tokio::io::BufReader::new(file));
    let mut counts = LineCounts::default();
    let mut tally = Tally::default();
    while let Some(line) = lines
        .next_line()
        .await
        .with_context(|| format!("cannot read {name}"))?
    {
        counts.count(&line, false);
        let source = format!("{name}:{}", line.number());
        let span = tracing::info_span!("message", %source);
        let outcome = if let Line::Text { text, .. } = &line {
            applier.apply(text, &source).instrument(span).await?
        } else if let Some(letter) = line.broken() {
            applier
                .reject(&source, &source, &letter.reason, letter.input())
                .instrument(span)
                .await?
        } else {
            continue;
        };
        if let Outcome::Rejected { subject, reason } = &outcome {
            tracing::warn!(%source, %subject, %reason, "message rejected; kept as RecordRejected");
        }
        tally.count(&outcome);
        progress.set_position(lines.bytes_read());
    }
    progress.finish_and_clear();
    print!("imported {name}\n  {counts}\n{tally}");
    Ok(ExitCode::SUCCESS)
}
