//! `openmeet-sync series detect --input events.json`: series detection on
//! a file of calendar event records, through the same code the process
//! manager runs; no database needed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use domain::series_detection::{Candidate, DetectionConfig, detect};
use serde_json::{Value, json};

/// Subcommands of `series`.
#[derive(Subcommand)]
pub enum SeriesCommand {
    /// Propose series among events: prints {"series": [...], "skipped": [...]}.
    Detect(DetectArgs),
}

/// Arguments of `series detect`.
#[derive(Args)]
pub struct DetectArgs {
    /// A JSON array of calendar event records, each with its `uri`.
    #[arg(long)]
    input: PathBuf,
    /// The fewest events a series is proposed from.
    #[arg(long, default_value_t = DetectionConfig::default().min_members)]
    min_members: usize,
    /// The lowest confidence proposed (0 to 1).
    #[arg(long, default_value_t = DetectionConfig::default().min_confidence)]
    min_confidence: f64,
}

/// Reads the records, detects, and prints the proposals.
pub fn run(command: SeriesCommand) -> anyhow::Result<ExitCode> {
    let SeriesCommand::Detect(args) = command;
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let records: Vec<Value> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON array of records", args.input.display()))?;
    let mut candidates = Vec::with_capacity(records.len());
    let mut skipped = vec![];
    for (n, record) in records.iter().enumerate() {
        let Some(uri) = record.get("uri").and_then(Value::as_str) else {
            skipped.push(json!({"index": n, "reason": "no uri"}));
            continue;
        };
        match Candidate::from_record(uri, &record.to_string()) {
            Ok(candidate) => candidates.push(candidate),
            Err(reason) => skipped.push(json!({"uri": uri, "reason": reason})),
        }
    }
    let config = DetectionConfig {
        min_members: args.min_members,
        min_confidence: args.min_confidence,
        ..DetectionConfig::default()
    };
    let series: Vec<Value> = detect(&candidates, &config)
        .into_iter()
        .map(|proposal| {
            json!({
                "uris": proposal.uris,
                "rrule": proposal.rrule,
                "confidence": proposal.confidence,
                "explanation": proposal.explanation,
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({"series": series, "skipped": skipped}))?
    );
    Ok(ExitCode::SUCCESS)
}
