//! `openmeet-sync rebuild`: replace (or, with --verify, check) read models
//! by replaying the log from position 0.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use projections::Projection;
use projections::rebuild::rebuild;

/// Arguments of `rebuild`.
#[derive(Args)]
pub struct RebuildArgs {
    /// Only this projection (series, occurrences, attendees, users, external_refs).
    #[arg(long)]
    projection: Option<String>,
    /// Build the copy and compare it with the live tables; change nothing.
    #[arg(long)]
    verify: bool,
}

/// Rebuilds or verifies the chosen projections. Exits with 1 when verify
/// finds a difference.
pub async fn run(database_url: &str, args: RebuildArgs) -> anyhow::Result<ExitCode> {
    let chosen = match &args.projection {
        Some(name) => vec![Projection::parse(name).with_context(|| {
            let known: Vec<&str> = Projection::ALL.iter().map(|p| p.name()).collect();
            format!("unknown projection {name:?}; known: {}", known.join(", "))
        })?],
        None => Projection::ALL.to_vec(),
    };
    let store = super::connect(database_url).await?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} events, {per_sec}, eta {eta}")
            .context("progress template")?,
    );
    let reports = rebuild(&store, &chosen, args.verify, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .context("rebuilding the read models")?;
    bar.finish_and_clear();
    let mut differences = 0;
    for report in reports {
        let projection = report.projection;
        if !args.verify {
            println!(
                "{projection}: rebuilt to position {} and swapped in",
                report.position
            );
        } else if report.differences.is_empty() {
            println!(
                "{projection}: verified at position {}: no difference",
                report.position
            );
        }
        for difference in &report.differences {
            differences += 1;
            println!(
                "{projection}: table {} differs at position {}: {} rows only live, {} only rebuilt",
                difference.table, report.position, difference.only_live, difference.only_rebuilt
            );
            for example in &difference.examples {
                println!("  {example}");
            }
        }
    }
    Ok(if differences > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
