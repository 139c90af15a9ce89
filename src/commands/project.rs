//! `openmeet-sync project`: keep every read model current, and the process
//! manager deciding, until stopped.

use std::process::ExitCode;

/// Runs all projections until Ctrl-C; a projection that fails stops alone
/// and is reported, the others go on.
pub async fn run(database_url: &str) -> anyhow::Result<ExitCode> {
    let store = super::connect(database_url).await?;
    let mut tasks = projections::runner::run_all(&store);
    let mut process_manager = super::reconcile::spawn(store);
    let (mut failed, mut deciding) = (0, true);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("stopping projections");
                return Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS });
            }
            _ = &mut process_manager, if deciding => {
                (failed, deciding) = (failed + 1, false);
                eprintln!("the process manager stopped; the projections go on");
            }
            finished = tasks.join_next() => match finished {
                Some(Ok((projection, Err(err)))) => {
                    failed += 1;
                    eprintln!("projection {projection} stopped: {err}");
                }
                Some(Ok((_, Ok(())))) => {}
                Some(Err(err)) => anyhow::bail!("a projection task failed: {err}"),
                None => return Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }),
            },
        }
    }
}
