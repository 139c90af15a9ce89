//! `openmeet-sync audit`: the history of one thing with the decisions taken
//! and why, and a replay of the whole log that proves the recorded
//! decisions and the hash chain.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use domain::audit::{audit_json, explain};
use domain::{DomainEvent, RecordedEvent};
use indicatif::{ProgressBar, ProgressStyle};
use projections::audit::history::{History, Subject, history};
use projections::audit::verify::verify;
use serde_json::{Value, json};

/// Subcommands of `audit`.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// The full history of a record (at-uri), an identity (did) or an event or series (slug).
    Show {
        /// `at://did/collection/rkey`, `did:…`, or a slug.
        subject: String,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Replay the log from position 0 through the process manager and check
    /// its decisions and the hash chain. Exits with 1 on any difference.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an `audit` subcommand.
pub async fn run(database_url: &str, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let store = super::connect(database_url).await?;
    match command {
        AuditCommand::Show { subject, json } => {
            let told = history(&store, Subject::parse(&subject)).await?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", history_json(&told))?;
            } else {
                write_history(&mut out, &told)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { json } => {
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} events, {per_sec}, eta {eta}")
                    .context("progress template")?,
            );
            let report = verify(&store, &|done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await
            .context("verifying the log")?;
            bar.finish_and_clear();
            if json {
                let findings: Vec<Value> = report
                    .findings
                    .iter()
                    .map(|finding| {
                        json!({"position": finding.position().0, "finding": finding.to_string()})
                    })
                    .collect();
                println!(
                    "{}",
                    json!({
                        "events": report.events,
                        "decisions_matched": report.decisions_matched,
                        "checkpoint": report.checkpoint.0,
                        "not_yet_carried_out": report.not_yet_carried_out,
                        "publishing_decisions_untimed": report.publishing_untimed,
                        "snapshots_compared": report.snapshots_compared.iter().map(|(name, position)| {
                            json!({"follower": name, "position": position.0})
                        }).collect::<Vec<_>>(),
                        "proposals_by_earlier_rules": report.proposals_by_earlier_rules.map(|(version, count)| {
                            json!({"detector": version, "not_compared": count})
                        }),
                        "chain_tip": report.chain_tip,
                        "findings": findings,
                    })
                );
            } else {
                for finding in &report.findings {
                    println!("{finding}");
                }
                if let Some((version, count)) = report.proposals_by_earlier_rules {
                    println!(
                        "series proposals made by detection rules version {version} (this build: {}): {count} recorded not compared, as this build decides them by its own rules",
                        domain::series_detection::DETECTOR_VERSION
                    );
                }
                if report.publishing_untimed > 0 {
                    println!(
                        "publishing decisions recorded before they carried their time: {} not compared",
                        report.publishing_untimed
                    );
                }
                for (name, position) in &report.snapshots_compared {
                    println!("snapshot of {name} at position {position} compared with the replay");
                }
                println!(
                    "{} events replayed, hash chain checked; {} recorded decisions match the replay; \
                     decisions carried out up to position {} ({} not yet); {} findings",
                    report.events,
                    report.decisions_matched,
                    report.checkpoint,
                    report.not_yet_carried_out,
                    report.findings.len()
                );
                println!(
                    "chain tip at position {}: {}",
                    report.events, report.chain_tip
                );
            }
            Ok(if report.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// One event as JSON, with the reason for a decision or a rejection.
fn event_json(event: &RecordedEvent) -> Value {
    let (mut line, _) = audit_json(event);
    if let Some(why) = DomainEvent::decode(&event.payload)
        .ok()
        .as_ref()
        .and_then(explain)
    {
        line["why"] = Value::String(why);
    }
    line
}

fn history_json(told: &History) -> Value {
    json!({
        "subject": told.subject.text(),
        "streams": told.streams,
        "events": told.events.iter().map(event_json).collect::<Vec<_>>(),
    })
}

/// Long values (raw records) are cut in the text view; `--json` has them whole.
const TEXT_WIDTH: usize = 120;

fn shortened(text: String) -> String {
    match text.char_indices().nth(TEXT_WIDTH) {
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
        None => text,
    }
}

/// A payload as one `field: value` line per field.
fn write_fields(out: &mut impl Write, payload: &Value) -> std::io::Result<()> {
    match payload {
        Value::Object(fields) => {
            for (field, value) in fields {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                writeln!(out, "    {field}: {}", shortened(text))?;
            }
            Ok(())
        }
        other => writeln!(out, "    {}", shortened(other.to_string())),
    }
}

fn write_history(out: &mut impl Write, told: &History) -> std::io::Result<()> {
    let streams: Vec<&str> = told.streams.iter().map(|stream| stream.as_str()).collect();
    writeln!(
        out,
        "{} events about {} in {}",
        told.events.len(),
        told.subject,
        streams.join(", ")
    )?;
    for event in &told.events {
        let line = event_json(event);
        let caused_by = match &line["causation_id"] {
            Value::String(cause) => format!(" caused by event {cause}"),
            _ => String::new(),
        };
        writeln!(
            out,
            "#{} {} {} v{} {} ({} by {}){caused_by}",
            event.global_position,
            event.recorded_at,
            event.stream_id,
            event.stream_version,
            event.payload.event_type,
            event.metadata.origin,
            event.metadata.actor,
        )?;
        match (&line["why"], &line["payload"]) {
            (Value::String(why), _) => writeln!(out, "    why: {why}")?,
            (_, Value::Null) => writeln!(
                out,
                "    does not decode: {}",
                line["decode_error"].as_str().unwrap_or_default()
            )?,
            (_, payload) => write_fields(out, payload)?,
        }
    }
    Ok(())
}
