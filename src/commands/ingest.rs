//! `openmeet-sync ingest consume|process|backfill`: the firehose consumer
//! feeding the NATS JetStream bus, the processor turning bus messages into
//! domain events, and the backfill reading records from their PDS.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use ingest::apply::Applier;
use ingest::bus::{Bus, BusConfig};
use ingest::consumer::{ConsumeOptions, consume};
use ingest::metrics::IngestMetrics;
use ingest::processor::{ProcessOptions, process};
use ingest::source::Source;
use prometheus::{Encoder, Registry, TextEncoder};

/// Where the bus is.
#[derive(Args)]
pub struct BusArgs {
    /// The NATS server.
    #[arg(
        long,
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        global = true
    )]
    nats_url: String,
    /// The JetStream stream of firehose messages (dead letters go to `{stream}_DLQ`).
    #[arg(long, env = "INGEST_STREAM", default_value = "FIREHOSE", global = true)]
    stream: String,
    /// The subject root.
    #[arg(
        long,
        env = "INGEST_SUBJECT_ROOT",
        default_value = "firehose",
        global = true
    )]
    subject_root: String,
    /// Serve Prometheus metrics on this address (`/metrics`).
    #[arg(long, env = "METRICS_LISTEN", global = true)]
    metrics_listen: Option<SocketAddr>,
}

/// The ingest subcommands.
#[derive(Subcommand)]
pub enum IngestCommand {
    /// Read a source (wss://…/subscribe, ws(s)://…/xrpc/com.atproto.sync.subscribeRepos,
    /// or file://capture.jsonl|.frames) into the bus. Live sources run until stopped.
    Consume {
        /// The source URL.
        source: String,
        /// Start after this source cursor instead of resuming from the bus.
        #[arg(long)]
        cursor: Option<i64>,
        /// Messages held between the socket and the bus.
        #[arg(long, default_value_t = 4096)]
        buffer: usize,
    },
    /// Apply bus messages to the event store until stopped (or, with
    /// --until-idle, until the bus holds nothing more).
    Process {
        /// The durable consumer name.
        #[arg(long, default_value = "processor")]
        durable: String,
        /// Messages fetched and applied together, in one transaction.
        #[arg(long, default_value_t = 512)]
        batch: usize,
        /// Stop when there is nothing more to process.
        #[arg(long)]
        until_idle: bool,
        /// Seconds before an unacknowledged batch is redelivered to another
        /// client of the same durable consumer (a restarted processor
        /// resumes at once).
        #[arg(long, default_value_t = 10)]
        ack_wait_secs: u64,
    },
    /// Read DIDs' calendar records from their own PDS and apply them
    /// through the same intake as the firehose (what the firehose cannot
    /// give back: a new deployment, a cursor older than the source keeps).
    Backfill(super::backfill::BackfillArgs),
}

/// Runs an ingest subcommand.
pub async fn run(
    database_url: &str,
    bus_args: BusArgs,
    command: IngestCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        IngestCommand::Consume {
            source,
            cursor,
            buffer,
        } => {
            let (bus, metrics) = connect(bus_args).await?;
            let source = Source::parse(&source)?;
            let kind = source.kind();
            let report = consume(&bus, source, ConsumeOptions { cursor, buffer }, &metrics).await?;
            println!(
                "consumed {kind} source{}: {} published, {} already on the bus, {} filtered, {} refused (recorded as rejected by the processor)",
                report
                    .started_after
                    .map(|c| format!(" after cursor {c}"))
                    .unwrap_or_default(),
                report.published,
                report.duplicates,
                report.filtered,
                report.refused,
            );
            if let Some(lines) = &report.lines {
                println!("  {lines}");
            }
        }
        IngestCommand::Process {
            durable,
            batch,
            until_idle,
            ack_wait_secs,
        } => {
            let (bus, metrics) = connect(bus_args).await?;
            let applier = Applier::new(super::connect(database_url).await?);
            let options = ProcessOptions {
                durable,
                batch,
                until_idle,
                ack_wait: std::time::Duration::from_secs(ack_wait_secs),
            };
            let tally = process(&bus, &applier, &options, &metrics).await?;
            print!("processed the bus\n{tally}");
        }
        IngestCommand::Backfill(args) => return super::backfill::run(database_url, args).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// The bus, and the ingest metrics (served at `--metrics-listen`).
async fn connect(bus_args: BusArgs) -> anyhow::Result<(Bus, IngestMetrics)> {
    let registry = Registry::new();
    let metrics = IngestMetrics::register(&registry).context("register metrics")?;
    if let Some(address) = bus_args.metrics_listen {
        serve_metrics(address, registry.clone()).await?;
    }
    let bus = Bus::connect(BusConfig {
        url: bus_args.nats_url,
        stream: bus_args.stream,
        root: bus_args.subject_root,
    })
    .await?;
    Ok((bus, metrics))
}

async fn serve_metrics(address: SocketAddr, registry: Registry) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move {
                let mut text = Vec::new();
                match TextEncoder::new().encode(&registry.gather(), &mut text) {
                    Ok(()) => String::from_utf8_lossy(&text).into_owned(),
                    Err(err) => format!("# metrics unavailable: {err}\n"),
                }
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %err, "the metrics server stopped");
        }
    });
    Ok(())
}
