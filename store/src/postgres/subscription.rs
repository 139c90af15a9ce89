//! A catch-up subscription: reads the log in pages from a position, then
//! waits for appends, woken by LISTEN/NOTIFY with polling as the fallback.

use std::collections::VecDeque;
use std::time::Duration;

use domain::{GlobalPosition, RecordedEvent};
use futures::Stream;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

use super::{APPENDED_CHANNEL, read_all};
use crate::port::StoreError;

const PAGE_SIZE: usize = 1_000;

/// While LISTEN works, appends announce themselves; the log is re-read this
/// often anyway, in case a notification was lost without the connection
/// dropping.
const SAFETY_REREAD: Duration = Duration::from_secs(10);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

pub(crate) struct CatchUp {
    pool: PgPool,
    last: GlobalPosition,
    buffered: VecDeque<RecordedEvent>,
    listener: Option<PgListener>,
    poll_interval: Duration,
}

impl CatchUp {
    pub(crate) fn new(pool: PgPool, after: GlobalPosition, poll_interval: Duration) -> Self {
        Self {
            pool,
            last: after,
            buffered: VecDeque::new(),
            listener: None,
            poll_interval,
        }
    }

    pub(crate) fn into_stream(
        self,
    ) -> impl Stream<Item = Result<RecordedEvent, StoreError>> + Send + 'static {
        futures::stream::try_unfold(self, |mut catch_up| async move {
            let event = catch_up.next().await?;
            Ok(Some((event, catch_up)))
        })
    }

    async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        let mut retry_delay = self.poll_interval;
        loop {
            if let Some(event) = self.buffered.pop_front() {
                // Positions are gap-free by construction; a jump means a row
                // was written around the store, and following it would
                // silently skip history.
                if event.global_position != self.last.next() {
                    return Err(StoreError::Inconsistent {
                        position: event.global_position,
                        problem: format!(
                            "the log jumps from position {} to {}",
                            self.last, event.global_position
                        ),
                    });
                }
                self.last = event.global_position;
                return Ok(event);
            }
            match read_all(&self.pool, self.last, PAGE_SIZE).await {
                Ok(page) if page.is_empty() => self.wait_for_append().await,
                Ok(page) => self.buffered.extend(page),
                Err(err @ StoreError::Unavailable { .. }) => {
                    tracing::warn!(error = %err, after = %self.last, "subscription cannot read the log; retrying");
                    tokio::time::sleep(retry_delay).await;
                    retry_delay = (retry_delay * 2).min(MAX_RETRY_DELAY);
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Returns when an append may have happened: on a notification, at once
    /// when the listener was just (re)connected (appends committed before
    /// LISTEN are not notified), after the poll interval when LISTEN is not
    /// available, and after [`SAFETY_REREAD`] in any case.
    async fn wait_for_append(&mut self) {
        let Some(listener) = self.listener.as_mut() else {
            match listen(&self.pool).await {
                Ok(listener) => self.listener = Some(listener),
                Err(err) => {
                    tracing::warn!(error = %err, "subscription cannot LISTEN; polling instead");
                    tokio::time::sleep(self.poll_interval).await;
                }
            }
            return;
        };
        let connected = tokio::select! {
            received = listener.try_recv() => match received {
                Ok(Some(_)) => {
                    while listener.next_buffered().is_some() {}
                    true
                }
                Ok(None) | Err(_) => false,
            },
            _ = tokio::time::sleep(SAFETY_REREAD.max(self.poll_interval)) => true,
        };
        if !connected {
            // The connection dropped: reconnect, and re-read, next time.
            self.listener = None;
        }
    }
}

/// A listener on a connection of its own: a listener holds its connection
/// for as long as it lives, and must not take one from the pool that appends
/// and reads share (N subscriptions would starve it).
async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen(APPENDED_CHANNEL).await?;
    Ok(listener)
}
