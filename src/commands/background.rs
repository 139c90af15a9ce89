//! The background tasks of `serve` and `project`, each under the one
//! supervision rule of [`followers::Supervisor`]: the projections, the
//! process manager and the expired-session sweeper here; the enricher and
//! the publishers beside their settings in `identities`.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use followers::SnapshotPolicy;
use followers::{Backoff, Supervisor, TaskState};
use projections::Projection;
use store::PgEventStore;

/// How failed background tasks are started again.
#[derive(Args)]
pub struct SupervisionArgs {
    /// The longest wait before a failed background task starts again, in
    /// seconds (the first wait is a second, doubled after each failure).
    #[arg(long, env = "RESTART_BACKOFF_CAP_SECS", default_value_t = 60)]
    restart_backoff_cap_secs: u64,
}

impl SupervisionArgs {
    /// A supervisor with these settings.
    pub fn supervisor(&self) -> Supervisor {
        let first = Duration::from_secs(1);
        Supervisor::new(Backoff {
            first,
            cap: Duration::from_secs(self.restart_backoff_cap_secs).max(first),
        })
    }
}

/// Every projection, each a task of its own.
pub fn spawn_projections(supervisor: &Supervisor, store: &PgEventStore) {
    for projection in Projection::ALL {
        let store = store.clone();
        supervisor.spawn(projection.name(), move || {
            projections::runner::run(store.clone(), projection)
        });
    }
}

/// The process manager: its state rebuilt from its last snapshot and the
/// log after it at each start, then following the log.
pub fn spawn_process_manager(supervisor: &Supervisor, store: &PgEventStore) {
    let store = store.clone();
    supervisor.spawn(followers::process_manager::NAME, move || {
        let store = store.clone();
        async move {
            let (runner, _) =
                followers::process_manager::start(store, SnapshotPolicy::default(), &|_, _| {})
                    .await?;
            runner.follow().await
        }
    });
}

/// Removes expired API sessions every hour (a session is also refused and
/// removed when it is met after its expiry).
pub fn spawn_session_sweeper(supervisor: &Supervisor, store: &PgEventStore) {
    let store = store.clone();
    supervisor.spawn::<_, _, String>("session-sweeper", move || {
        let store = store.clone();
        async move {
            let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every_hour.tick().await;
                let removed = api::auth::sessions::sweep(store.pool())
                    .await
                    .map_err(|err| format!("removing expired API sessions: {err}"))?;
                if removed > 0 {
                    tracing::info!(removed, "expired API sessions removed");
                }
            }
        }
    });
}

/// The supervisor's view, as `/health` shows it.
pub struct Supervised(pub Supervisor);

impl api::BackgroundTasks for Supervised {
    fn states(&self) -> Vec<api::TaskView> {
        self.0
            .states()
            .into_iter()
            .map(|(name, state)| view(name, state))
            .collect()
    }
}

fn view(name: String, state: TaskState) -> api::TaskView {
    let view = |state: &str, since: chrono::DateTime<chrono::Utc>| api::TaskView {
        name: name.clone(),
        state: state.into(),
        since: since.to_rfc3339(),
        failures: None,
        last_error: None,
        retry_at: None,
        why: None,
    };
    match state {
        TaskState::Running { since } => view("running", since),
        TaskState::Restarting {
            since,
            failures,
            last_error,
            retry_at,
        } => api::TaskView {
            failures: Some(failures),
            last_error: Some(last_error),
            retry_at: Some(retry_at.to_rfc3339()),
            ..view("restarting", since)
        },
        TaskState::Stopped { since, why } => api::TaskView {
            why: Some(why),
            ..view("stopped", since)
        },
    }
}

/// The supervisor's view for the API's state.
pub fn for_health(supervisor: &Supervisor) -> Arc<dyn api::BackgroundTasks> {
    Arc::new(Supervised(supervisor.clone()))
}
