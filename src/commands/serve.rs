//! `openmeet-sync serve`: the read API, Bluesky login and the writes of
//! logged-in users, the firehose process endpoints, and the projections,
//! process manager and identity enricher that feed the reads.

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
}

/// Serves the API and keeps every projection current until Ctrl-C.
pub async fn run(database_url: &str, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = super::connect(database_url).await?;
    let mut projections = projections::runner::run_all(&store);
    super::reconcile::spawn(store.clone());
    args.auth.spawn_enricher(store.clone())?;
    let auth = args.auth.auth(args.listen).await?;
    super::identities::spawn_rsvp_publisher(store.clone(), &auth);
    args.auth.spawn_publishing(store.clone(), &auth);
    spawn_session_sweeper(store.clone());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %args.listen, "serving the read API");
    let intake = super::intake::ApplierIntake(ingest::apply::Applier::new(store.clone()));
    let app = api::router(
        api::AppState::new(store)
            .with_intake(std::sync::Arc::new(intake))
            .with_auth(auth),
    );
    // The peer's address counts logins (see api::auth::throttle).
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async {
        tokio::signal::ctrl_c().await.ok();
    });
    // A projection that stops is reported (and shows on /health as lagging);
    // the others and the API go on.
    tokio::spawn(async move {
        while let Some(finished) = projections.join_next().await {
            if let Ok((projection, Err(err))) = finished {
                tracing::error!(%projection, error = %err, "projection stopped; the API keeps serving");
            }
        }
    });
    server.await.context("the API server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Removes expired API sessions every hour (a session is also refused and
/// removed when it is met after its expiry).
fn spawn_session_sweeper(store: store::PgEventStore) {
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            match api::auth::sessions::sweep(store.pool()).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "expired API sessions removed"),
                Err(err) => tracing::warn!(error = %err, "removing expired API sessions failed"),
            }
        }
    });
}
