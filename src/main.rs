//! `openmeet-sync`: the sync layer between OpenMeet and Bluesky's ATProtocol
//! calendar records. This binary only wires the crates together.

mod commands;

use std::process::ExitCode;

use clap::builder::BoolishValueParser;
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
    #[arg(long, env = "LOG_JSON", global = true, value_parser = BoolishValueParser::new())]
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
    /// Firehose ingest through the NATS JetStream bus.
    Ingest {
        #[command(flatten)]
        bus: commands::ingest::BusArgs,
        #[command(subcommand)]
        command: commands::ingest::IngestCommand,
    },
    /// Import Jetstream messages (JSON lines) from a file into the event store.
    ImportJetstream(commands::import::ImportArgs),
    /// Put in an export of OpenMeet's series and events (JSON lines in the
    /// shapes of POST /api/series and POST /api/events).
    ImportOpenmeet(commands::import_openmeet::ImportOpenMeetArgs),
    /// Keep every read model current, and the process manager deciding,
    /// until stopped (Ctrl-C).
    Project(commands::background::SupervisionArgs),
    /// Run the process manager: match echoes of our writes, resolve conflicts.
    Reconcile(commands::reconcile::ReconcileArgs),
    /// Publish OpenMeet's shared events and answers to Bluesky, without
    /// the API (the scheduler and the publishers `serve` also runs).
    Publish(commands::publish::PublishArgs),
    /// Show the history of a record, DID or slug; verify the whole log.
    Audit {
        #[command(subcommand)]
        command: commands::audit::AuditCommand,
    },
    /// Serve the read API and keep the read models current (Ctrl-C stops).
    Serve(commands::serve::ServeArgs),
    /// Rebuild read models from position 0 and swap them in, or --verify them.
    Rebuild(commands::rebuild::RebuildArgs),
    /// Record that a read model passes over one event it can never apply.
    SkipEvent(commands::skip::SkipArgs),
    /// Work with recurrence rules.
    Recurrence {
        #[command(subcommand)]
        command: commands::recurrence::RecurrenceCommand,
    },
    /// API sessions for services.
    Auth {
        #[command(subcommand)]
        command: commands::auth::AuthCommand,
    },
    /// Shadow accounts: resolve their handles and display names.
    Identities {
        #[command(subcommand)]
        command: commands::identities::IdentitiesCommand,
    },
    /// Detect series among imported events.
    Series {
        #[command(subcommand)]
        command: commands::series::SeriesCommand,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    let outcome = match cli.command {
        Command::Migrate => commands::migrate::run(&cli.database_url).await,
        Command::Events { command } => commands::events::run(&cli.database_url, command).await,
        Command::Ingest { bus, command } => {
            commands::ingest::run(&cli.database_url, bus, command).await
        }
        Command::ImportJetstream(args) => commands::import::run(&cli.database_url, args).await,
        Command::ImportOpenmeet(args) => {
            commands::import_openmeet::run(&cli.database_url, args).await
        }
        Command::Recurrence { command } => commands::recurrence::run(command),
        Command::Series { command } => commands::series::run(command),
        Command::Auth { command } => commands::auth::run(&cli.database_url, command).await,
        Command::Identities { command } => {
            commands::identities::run(&cli.database_url, command).await
        }
        Command::Project(args) => commands::project::run(&cli.database_url, args).await,
        Command::Reconcile(args) => commands::reconcile::run(&cli.database_url, args).await,
        Command::Publish(args) => commands::publish::run(&cli.database_url, args).await,
        Command::Audit { command } => commands::audit::run(&cli.database_url, command).await,
        Command::Serve(args) => commands::serve::run(&cli.database_url, args).await,
        Command::Rebuild(args) => commands::rebuild::run(&cli.database_url, args).await,
        Command::SkipEvent(args) => commands::skip::run(&cli.database_url, args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, leaving out a cause whose text the message
/// before it already contains (our errors name their cause in their text).
fn describe(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain().map(ToString::to_string) {
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
