//! `openmeet-sync serve`: the read API, Bluesky login and the writes of
//! logged-in users, the firehose process endpoints, and the background
//! tasks that feed the reads and publish (the projections, the process
//! manager, the identity enricher, the publishers), each supervised and
//! reported on `/health`.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

/// Arguments of `serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    auth: super::identities::AuthArgs,
    #[command(flatten)]
    supervision: super::background::SupervisionArgs,
}

/// Serves the API and keeps every projection current until Ctrl-C.
pub async fn run(database_url: &str, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = super::connect(database_url).await?;
    let supervisor = args.supervision.supervisor();
    super::background::spawn_projections(&supervisor, &store);
    super::background::spawn_process_manager(&supervisor, &store);
    args.auth.spawn_enricher(&supervisor, store.clone())?;
    let auth = args.auth.auth(args.listen).await?;
    super::identities::spawn_rsvp_publisher(&supervisor, store.clone(), &auth);
    args.auth
        .spawn_publishing(&supervisor, store.clone(), &auth);
    super::background::spawn_session_sweeper(&supervisor, &store);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %args.listen, "serving the read API");
    let intake = super::intake::ApplierIntake(ingest::apply::Applier::new(store.clone()));
    let app = api::router(
        api::AppState::new(store)
            .with_intake(std::sync::Arc::new(intake))
            .with_auth(auth)
            .with_tasks(super::background::for_health(&supervisor)),
    );
    // The peer's address counts logins (see api::auth::throttle).
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async {
        tokio::signal::ctrl_c().await.ok();
    });
    server.await.context("the API server failed")?;
    Ok(ExitCode::SUCCESS)
}
