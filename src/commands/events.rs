//! `openmeet-sync events tail`: the global log as JSON lines, for auditors.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use domain::audit::audit_json;
use domain::{GlobalPosition, RecordedEvent};
use futures::StreamExt;
use store::EventStore;

/// Subcommands of `events`.
#[derive(Subcommand)]
pub enum EventsCommand {
    /// Print events of the global log as JSON lines, oldest first.
    Tail {
        /// Start after this global position (0: from the beginning).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Stop after this many events.
        #[arg(long)]
        limit: Option<usize>,
        /// Keep waiting for new events instead of stopping at the head.
        #[arg(long)]
        follow: bool,
    },
}

const PAGE: usize = 1_000;

/// Runs an `events` subcommand. Exits with 2 when an event did not decode
/// (it is still printed, with its error and raw bytes).
pub async fn run(database_url: &str, command: EventsCommand) -> anyhow::Result<ExitCode> {
    let EventsCommand::Tail {
        after,
        limit,
        follow,
    } = command;
    let store = super::connect(database_url).await?;
    let limit = limit.unwrap_or(usize::MAX);
    let mut printer = Printer {
        out: std::io::stdout().lock(),
        printed: 0,
        undecodable: 0,
    };

    if follow {
        let mut events = store.subscribe(GlobalPosition(after));
        while printer.printed < limit {
            let Some(event) = events.next().await else {
                break;
            };
            printer.print(&event.context("the subscription to the log failed")?)?;
            printer.out.flush().ok();
        }
    } else {
        let mut position = GlobalPosition(after);
        while printer.printed < limit {
            let page = store
                .read_all(position, PAGE.min(limit - printer.printed))
                .await
                .context("cannot read the log")?;
            let Some(last) = page.last() else { break };
            position = last.global_position;
            for event in &page {
                printer.print(event)?;
            }
        }
    }
    Ok(if printer.undecodable > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

struct Printer<W: Write> {
    out: W,
    printed: usize,
    undecodable: usize,
}

impl<W: Write> Printer<W> {
    fn print(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let (line, error) = audit_json(event);
        if let Some(error) = error {
            self.undecodable += 1;
            tracing::error!(position = %event.global_position, stream = %event.stream_id, %error, "event does not decode");
        }
        writeln!(self.out, "{line}").context("cannot write to stdout")?;
        self.printed += 1;
        Ok(())
    }
}
