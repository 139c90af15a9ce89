//! The ingest processor behind the API's firehose process endpoints.

use api::{FirehoseIntake, ProcessView};
use futures::FutureExt;
use futures::future::BoxFuture;
use ingest::apply::{Applier, Outcome};
use store::PgEventStore;

/// The applier, as the API's port.
pub struct ApplierIntake(pub Applier<PgEventStore>);

impl FirehoseIntake for ApplierIntake {
    fn process<'a>(
        &'a self,
        message: &'a str,
        position: &'a str,
    ) -> BoxFuture<'a, Result<ProcessView, String>> {
        async move {
            let outcome = self
                .0
                .apply(message, position)
                .await
                .map_err(|err| err.to_string())?;
            let view = |outcome: &str, appended: Vec<String>, reason: Option<String>| ProcessView {
                outcome: outcome.into(),
                appended,
                reason,
            };
            Ok(match outcome {
                Outcome::Applied(types) => view(
                    "applied",
                    types.into_iter().map(str::to_owned).collect(),
                    None,
                ),
                Outcome::AlreadyApplied => view("already_applied", vec![], None),
                Outcome::Parked => view("parked", vec!["RsvpParked".into()], None),
                Outcome::Ignored(reason) => view("ignored", vec![], Some(reason)),
                Outcome::Rejected { reason, .. } => {
                    view("rejected", vec!["RecordRejected".into()], Some(reason))
                }
            })
        }
        .boxed()
    }
}
