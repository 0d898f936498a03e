//! The live pool's background task: it wakes at the machine's next deadline (a wait queue
//! timeout, an idle expiry, the background run a clear schedules) or when an input wakes it,
//! and ticks the machine.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::deadline::deadline_after;

use super::shared::Shared;

/// The longest the background task of a pool with a minPoolSize sleeps without looking
/// at the pool.
const MAX_BACKGROUND_SLEEP: Duration = Duration::from_secs(1);

/// How long a background run waits for the holders of interrupted connections to check
/// them in before it closes them itself.
const INTERRUPT_GRACE: Duration = Duration::from_millis(200);

/// How often it looks meanwhile.
const INTERRUPT_POLL: Duration = Duration::from_millis(5);

/// The background run: wait queue timeouts, idle and stale reaping, minPoolSize.
pub(super) async fn background(pool: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        let Some(shared) = pool.upgrade() else { return };
        // The operations on connections an interrupting clear interrupted fail at once and
        // check their connections in, which then closes them (CheckedIn, then Closed, the
        // order the drivers' interruptInUse-pool-clear test expects); the run closes only
        // those whose holders have not let go within a short grace.
        let waited = shared.lock().interrupted_and_out();
        if let Some(waited) = waited.filter(|waited| *waited < INTERRUPT_GRACE) {
            drop(shared);
            tokio::time::sleep((INTERRUPT_GRACE - waited).min(INTERRUPT_POLL)).await;
            continue;
        }
        shared.input(|inner, now| inner.machine.tick(now));
        let (deadline, keeps_a_minimum) = {
            let inner = shared.lock();
            let deadline = inner
                .machine
                .next_deadline()
                .map(|deadline| deadline_after(shared.origin, deadline.offset()));
            (deadline, inner.machine.options().min_pool_size > 0)
        };
        // A pool with no deadline and no minimum to keep has nothing to do until an input
        // wakes it: at 1,000 servers, periodic wake-ups would cost CPU for nothing.
        let wake_at = match (deadline, keeps_a_minimum) {
            (Some(deadline), true) => Some(deadline.min(Instant::now() + MAX_BACKGROUND_SLEEP)),
            (Some(deadline), false) => Some(deadline),
            (None, true) => Some(Instant::now() + MAX_BACKGROUND_SLEEP),
            (None, false) => None,
        };
        drop(shared);
        match wake_at {
            Some(wake_at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(wake_at) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}
