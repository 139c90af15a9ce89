//! `openmeet-sync recurrence expand`: our recurrence expansion on the
//! command line, so anyone can compare it with other implementations.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use domain::recurrence::{Recurrence, format_in_zone, local_or_instant, time_zone};

/// Subcommands of `recurrence`.
#[derive(Subcommand)]
pub enum RecurrenceCommand {
    /// Print the occurrences of a rule, one RFC 3339 instant with offset per line.
    Expand(ExpandArgs),
}

/// Arguments of `recurrence expand`.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("range").required(true).args(["count", "between"])))]
pub struct ExpandArgs {
    /// The first occurrence: wall time in --tz (2026-03-03T18:00:00) or an RFC 3339 instant.
    #[arg(long)]
    dtstart: String,
    /// The IANA time zone the rule is evaluated in.
    #[arg(long)]
    tz: String,
    /// The RRULE value, such as 'FREQ=WEEKLY;BYDAY=TU'.
    #[arg(long)]
    rrule: String,
    /// An occurrence to leave out (repeatable).
    #[arg(long)]
    exdate: Vec<String>,
    /// An occurrence to add (repeatable).
    #[arg(long)]
    rdate: Vec<String>,
    /// Print the first N occurrences.
    #[arg(long)]
    count: Option<u16>,
    /// Print the occurrences from START to END, both inclusive.
    #[arg(long, num_args = 2, value_names = ["START", "END"])]
    between: Option<Vec<String>>,
}

/// Expands the rule and prints the occurrences.
pub fn run(command: RecurrenceCommand) -> anyhow::Result<ExitCode> {
    let RecurrenceCommand::Expand(args) = command;
    let zone = time_zone(&args.tz)?;
    let instant = |flag: &str, text: &str| {
        local_or_instant(text, zone).with_context(|| format!("--{flag} {text}"))
    };
    let recurrence = Recurrence {
        rule: args.rrule.clone(),
        time_zone: args.tz.clone(),
        starts_at: instant("dtstart", &args.dtstart)?,
        exdates: args
            .exdate
            .iter()
            .map(|text| instant("exdate", text))
            .collect::<Result<_, _>>()?,
        rdates: args
            .rdate
            .iter()
            .map(|text| instant("rdate", text))
            .collect::<Result<_, _>>()?,
    };
    let schedule = recurrence.schedule()?;
    let occurrences = match (args.count, args.between.as_deref()) {
        (Some(count), _) => schedule.first(count)?,
        (None, Some([start, end])) => {
            schedule.between(instant("between", start)?, instant("between", end)?)?
        }
        _ => anyhow::bail!("give --count N or --between START END"),
    };
    for at in occurrences {
        println!("{}", format_in_zone(at, zone));
    }
    Ok(ExitCode::SUCCESS)
}
