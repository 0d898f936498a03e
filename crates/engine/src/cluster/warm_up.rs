//! Carrying out the core's warm-up decisions ([`crate::sdam::warm_up`]): establishing one
//! pool connection while the server's monitor runs its first check, and offering it to the
//! pool, which takes it once ready.

use std::sync::{Arc, Weak};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::address::ServerAddress;
use crate::cluster::publication::ServerRuntime;
use crate::pool::{BackgroundFailure, ConnectionFactory};

/// Aborts a task when dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(Option<JoinHandle<()>>);

impl AbortOnDrop {
    /// Takes charge of `task`.
    pub(crate) fn new(task: JoinHandle<()>) -> Self {
        AbortOnDrop(Some(task))
    }

    /// Aborts the task and waits until it has stopped, its sockets closed.
    pub(crate) async fn stop(mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            // A cancelled task's error is the expected outcome.
            let _ = task.await;
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// Starts the warm-up of `address`: its runtime says a warm-up connection is on its way
/// (so that the first check-out may wait for it), and the task is aborted with the
/// returned handle.
pub(crate) fn spawn_warm_up(
    address: &ServerAddress,
    runtime: &Arc<ServerRuntime>,
    factory: Arc<dyn ConnectionFactory>,
    failures: mpsc::UnboundedSender<BackgroundFailure>,
) -> AbortOnDrop {
    runtime.warming.send_replace(true);
    AbortOnDrop::new(tokio::spawn(warm_up(
        address.clone(),
        factory,
        Arc::downgrade(runtime),
        failures,
    )))
}

/// The warm-up of one server (see [`crate::ClusterSettings::warm_up`]): establish a pool
/// connection while the monitor runs its first check, then offer it to the pool, which takes
/// it once ready. Failures are the monitor's to report; the warm-up just gives up.
async fn warm_up(
    address: ServerAddress,
    factory: Arc<dyn ConnectionFactory>,
    runtime: Weak<ServerRuntime>,
    failures: mpsc::UnboundedSender<BackgroundFailure>,
) {
    let Some(generation) = runtime.upgrade().map(|runtime| runtime.pool.generation()) else {
        return;
    };
    match factory.establish(&address).await {
        Ok(connection) => {
            if let Some(runtime) = runtime.upgrade() {
                runtime.offer_warm(Some(connection));
            }
        }
        Err(error) => {
            if let Some(runtime) = runtime.upgrade() {
                runtime.warming.send_replace(false);
            }
            tracing::debug!(%address, %error, "warm-up connection failed");
            // E.g. an authentication failure: SDAM marks the server Unknown and clears its
            // pool, as for any pool connection (a network error here changes nothing).
            let _ = failures.send(BackgroundFailure {
                address,
                generation,
                error,
                applied: None,
            });
        }
    }
}
