//! Server selection on the live topology (Server Selection spec, "Multi-threaded or
//! asynchronous server selection"): pure selection on the current snapshot; while nothing
//! suits, request checks and wait for the next snapshot (or minHeartbeatFrequencyMS, then
//! request again), until serverSelectionTimeoutMS.
//! The server-by-server explanation is built once, when the wait fails.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::time::Instant;

use crate::address::ServerAddress;
use crate::cluster::handle::Cluster;
use crate::cluster::publication::{ServerRuntime, Snapshot};
use crate::deadline::deadline_after;
use crate::error::ClusterError;
use crate::sdam::{ServerDescription, TopologyDescription};
use crate::selection::{try_select_server, SelectionCriteria, SelectionSettings};

/// A server chosen by [`Cluster::select_server`]. While it is alive it counts as one
/// operation in progress on that server, which steers the power of two choices of later
/// selections towards less busy servers; drop it when the operation ends.
#[derive(Debug)]
pub struct SelectedServer {
    server: Arc<ServerDescription>,
    topology: Arc<TopologyDescription>,
    runtime: Option<Arc<ServerRuntime>>,
}

impl SelectedServer {
    /// The chosen server's address.
    pub fn address(&self) -> &ServerAddress {
        &self.server.address
    }

    /// The chosen server's description at the time of selection.
    pub fn description(&self) -> &Arc<ServerDescription> {
        &self.server
    }

    /// The topology description selection chose from.
    pub fn topology(&self) -> &Arc<TopologyDescription> {
        &self.topology
    }

    /// The server's connection pool, while the server is in the topology.
    pub(crate) fn pool(&self) -> Option<&crate::pool::Pool> {
        self.runtime.as_ref().map(|runtime| &runtime.pool)
    }

    /// The server's runtime (pool, counters, warm-up), while it is in the topology.
    pub(crate) fn runtime(&self) -> Option<&Arc<ServerRuntime>> {
        self.runtime.as_ref()
    }

    /// How many operations are in progress on this server now, this one included.
    pub fn operations_in_progress(&self) -> u64 {
        self.runtime
            .as_ref()
            .map_or(0, |runtime| runtime.in_flight.load(Ordering::Relaxed))
    }
}

impl Drop for SelectedServer {
    fn drop(&mut self) {
        if let Some(runtime) = &self.runtime {
            runtime.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Cluster {
    /// Selects a server for `criteria`, waiting up to serverSelectionTimeoutMS for one to
    /// become suitable. On timeout the error explains, server by server, why none was.
    pub async fn select_server(
        &self,
        criteria: &SelectionCriteria,
    ) -> Result<SelectedServer, ClusterError> {
        self.select_server_with_deprioritized(criteria, &[]).await
    }

    /// [`Cluster::select_server`] for a retry: servers in `deprioritized` (where the
    /// operation already failed) are chosen only if no other server is suitable.
    pub async fn select_server_with_deprioritized(
        &self,
        criteria: &SelectionCriteria,
        deprioritized: &[ServerAddress],
    ) -> Result<SelectedServer, ClusterError> {
        let selected = self.select_or_wait(criteria, deprioritized).await;
        if let Err(error) = &selected {
            crate::metrics::selection_failed(error);
        }
        selected
    }

    async fn select_or_wait(
        &self,
        criteria: &SelectionCriteria,
        deprioritized: &[ServerAddress],
    ) -> Result<SelectedServer, ClusterError> {
        let settings = self.settings().selection();
        // The common case: a suitable server in the current snapshot, read without a lock.
        let snapshot = self.topology_snapshot();
        match attempt(&snapshot, criteria, &settings, deprioritized) {
            Attempt::Done(outcome) => return outcome,
            Attempt::Wait => {}
        }
        let timeout = self.settings().server_selection_timeout;
        let deadline = deadline_after(Instant::now(), timeout);
        let mut subscription = self.subscription();
        loop {
            // Marked seen before the attempt, so that a change during it wakes the wait.
            let snapshot = subscription.latest_seen();
            match attempt(&snapshot, criteria, &settings, deprioritized) {
                Attempt::Done(outcome) => return outcome,
                Attempt::Wait => {}
            }
            // Like PyMongo's selection loop: wake at least every minHeartbeatFrequencyMS to
            // request checks again, so that monitors whose checks keep failing the same way
            // (which publishes nothing new) are still asked to retry.
            self.request_check();
            let wake = deadline.min(deadline_after(
                Instant::now(),
                self.settings().min_heartbeat_frequency,
            ));
            match tokio::time::timeout_at(wake, subscription.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(ClusterError::Closed),
                Err(_) if Instant::now() < deadline => {}
                Err(_) => {
                    let description = subscription.latest().description.clone();
                    let explanation = crate::selection::explain_selection(
                        &description,
                        criteria,
                        &settings,
                        deprioritized,
                    );
                    return Err(ClusterError::ServerSelectionTimeout {
                        timeout,
                        explanation: Box::new(explanation),
                    });
                }
            }
        }
    }
}

/// What one attempt on one snapshot decided.
enum Attempt {
    /// A server, or an error that waiting cannot fix.
    Done(Result<SelectedServer, ClusterError>),
    /// Nothing suits yet: wait for a change.
    Wait,
}

fn attempt(
    snapshot: &Snapshot,
    criteria: &SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &[ServerAddress],
) -> Attempt {
    if snapshot.closed {
        return Attempt::Done(Err(ClusterError::Closed));
    }
    match select_in(snapshot, criteria, settings, deprioritized) {
        Ok(selected) => Attempt::Done(Ok(selected)),
        Err(failure) if failure.may_succeed_later() => Attempt::Wait,
        Err(failure) => {
            let error = failure.explain(&snapshot.description, criteria, settings, deprioritized);
            Attempt::Done(Err(ClusterError::Selection(error)))
        }
    }
}

/// One selection attempt on one snapshot; on success the server's in-flight count is raised.
fn select_in(
    snapshot: &Snapshot,
    criteria: &SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &[ServerAddress],
) -> Result<SelectedServer, crate::selection::SelectionFailure> {
    let runtimes = &snapshot.servers;
    let operations = |server: &ServerDescription| {
        runtimes
            .get(&server.address)
            .map_or(0, |runtime| runtime.in_flight.load(Ordering::Relaxed))
    };
    let chosen = try_select_server(
        &snapshot.description,
        criteria,
        settings,
        deprioritized,
        &mut rand::rng(),
        operations,
    )?;
    let server = snapshot
        .description
        .servers
        .get(&chosen.address)
        .cloned()
        .unwrap_or_else(|| Arc::new(chosen.clone()));
    let runtime = runtimes.get(&chosen.address).cloned();
    if let Some(runtime) = &runtime {
        runtime.in_flight.fetch_add(1, Ordering::Relaxed);
    }
    Ok(SelectedServer {
        server,
        topology: snapshot.description.clone(),
        runtime,
    })
}
