//! `openmeet-sync auth session`: an API session for a service DID, issued
//! by the operator; `openmeet-sync auth oauth-key`: a signing key for a
//! confidential OAuth client.

use std::process::ExitCode;

use clap::{Args, Subcommand};

/// `auth` subcommands.
#[derive(Subcommand)]
pub enum AuthCommand {
    /// Print a new API session token for DID (registered if it has no
    /// account). List the DID in ADMIN_DIDS for it to call admin endpoints.
    Session(SessionArgs),
    /// Print a new private P-256 JWK for OAUTH_CLIENT_KEY (its public half
    /// is published in /oauth/client-metadata.json).
    OauthKey {
        /// The key's id ("kid"); change it when rotating keys.
        #[arg(long, default_value = "openmeet-1")]
        kid: String,
    },
}

/// Arguments of `auth session`.
#[derive(Args)]
pub struct SessionArgs {
    /// The service's DID.
    #[arg(long)]
    did: String,
    /// How long the session lasts, in hours.
    #[arg(long, default_value_t = 24)]
    hours: i64,
}

/// Runs an `auth` subcommand.
pub async fn run(database_url: &str, command: AuthCommand) -> anyhow::Result<ExitCode> {
    let args = match command {
        AuthCommand::Session(args) => args,
        AuthCommand::OauthKey { kid } => {
            println!("{}", publish::ClientKey::generate(&kid).to_private_jwk());
            return Ok(ExitCode::SUCCESS);
        }
    };
    let store = super::connect(database_url).await?;
    let (token, expires_at) =
        api::auth::operator_session(&store, &args.did, chrono::Duration::hours(args.hours))
            .await
            .map_err(|err| anyhow::anyhow!("cannot open a session for {}: {err}", args.did))?;
    eprintln!("session for {} until {}", args.did, expires_at.to_rfc3339());
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
