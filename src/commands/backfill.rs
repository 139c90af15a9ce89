//! `openmeet-sync ingest backfill`: DIDs' calendar records read from their
//! own PDS and applied through the same intake as the firehose, for what
//! the firehose cannot give back (issue 25). A record already applied is
//! recognised and recorded nothing; a record held here as live that the
//! PDS no longer has (asked for once more) is deleted through intake, with
//! a `RecordMissingAtPds` saying why; a DID whose PDS fails is retried with
//! backoff, then reported, and the others go on.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use domain::backfill::RecordMissingAtPds;
use indicatif::{ProgressBar, ProgressStyle};
use ingest::apply::Applier;
use ingest::backoff::Backoff;
use ingest::tally::Tally;
use publish::Resolver;
use publish::backfill::{BackfillError, Listing};
use store::{EventStore, ExpectedVersion, PgEventStore};

/// Arguments of `ingest backfill`.
#[derive(Args)]
pub struct BackfillArgs {
    /// A DID to backfill; repeat for more.
    #[arg(long = "did")]
    dids: Vec<String>,
    /// A file of DIDs, one per line (blank lines and `#` comments skipped).
    #[arg(long)]
    from_file: Option<PathBuf>,
    /// Every DID the system knows an account of (shadow accounts included).
    #[arg(long)]
    known: bool,
    /// Attempts per DID when its PDS fails.
    #[arg(long, default_value_t = 3)]
    attempts: u32,
    #[command(flatten)]
    resolver: super::identities::ResolverArgs,
}

/// What a backfill did with records: what intake made of each, and how
/// many were deleted as missing at their PDS.
#[derive(Default)]
struct Backfilled {
    outcomes: Tally,
    deleted: usize,
}

impl Backfilled {
    fn add(&mut self, other: &Backfilled) {
        self.outcomes.add(&other.outcomes);
        self.deleted += other.deleted;
    }
}

impl std::fmt::Display for Backfilled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let outcomes = &self.outcomes;
        write!(
            f,
            "{} records read: {} applied, {} already recorded, {} parked (RSVPs to events not seen yet), \
             {} ignored, {} rejected (recorded as RecordRejected); {} deleted as missing at the PDS",
            outcomes.messages,
            outcomes.applied(),
            outcomes.already_applied,
            outcomes.parked,
            outcomes.ignored.values().sum::<usize>(),
            outcomes.rejected,
            self.deleted
        )
    }
}

/// Backfills the DIDs `args` names; fails when any DID could not be read.
pub async fn run(database_url: &str, args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let store = super::connect(database_url).await?;
    let dids = dids(&store, &args).await?;
    if dids.is_empty() {
        anyhow::bail!("no DID to backfill: give --did, --from-file or --known");
    }
    let resolver = args.resolver.resolver()?;
    let applier = Applier::new(store.clone());
    let bar = ProgressBar::new(dids.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} DIDs, {msg} [{elapsed}]")
            .context("progress bar template")?,
    );
    let (mut total, mut failed) = (Backfilled::default(), vec![]);
    for did in &dids {
        match listed(&resolver, did, args.attempts).await {
            Ok(listing) => {
                let mut tally = apply(&applier, &listing).await?;
                match reconcile(&store, &applier, &resolver, &listing).await {
                    Ok(deleted) => tally.deleted = deleted,
                    Err(err) => {
                        tracing::warn!(%did, error = %err, "backfill could not check deletions");
                        failed.push(format!(
                            "{did}: records applied, deletions not checked: {err:#}"
                        ));
                    }
                }
                total.add(&tally);
                let seconds = bar.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!(
                    "{} records read ({:.0}/s)",
                    total.outcomes.messages,
                    total.outcomes.messages as f64 / seconds
                ));
                tracing::info!(%did, pds = %listing.pds, rev = %listing.rev, %tally, "backfilled");
            }
            Err(err) => {
                tracing::warn!(%did, error = %err, "backfill failed");
                failed.push(err.to_string());
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "backfilled {} of {} DIDs: {total}",
        dids.len() - failed.len(),
        dids.len()
    );
    for failure in &failed {
        println!("  not backfilled: {failure}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The DIDs to backfill, each once, in the order given.
async fn dids(store: &PgEventStore, args: &BackfillArgs) -> anyhow::Result<Vec<String>> {
    let mut dids = args.dids.clone();
    if let Some(path) = &args.from_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        dids.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if args.known {
        let known: Vec<String> =
            sqlx::query_scalar("SELECT bluesky_did FROM read.users ORDER BY bluesky_did")
                .fetch_all(store.pool())
                .await
                .context("reading the known DIDs from read.users")?;
        dids.extend(known);
    }
    let mut seen = std::collections::HashSet::new();
    dids.retain(|did| seen.insert(did.clone()));
    Ok(dids)
}

/// `did`'s listing, tried up to `attempts` times with backoff.
async fn listed(resolver: &Resolver, did: &str, attempts: u32) -> Result<Listing, BackfillError> {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    let mut attempt = 1;
    loop {
        match publish::backfill::list(resolver, did).await {
            Err(err) if attempt < attempts => {
                let delay = backoff.next_delay();
                tracing::warn!(%did, attempt, error = %err, ?delay, "backfill listing failed; retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}

/// The records of `listing`'s DID held here as live (imported events, and
/// RSVPs given on Bluesky) that its PDS no longer has, asked for once more:
/// each deleted through intake after a `RecordMissingAtPds` says why.
/// Returns how many.
async fn reconcile(
    store: &PgEventStore,
    applier: &Applier<PgEventStore>,
    resolver: &Resolver,
    listing: &Listing,
) -> anyhow::Result<usize> {
    let did = &listing.did;
    let prefix = format!("at://{did}/");
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT external_id FROM read.occurrences \
         WHERE origin = 'bluesky' AND state <> 'deleted' AND starts_with(external_id, $1) \
         UNION SELECT rsvp_uri FROM read.attendees \
         WHERE origin = 'bluesky' AND starts_with(rsvp_uri, $1)",
    )
    .bind(&prefix)
    .fetch_all(store.pool())
    .await
    .context("reading the records held for the DID")?;
    let listed: Vec<String> = listing
        .records
        .iter()
        .map(|listed| format!("{prefix}{}/{}", listed.collection, listed.rkey))
        .collect();
    let read_at = chrono::Utc::now().timestamp_micros();
    let mut deleted = 0;
    for uri in domain::backfill::missing(&held, &listed) {
        let Some((collection, rkey)) = uri
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        if !publish::backfill::absent(resolver, listing, collection, rkey).await? {
            continue;
        }
        let why = RecordMissingAtPds::new(&uri, &listing.rev).append(did);
        store
            .append(&why.stream, ExpectedVersion::Any, vec![why.new_event()])
            .await
            .with_context(|| format!("recording that {uri} is missing at the PDS"))?;
        let line = ingest::backfill::deletion_line(did, &listing.rev, read_at, collection, rkey);
        let position = ingest::backfill::position(did, collection, rkey);
        applier
            .apply(&line, &position)
            .await
            .with_context(|| format!("deleting {uri}"))?;
        deleted += 1;
    }
    Ok(deleted)
}

/// Applies each record of `listing` through intake.
async fn apply(applier: &Applier<PgEventStore>, listing: &Listing) -> anyhow::Result<Backfilled> {
    let read_at = chrono::Utc::now().timestamp_micros();
    let mut tally = Backfilled::default();
    for listed in &listing.records {
        let line = ingest::backfill::commit_line(
            &listing.did,
            &listing.rev,
            read_at,
            listed.collection,
            &listed.rkey,
            &listed.cid,
            &listed.record,
        );
        let position = ingest::backfill::position(&listing.did, listed.collection, &listed.rkey);
        let outcome = applier
            .apply(&line, &position)
            .await
            .with_context(|| format!("applying {position}"))?;
        tally.outcomes.count(&outcome);
    }
    Ok(tally)
}
