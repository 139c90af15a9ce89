//! `openmeet-sync`: the sync layer between OpenMeet and Bluesky's ATProtocol
//! calendar records. This binary only wires the crates together.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Sync between OpenMeet and Bluesky calendar records.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// PostgreSQL holding the event store and the read models.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/openmeet_sync",
        global = true
    )]
    database_url: String,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "LOG_JSON", global = true)]
    log_json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if needed and apply all migrations.
    Migrate,
    /// Read the event log.
    Events {
        #[command(subcommand)]
        command: commands::events::EventsCommand,
    },
    /// Import Jetstream messages (JSON lines) from a file into the event store.
    ImportJetstream(commands::import::ImportArgs),
    /// Work with recurrence rules.
    Recurrence {
        #[command(subcommand)]
        command: commands::recurrence::RecurrenceCommand,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let outcome = match cli.command {
        Command::Migrate => commands::migrate::run(&cli.database_url).await,
        Command::Events { command } => commands::events::run(&cli.database_url, command).await,
        Command::ImportJetstream(args) => commands::import::run(&cli.database_url, args).await,
        Command::Recurrence { command } => commands::recurrence::run(command),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
