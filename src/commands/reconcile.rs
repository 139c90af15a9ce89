//! `openmeet-sync reconcile`: run the process manager (echoes of our own
//! writes, conflict resolution) over the log.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use followers::SnapshotPolicy;
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `reconcile`.
#[derive(Args)]
pub struct ReconcileArgs {
    /// Stop at the head of the log instead of following it.
    #[arg(long)]
    until_idle: bool,
}

/// Rebuilds the process manager's state from its last snapshot and the
/// log after it, then takes the decisions of every event after its
/// checkpoint.
pub async fn run(database_url: &str, args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let store = super::connect(database_url).await?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("rebuilding state {bar:30} {pos}/{len} events, {per_sec}")
            .context("progress template")?,
    );
    let (mut runner, started) =
        followers::process_manager::start(store, SnapshotPolicy::default(), &|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await
        .context("starting the process manager")?;
    bar.finish_and_clear();
    if args.until_idle {
        runner
            .until_idle()
            .await
            .context("running the process manager")?;
        let from = if started.from.0 == 0 {
            "the log's start".to_owned()
        } else {
            format!("its snapshot at position {}", started.from)
        };
        println!(
            "process manager: state folded from {from} to position {}, positions {} to {} handled, {} decisions recorded",
            started.checkpoint,
            started.checkpoint,
            runner.position(),
            runner.done().recorded
        );
        return Ok(ExitCode::SUCCESS);
    }
    tokio::select! {
        outcome = runner.follow() => outcome.context("the process manager stopped")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping the process manager"),
    }
    Ok(ExitCode::SUCCESS)
}
