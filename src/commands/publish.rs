//! `openmeet-sync publish`: the publishing direction alone, without the
//! API: the scheduler, the occurrence publisher and the RSVP publisher,
//! each from its checkpoint (to catch up after an outage, or to publish
//! from a host that serves nothing).

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use followers::SnapshotPolicy;
use publish::occurrences::OccurrencePublisher;
use publish::rsvps::RsvpPublisher;

/// Arguments of `publish`.
#[derive(Args)]
pub struct PublishArgs {
    /// The API address `serve` listens on: the OAuth client that sessions
    /// of OAuth logins are refreshed with names it.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    auth: super::identities::AuthArgs,
    #[command(flatten)]
    supervision: super::background::SupervisionArgs,
    /// Stop once what is due is carried out, instead of following the log.
    #[arg(long)]
    until_idle: bool,
    /// With --until-idle: decide what is due at this time (RFC 3339)
    /// rather than now.
    #[arg(long, requires = "until_idle", value_parser = parse_time)]
    at: Option<domain::Timestamp>,
}

fn parse_time(text: &str) -> Result<domain::Timestamp, String> {
    domain::Timestamp::parse_rfc3339(text)
        .map_err(|err| format!("{text:?} is not an RFC 3339 time: {err}"))
}

/// Publishes what is due, then stops (`--until-idle`) or follows the log
/// until Ctrl-C.
pub async fn run(database_url: &str, args: PublishArgs) -> anyhow::Result<ExitCode> {
    let store = super::connect(database_url).await?;
    let auth = args.auth.auth(args.listen).await?;
    let Some(keeper) = auth.keeper(&store) else {
        anyhow::bail!(
            "CREDENTIALS_KEY is not set: no Bluesky session is kept here to publish with"
        );
    };
    let http = auth.resolver.http().clone();
    if !args.until_idle {
        let supervisor = args.supervision.supervisor();
        args.auth
            .spawn_publishing(&supervisor, store.clone(), &auth);
        super::identities::spawn_rsvp_publisher(&supervisor, store, &auth);
        tokio::signal::ctrl_c().await.ok();
        tracing::info!("stopping publishing");
        return Ok(ExitCode::SUCCESS);
    }
    let (mut scheduler, started) =
        followers::scheduler::start(store.clone(), args.auth.site(), SnapshotPolicy::default())
            .await
            .context("starting the publishing scheduler")?;
    let at = args
        .at
        .unwrap_or_else(|| domain::Timestamp::from_datetime(chrono::Utc::now()));
    let decided = scheduler.tick(at).await.context("deciding what is due")?;
    let written = OccurrencePublisher::start(store.clone(), keeper.clone(), http.clone())
        .await
        .context("starting the occurrence publisher")?
        .run_until_idle()
        .await
        .context("publishing occurrences")?;
    let answered = RsvpPublisher::start(store, keeper, http)
        .await
        .context("starting the RSVP publisher")?
        .run_until_idle()
        .await
        .context("publishing RSVPs")?;
    println!(
        "publishing at {at}: scheduler folded the log from position {} (its snapshot) to {}, \
         {decided} decisions recorded; {written} occurrence writes carried out; \
         {answered} RSVP outcomes recorded",
        started.from,
        scheduler.position(),
    );
    Ok(ExitCode::SUCCESS)
}
