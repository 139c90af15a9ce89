//! One supervision rule for every background task: a task that fails (an
//! error or a panic) is logged with its error and started again after a
//! capped exponential backoff; a task that ends is stopped, and says why.
//! Each task's state is kept for `/health`, which calls the process
//! degraded while any task is not running.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// How long a failed task waits before it starts again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after a first failure, doubled after each failure that
    /// follows.
    pub first: Duration,
    /// The longest wait. A task that ran this long without failing starts
    /// its count of failures again.
    pub cap: Duration,
}

impl Default for Backoff {
    /// 1 s, doubling up to a minute.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait after the `failures`-th failure in a row (counted from 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.first
            .saturating_mul(1 << doublings)
            .min(self.cap.max(self.first))
    }
}

/// Where a supervised task stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Started, and has not failed since.
    Running {
        /// When it was started (or started again after failures).
        since: DateTime<Utc>,
    },
    /// Failed; it starts again at `retry_at`, or has started again but not
    /// yet run for the first wait of the backoff without failing.
    Restarting {
        /// When the failures in a row began.
        since: DateTime<Utc>,
        /// Failures in a row.
        failures: u32,
        /// What the last failure said.
        last_error: String,
        /// When it is next started.
        retry_at: DateTime<Utc>,
    },
    /// Ended, and will not start again.
    Stopped {
        /// When.
        since: DateTime<Utc>,
        /// Why.
        why: String,
    },
}

impl TaskState {
    /// Whether the task does its work now.
    pub fn is_running(&self) -> bool {
        matches!(self, TaskState::Running { .. })
    }
}

/// Starts background tasks under the one rule, and knows how each fares.
#[derive(Clone, Debug, Default)]
pub struct Supervisor {
    backoff: Backoff,
    states: Arc<Mutex<BTreeMap<String, TaskState>>>,
}

impl Supervisor {
    /// A supervisor restarting failed tasks after `backoff`.
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            states: Arc::default(),
        }
    }

    /// Each task by name, with its state.
    pub fn states(&self) -> Vec<(String, TaskState)> {
        self.lock()
            .iter()
            .map(|(name, state)| (name.clone(), state.clone()))
            .collect()
    }

    /// Records that `name` will not run, and why (a task this
    /// configuration turns off is not listed at all).
    pub fn stopped(&self, name: &str, why: impl Into<String>) {
        self.set(
            name,
            TaskState::Stopped {
                since: Utc::now(),
                why: why.into(),
            },
        );
    }

    /// Runs `start()` as the task `name`, and again after each failure; a
    /// start that returns `Ok` ends the task (a follower is not meant to).
    pub fn spawn<F, Fut, E>(&self, name: &str, mut start: F) -> JoinHandle<()>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let (supervisor, name) = (self.clone(), name.to_owned());
        supervisor.set(&name, TaskState::Running { since: Utc::now() });
        tokio::spawn(async move {
            let mut failures = 0u32;
            let mut failing_since = None;
            loop {
                let started = Instant::now();
                // In a set of its own: a panic is caught as a failure, and
                // the run ends when this supervising task is aborted.
                let mut run = JoinSet::new();
                run.spawn(start());
                let outcome = if failures == 0 {
                    supervisor.set(&name, TaskState::Running { since: Utc::now() });
                    run.join_next().await
                } else {
                    // Restarted: running once it has lasted the first wait.
                    tokio::select! {
                        outcome = run.join_next() => outcome,
                        () = tokio::time::sleep(supervisor.backoff.first) => {
                            supervisor.set(&name, TaskState::Running { since: Utc::now() });
                            run.join_next().await
                        }
                    }
                };
                let Some(outcome) = outcome else {
                    supervisor.stopped(&name, "it was never started");
                    return;
                };
                let error = match outcome {
                    Ok(Ok(())) => {
                        tracing::error!(task = %name, "a background task ended; it is not started again");
                        supervisor.stopped(&name, "it ended");
                        return;
                    }
                    Ok(Err(err)) => err.to_string(),
                    Err(join) if join.is_panic() => format!("it panicked: {}", panic_text(join)),
                    Err(_) => {
                        supervisor.stopped(&name, "it was cancelled");
                        return;
                    }
                };
                if started.elapsed() >= supervisor.backoff.cap {
                    failures = 0;
                    failing_since = None;
                }
                failures += 1;
                let since = *failing_since.get_or_insert_with(Utc::now);
                let wait = supervisor.backoff.delay(failures);
                tracing::error!(task = %name, %error, failures, retry_in = ?wait,
                    "a background task failed; it starts again");
                supervisor.set(
                    &name,
                    TaskState::Restarting {
                        since,
                        failures,
                        last_error: error,
                        retry_at: Utc::now()
                            + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
                    },
                );
                tokio::time::sleep(wait).await;
            }
        })
    }

    fn set(&self, name: &str, state: TaskState) {
        self.lock().insert(name.to_owned(), state);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, TaskState>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn panic_text(join: tokio::task::JoinError) -> String {
    let payload = join.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn quick() -> Backoff {
        Backoff {
            first: Duration::from_millis(20),
            cap: Duration::from_millis(80),
        }
    }

    async fn until(
        supervisor: &Supervisor,
        name: &str,
        wanted: impl Fn(&TaskState) -> bool,
    ) -> TaskState {
        for _ in 0..500 {
            let state = supervisor.states().into_iter().find(|(n, _)| n == name);
            if let Some((_, state)) = state.filter(|(_, state)| wanted(state)) {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{name} never reached the state: {:?}", supervisor.states());
    }

    #[test]
    fn the_wait_doubles_from_the_first_up_to_the_cap() {
        let backoff = Backoff {
            first: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (1..=8).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn a_failing_task_restarts_says_why_and_runs_again_once_its_cause_is_gone() {
        let supervisor = Supervisor::new(quick());
        let tries = Arc::new(AtomicU32::new(0));
        let counted = tries.clone();
        supervisor.spawn("flaky", move || {
            let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if attempt <= 3 {
                    return Err(format!("attempt {attempt} failed"));
                }
                std::future::pending::<Result<(), String>>().await
            }
        });
        let restarting = until(&supervisor, "flaky", |s| {
            matches!(s, TaskState::Restarting { failures: 2, .. })
        })
        .await;
        let TaskState::Restarting { last_error, .. } = restarting else {
            unreachable!()
        };
        assert_eq!(last_error, "attempt 2 failed");
        until(&supervisor, "flaky", TaskState::is_running).await;
        assert_eq!(tries.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_panic_is_a_failure_and_an_end_is_a_stop() {
        let supervisor = Supervisor::new(quick());
        supervisor.spawn("panics", || async {
            if true {
                panic!("no such row");
            }
            Ok::<(), String>(())
        });
        let state = until(&supervisor, "panics", |s| !s.is_running()).await;
        let TaskState::Restarting { last_error, .. } = state else {
            panic!("{state:?}")
        };
        assert_eq!(last_error, "it panicked: no such row");

        supervisor.spawn("ends", || async { Ok::<(), String>(()) });
        let state = until(&supervisor, "ends", |s| {
            matches!(s, TaskState::Stopped { .. })
        })
        .await;
        assert!(matches!(state, TaskState::Stopped { why, .. } if why == "it ended"));
    }
}
