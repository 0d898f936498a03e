//! What a pool reports when a check-out or a background establishment fails.

use crate::connection::error::ConnectionError;
use crate::ServerAddress;

use super::CheckOutError;

/// A connection the pool opened that could not be established, reported to the cluster
/// for SDAM error handling: one opened on its own (minPoolSize, warm-up), or one opened for
/// a check-out, reported before the pool closes it so that a clear it causes comes first
/// (SDAM: the pool is cleared before the connection is closed).
#[derive(Debug)]
pub(crate) struct BackgroundFailure {
    /// The pool's server.
    pub address: ServerAddress,
    /// The pool generation the connection belonged to.
    pub generation: u32,
    /// What went wrong.
    pub error: ConnectionError,
    /// Told once the failure has been applied, when the reporter waits for that.
    pub applied: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Why no connection could be checked out of a server's connection pool (inside
/// [`ClusterError::Pool`](crate::ClusterError::Pool)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The pool refused or timed out the check-out (closed, paused or cleared, waitQueueTimeoutMS).
    #[error("{address}: {error}")]
    CheckOut {
        /// The pool's server.
        address: ServerAddress,
        /// What the pool said.
        error: CheckOutError,
    },
    /// The connection created for this check-out could not be established. The SDAM rules
    /// ("Application Errors", before the handshake completes) decide what this does to the
    /// server and the pool.
    #[error("{address}: cannot establish a connection: {}", .source.describe_for(.address))]
    Establishment {
        /// The pool's server.
        address: ServerAddress,
        /// The pool generation the connection belonged to.
        generation: u32,
        /// What went wrong.
        source: ConnectionError,
    },
}

impl PoolError {
    /// The error labels of this failure: the backpressure labels for an establishment
    /// that failed on a network error or timeout, `RetryableWriteError` for a check-out
    /// refused because the pool was cleared (CMAP: a PoolClearedError is retryable).
    pub fn error_labels(&self) -> Vec<String> {
        match self {
            PoolError::Establishment { source, .. } => source.error_labels(),
            PoolError::CheckOut {
                error: CheckOutError::PoolCleared,
                ..
            } => vec![crate::connection::error::RETRYABLE_WRITE_ERROR.to_owned()],
            PoolError::CheckOut { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_establishment_names_the_server_once() {
        let server = ServerAddress::parse("127.0.0.1:1").unwrap();
        let error = PoolError::Establishment {
            address: server,
            generation: 0,
            source: ConnectionError::Connect {
                address: "127.0.0.1:1".into(),
                cause: "127.0.0.1:1: Connection refused".into(),
            },
        };
        assert_eq!(
            error.to_string(),
            "127.0.0.1:1: cannot establish a connection: cannot connect: Connection refused"
        );
    }
}
