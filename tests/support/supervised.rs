//! The projections as `serve` and `project` run them: each under the
//! supervisor, started again after a failure.

use std::time::Duration;

use followers::{Backoff, Supervisor};
use projections::Projection;
use store::PgEventStore;
use tokio::task::JoinHandle;

/// Every projection of `store` under a supervisor that restarts within a
/// second; abort the handles to stop them.
pub fn projecting(store: &PgEventStore) -> (Supervisor, Vec<JoinHandle<()>>) {
    let supervisor = Supervisor::new(Backoff {
        first: Duration::from_millis(100),
        cap: Duration::from_secs(1),
    });
    let tasks = Projection::ALL
        .into_iter()
        .map(|projection| {
            let store = store.clone();
            supervisor.spawn(projection.name(), move || {
                projections::runner::run(store.clone(), projection)
            })
        })
        .collect();
    (supervisor, tasks)
}
