//! [`ClusterError`]: what the live engine's API can fail with.

use std::sync::Arc;
use std::time::Duration;

use crate::address::ServerAddress;
use crate::connection::error::ConnectionError;
use crate::options::UriError;
use crate::pool::PoolError;
use crate::sdam::TopologyDescription;
use crate::selection::{SelectionError, SelectionExplanation};
use crate::settings::cluster_settings::ClusterSettingsError;
use mongo_topology_core::reply::CommandFailure;

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
    /// A DNS lookup for a `mongodb+srv` string failed (timeout, name server error).
    #[error(transparent)]
    Dns(#[from] crate::connection::dns::DnsError),
    /// The DNS answers for a `mongodb+srv` string break the Initial DNS Seedlist Discovery
    /// rules (no SRV record, a target outside the parent domain, a bad TXT record).
    #[error(transparent)]
    Srv(#[from] crate::options::srv::SrvError),
    /// The recording asked for could not start (its file cannot be written).
    #[error(transparent)]
    Recording(#[from] crate::recorder::RecordingError),
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
    /// The server answered the command with `ok: 0`.
    #[error("{address}: command failed: {failure}")]
    Command {
        /// The server that answered.
        address: ServerAddress,
        /// The server's code, codeName, message and `errorLabels` (e.g.
        /// `RetryableWriteError`); boxed to keep the error small.
        failure: Box<CommandFailure>,
    },
    /// The command's connection failed (network error, timeout, malformed reply); the
    /// connection was discarded and the error reported to SDAM.
    #[error("{address}: {}", .source.describe_for(.address))]
    Connection {
        /// The server the connection was to.
        address: ServerAddress,
        /// What failed.
        source: ConnectionError,
    },
    /// No connection could be checked out of the server's pool (cleared, closed, timed out
    /// in the wait queue, or the new connection could not be established or authenticated).
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The command is larger than the server's maxBsonObjectSize, or its message larger
    /// than maxMessageSizeBytes.
    #[error("the command is {size} bytes, more than the server allows ({max})")]
    CommandTooLarge {
        /// The command's size.
        size: i64,
        /// maxBsonObjectSize.
        max: i64,
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

impl ClusterError {
    /// The error labels of this failure, as drivers expose them: a failed command's labels
    /// (`RetryableWriteError`, `SystemOverloadedError` …), `SystemOverloadedError` and
    /// `RetryableError` for a connection the pool could not establish because of a
    /// network error or timeout (CMAP backpressure), `RetryableWriteError` for a check-out
    /// refused because the pool was cleared; none for other failures.
    pub fn error_labels(&self) -> Vec<String> {
        match self {
            ClusterError::Command { failure, .. } => failure.labels.clone(),
            ClusterError::Pool(error) => error.error_labels(),
            _ => Vec::new(),
        }
    }

    /// Whether [`ClusterError::error_labels`] holds `label`.
    pub fn has_label(&self, label: &str) -> bool {
        self.error_labels().iter().any(|l| l == label)
    }
}
