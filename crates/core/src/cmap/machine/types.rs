//! What goes in and out of the [`PoolMachine`](super::PoolMachine): check-out identities,
//! the pool's state, check-out errors and the actions the caller carries out.

use std::time::Duration;

use super::super::events::{CheckOutFailedReason, CmapEvent, ConnectionId};

/// One check-out request, from [`PoolMachine::check_out`](super::PoolMachine::check_out) until it is handed a connection or
/// fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaiterId(pub u64);

/// The state of a pool (CMAP `ConnectionPool.state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolState {
    /// The initial state, and the state after a clear: no check-out, no background fill.
    Paused,
    /// Check-outs are served and minPoolSize is maintained.
    Ready,
    /// For good: check-outs fail, checked-in connections are closed.
    Closed,
}

/// Why a check-out failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckOutError {
    /// CMAP `PoolClosedError`.
    #[error("Attempted to check out a connection from closed connection pool")]
    PoolClosed,
    /// CMAP `PoolClearedError`: the pool is paused, or was cleared while the check-out
    /// waited. Retryable; it must not mark the server Unknown.
    #[error("Connection pool was cleared (paused) before the check-out could complete")]
    PoolCleared,
    /// CMAP `WaitQueueTimeoutError`.
    #[error("Timed out while checking out a connection from connection pool")]
    Timeout,
    /// The connection created for this check-out could not be established (the caller has
    /// the underlying error).
    #[error("The connection created for the check-out could not be established")]
    ConnectionError,
}

impl CheckOutError {
    /// The `reason` of the matching ConnectionCheckOutFailed event.
    pub fn reason(self) -> CheckOutFailedReason {
        match self {
            CheckOutError::PoolClosed => CheckOutFailedReason::PoolClosed,
            CheckOutError::Timeout => CheckOutFailedReason::Timeout,
            CheckOutError::PoolCleared | CheckOutError::ConnectionError => {
                CheckOutFailedReason::ConnectionError
            }
        }
    }
}

/// An input about a connection this pool does not have in the state the input needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("connection {connection} is not {expected} in this pool")]
pub struct UnknownConnection {
    /// The connection named by the input.
    pub connection: ConnectionId,
    /// What it should have been: `"checked out"` or `"pending"`.
    pub expected: &'static str,
}

/// What the caller must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum PoolAction {
    /// Open and establish (connect, handshake, authenticate) a new connection, then report
    /// [`PoolMachine::connection_established`](super::PoolMachine::connection_established)
    /// or [`PoolMachine::connection_failed`](super::PoolMachine::connection_failed).
    Establish {
        /// The new connection.
        connection: ConnectionId,
        /// The pool generation it belongs to.
        generation: u32,
    },
    /// Give `connection` to the check-out `waiter`: it is now in use.
    HandOut {
        /// The check-out.
        waiter: WaiterId,
        /// The connection.
        connection: ConnectionId,
        /// The pool generation the connection belongs to.
        generation: u32,
    },
    /// Fail the check-out `waiter`.
    FailCheckOut {
        /// The check-out.
        waiter: WaiterId,
        /// Why.
        error: CheckOutError,
    },
    /// Drop the connection's socket; it has left the pool.
    CloseConnection(ConnectionId),
    /// Cancel whatever the in-use connection is doing (clear with interruptInUseConnections);
    /// the pool's next background run closes it (ConnectionClosed `stale`), and its socket
    /// is dropped when its holder checks it in ([`PoolAction::CloseConnection`] then).
    Interrupt(ConnectionId),
    /// Publish a CMAP event.
    Emit(CmapEvent),
}

/// When a pool's background runs happen. CMAP leaves the interval between runs to the
/// driver; its test format sets it with `backgroundThreadIntervalMS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackgroundRuns {
    /// Whenever there is work: minPoolSize is filled as soon as the pool can (with the
    /// input that made room), an idle connection is closed when its maxIdleTimeMS expires,
    /// and stale connections right after a clear. The live pool's schedule.
    #[default]
    WhenDue,
    /// A run `interval` after the end of the previous one (the first at time zero), and
    /// one at once after a clear.
    Every(Duration),
    /// Never (the test format's negative `backgroundThreadIntervalMS`): perished
    /// connections are closed only when a check-out or a check-in meets them, and
    /// minPoolSize is not kept.
    Never,
}

/// The error for a connection the pool does not hold in the expected state.
pub(super) fn not(connection: ConnectionId, expected: &'static str) -> UnknownConnection {
    UnknownConnection {
        connection,
        expected,
    }
}
