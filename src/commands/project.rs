//! `openmeet-sync project`: keep every read model current, and the process
//! manager deciding, until stopped.

use std::process::ExitCode;

/// Runs all projections and the process manager until Ctrl-C, each
/// supervised: one that fails is logged and started again after a backoff,
/// the others go on.
pub async fn run(
    database_url: &str,
    args: super::background::SupervisionArgs,
) -> anyhow::Result<ExitCode> {
    let store = super::connect(database_url).await?;
    let supervisor = args.supervisor();
    super::background::spawn_projections(&supervisor, &store);
    super::background::spawn_process_manager(&supervisor, &store);
    tokio::signal::ctrl_c().await.ok();
    tracing::info!("stopping projections");
    let failing: Vec<String> = supervisor
        .states()
        .into_iter()
        .filter(|(_, state)| !state.is_running())
        .map(|(name, _)| name)
        .collect();
    if failing.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("not running when stopped: {}", failing.join(", "));
    Ok(ExitCode::FAILURE)
}
