//! `openmeet-sync import-openmeet FILE`: puts in an export of OpenMeet's
//! existing series and standalone events, one JSON object per line in the
//! shapes of `POST /api/series` and `POST /api/events` (a line with a
//! `recurrenceRule` is a series), through the same code as those routes.
//! The file is read a line at a time; a line that cannot be put in is
//! reported with its number and reason, and the rest goes on. A second
//! run adds nothing: each keeps OpenMeet's id.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use api::{CreateEvent, CreateSeries, Created};
use clap::Args;
use domain::Actor;
use indicatif::{ProgressBar, ProgressStyle};
use ingest::lines::{Line, Lines};

/// Arguments of `import-openmeet`.
#[derive(Args)]
pub struct ImportOpenMeetArgs {
    /// A file of OpenMeet series and events, one JSON object per line.
    file: PathBuf,
}

/// What became of the lines.
#[derive(Default)]
struct Counts {
    series: [u64; 2],
    events: [u64; 2],
    rejected: u64,
}

impl Counts {
    fn count(&mut self, series: bool, created: Created) {
        let kind = if series {
            &mut self.series
        } else {
            &mut self.events
        };
        kind[usize::from(created == Created::Before)] += 1;
    }
}

/// Puts every line of the file in, and prints what happened; exits 1 when
/// any line was rejected.
pub async fn run(database_url: &str, args: ImportOpenMeetArgs) -> anyhow::Result<ExitCode> {
    let name = args.file.display().to_string();
    let file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("cannot read {name}"))?;
    let size = file.metadata().await.map_or(0, |m| m.len());
    let state = api::AppState::new(super::connect(database_url).await?);
    let actor = Actor::system("import-openmeet");
    let progress = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes}, {bytes_per_sec}, eta {eta}")
            .context("progress template")?,
    );
    let mut lines = Lines::new(tokio::io::BufReader::new(file));
    let mut counts = Counts::default();
    while let Some(line) = lines
        .next_line()
        .await
        .with_context(|| format!("cannot read {name}"))?
    {
        let number = line.number();
        let put = match &line {
            Line::Text { text, .. } => put(&state, &actor, text)
                .await
                .with_context(|| format!("{name}:{number}: stopped; a rerun goes on from here"))?,
            Line::Empty { .. } => continue,
            _ => Err(line
                .broken()
                .map_or_else(|| "unreadable".to_owned(), |letter| letter.reason)),
        };
        match put {
            Ok((series, created)) => counts.count(series, created),
            Err(reason) => {
                counts.rejected += 1;
                progress.suspend(|| eprintln!("{name}:{number}: {reason}"));
            }
        }
        progress.set_position(lines.bytes_read());
    }
    progress.finish_and_clear();
    println!(
        "imported {name}: {} series and {} events created, {} series and {} events there already, {} lines rejected",
        counts.series[0], counts.events[0], counts.series[1], counts.events[1], counts.rejected
    );
    Ok(if counts.rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Puts one line in: whether it was a series, and whether it was created
/// now; or why the line cannot be. An error is the store failing, which
/// stops the import rather than count the line as bad.
async fn put(
    state: &api::AppState,
    actor: &Actor,
    text: &str,
) -> anyhow::Result<Result<(bool, Created), String>> {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(err) => return Ok(Err(format!("not JSON: {err}"))),
    };
    let series = value.get("recurrenceRule").is_some();
    let outcome = if series {
        match serde_json::from_value::<CreateSeries>(value) {
            Ok(request) => api::put_series(state, actor, request)
                .await
                .map(|(created, _)| created),
            Err(err) => return Ok(Err(format!("not a series of POST /api/series: {err}"))),
        }
    } else {
        match serde_json::from_value::<CreateEvent>(value) {
            Ok(request) => api::put_event(state, actor, request)
                .await
                .map(|(created, _)| created),
            Err(err) => return Ok(Err(format!("not an event of POST /api/events: {err}"))),
        }
    };
    match outcome {
        Ok(created) => Ok(Ok((series, created))),
        Err(err @ (api::ApiError::Unavailable(_) | api::ApiError::Internal(_))) => Err(err.into()),
        Err(refused) => Ok(Err(refused.to_string())),
    }
}
