//! `openmeet-sync skip-event`: an operator's recorded decision that one
//! read model, the process manager, the publishing scheduler or one of the
//! publishers passes over one event it cannot apply (the followers: one
//! they cannot decode), when
//! no fix of the code can make it apply. The decision is an event of the
//! log, so every runner and every rebuild skip the same position; the
//! stopped runner reads it at its next try.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use domain::envelope::{Actor, EventId, EventMetadata, Origin, derived_uuid};
use domain::skips::{ProjectionSkips, SkipEvent, skips_stream};
use domain::{GlobalPosition, Timestamp};
use projections::Projection;
use store::EventStore;
use store::decide::decide_and_append;

/// Arguments of `skip-event`.
#[derive(Args)]
pub struct SkipArgs {
    /// The read model that passes over the event, or the follower:
    /// `process-manager`, `publishing-scheduler`, `occurrence-publisher`,
    /// `rsvp-publisher` or `identity-enricher`.
    #[arg(long)]
    projection: String,
    /// The global position of the event (as `/health` and the logs name it).
    #[arg(long)]
    position: u64,
    /// Why it can never apply, for the audit.
    #[arg(long)]
    reason: String,
}

/// Records the skip, after checking that the event exists.
pub async fn run(database_url: &str, args: SkipArgs) -> anyhow::Result<ExitCode> {
    let followers = [
        followers::process_manager::NAME,
        followers::scheduler::NAME,
        publish::occurrences::CHECKPOINT,
        publish::rsvps::CHECKPOINT,
        publish::enrich::CHECKPOINT,
    ];
    let projection = Projection::parse(&args.projection)
        .map(Projection::name)
        .or(followers
            .into_iter()
            .find(|follower| *follower == args.projection))
        .with_context(|| {
            let known: Vec<&str> = Projection::ALL
                .iter()
                .map(|p| p.name())
                .chain(followers)
                .collect();
            format!(
                "unknown projection {:?}; known: {}",
                args.projection,
                known.join(", ")
            )
        })?;
    let store = super::connect(database_url).await?;
    let event = store
        .read_all(GlobalPosition(args.position.saturating_sub(1)), 1)
        .await?
        .into_iter()
        .find(|event| event.global_position.0 == args.position)
        .with_context(|| format!("the log holds no event at position {}", args.position))?;
    let command = SkipEvent {
        projection: projection.into(),
        position: args.position,
        event_type: event.payload.event_type.clone(),
        reason: args.reason,
    };
    let key = format!("{}/{}", command.projection, command.position);
    let decided = decide_and_append::<ProjectionSkips, _>(
        &store,
        &skips_stream(),
        &command,
        Timestamp::from_datetime(chrono::Utc::now()),
        |_| EventMetadata {
            event_id: EventId(derived_uuid("projection-skip", &key)),
            causation_id: Some(event.metadata.event_id),
            correlation_id: event.metadata.correlation_id,
            origin: Origin::OpenMeet,
            actor: Actor::system("operator"),
        },
    )
    .await
    .map_err(|err| anyhow::anyhow!("the skip was not recorded: {err}"))?;
    match decided.position {
        Some(position) => println!(
            "{projection} passes over position {} ({} in {}); recorded at position {position}",
            args.position, event.payload.event_type, event.stream_id
        ),
        None => println!(
            "{projection} already passes over position {}",
            args.position
        ),
    }
    Ok(ExitCode::SUCCESS)
}
