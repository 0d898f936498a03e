//! [`ClusterError`]: what the live engine's API can fail with.

use std::sync::Arc;
use std::time::Duration;

use crate::options::UriError;
use crate::sdam::TopologyDescription;
use crate::selection::{SelectionError, SelectionExplanation};
use crate::settings::ClusterSettingsError;

/// Why a [`crate::Cluster`] call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The connection string is invalid.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// The settings cannot start a cluster.
    #[error(transparent)]
    Settings(#[from] ClusterSettingsError),
    /// The cluster must be started within a tokio runtime.
    #[error("a Cluster must be started from within a tokio runtime")]
    NoRuntime,
    /// The cluster has been closed.
    #[error("the cluster is closed")]
    Closed,
    /// Selection can never succeed with these criteria in this topology (e.g. an
    /// incompatible server, or maxStalenessSeconds too small): waiting will not help.
    #[error(transparent)]
    Selection(SelectionError),
    /// No server became suitable within serverSelectionTimeoutMS.
    #[error("server selection timed out after {} ms: {explanation}", timeout.as_millis())]
    ServerSelectionTimeout {
        /// serverSelectionTimeoutMS.
        timeout: Duration,
        /// Why each server was not suitable when the time ran out, with each server's last
        /// error and its cause class.
        explanation: Box<SelectionExplanation>,
    },
    /// A [`crate::Cluster::wait_for`] condition did not hold in time.
    #[error("the topology did not reach the awaited state within {} ms", timeout.as_millis())]
    WaitTimedOut {
        /// The time waited.
        timeout: Duration,
        /// The last description seen.
        topology: Arc<TopologyDescription>,
    },
}
