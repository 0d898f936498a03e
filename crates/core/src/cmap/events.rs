//! The CMAP events ("Connection Pool Monitoring", "Events"), with the spec's fields.

use std::fmt;
use std::time::Duration;

use crate::ServerAddress;

use super::options::GivenPoolOptions;

/// A pool's own number for one of its connections: 1 for the first created, then 2, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a connection was closed (`ConnectionClosedEvent.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionClosedReason {
    /// The pool was cleared after the connection was created.
    Stale,
    /// The connection stayed available longer than maxIdleTimeMS.
    Idle,
    /// The connection failed (establishment, or an error while in use).
    Error,
    /// The pool was closed.
    PoolClosed,
}

impl ConnectionClosedReason {
    /// The spec's name: `"stale"`, `"idle"`, `"error"` or `"poolClosed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionClosedReason::Stale => "stale",
            ConnectionClosedReason::Idle => "idle",
            ConnectionClosedReason::Error => "error",
            ConnectionClosedReason::PoolClosed => "poolClosed",
        }
    }
}

/// Why a check-out failed (`ConnectionCheckOutFailedEvent.reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutFailedReason {
    /// The pool is closed.
    PoolClosed,
    /// The check-out waited longer than waitQueueTimeoutMS.
    Timeout,
    /// The pool is paused (cleared), or the new connection could not be established.
    ConnectionError,
}

impl CheckOutFailedReason {
    /// The spec's name: `"poolClosed"`, `"timeout"` or `"connectionError"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutFailedReason::PoolClosed => "poolClosed",
            CheckOutFailedReason::Timeout => "timeout",
            CheckOutFailedReason::ConnectionError => "connectionError",
        }
    }
}

/// One CMAP event of the pool for `address`.
#[derive(Clone, Debug, PartialEq)]
pub struct CmapEvent {
    /// The server the pool connects to.
    pub address: ServerAddress,
    /// What happened.
    pub kind: CmapEventKind,
}

/// What a [`CmapEvent`] reports.
#[derive(Clone, Debug, PartialEq)]
pub enum CmapEventKind {
    /// `PoolCreatedEvent`: the pool exists (paused).
    PoolCreated {
        /// The options the user set, as given (see [`PoolOptions::reported`](super::PoolOptions::reported)).
        options: GivenPoolOptions,
    },
    /// `PoolReadyEvent`: the pool was marked ready.
    PoolReady,
    /// `PoolClearedEvent`: the pool was cleared (and paused), or, in load-balanced mode,
    /// the connections of one service were (the pool stays ready).
    PoolCleared {
        /// Whether in-use connections were interrupted too.
        interrupt_in_use_connections: bool,
        /// The service whose connections were cleared (load-balanced mode only).
        service_id: Option<bson::oid::ObjectId>,
    },
    /// `PoolClosedEvent`.
    PoolClosed,
    /// `ConnectionCreatedEvent`: a connection is pending establishment.
    ConnectionCreated {
        /// The connection.
        connection_id: ConnectionId,
    },
    /// `ConnectionReadyEvent`: a connection finished its handshake.
    ConnectionReady {
        /// The connection.
        connection_id: ConnectionId,
        /// From its ConnectionCreated event to this one.
        duration: Duration,
    },
    /// `ConnectionClosedEvent`: a connection left the pool.
    ConnectionClosed {
        /// The connection.
        connection_id: ConnectionId,
        /// Why.
        reason: ConnectionClosedReason,
    },
    /// `ConnectionCheckOutStartedEvent`.
    ConnectionCheckOutStarted,
    /// `ConnectionCheckOutFailedEvent`.
    ConnectionCheckOutFailed {
        /// Why.
        reason: CheckOutFailedReason,
        /// From the CheckOutStarted event to this one.
        duration: Duration,
    },
    /// `ConnectionCheckedOutEvent`.
    ConnectionCheckedOut {
        /// The connection handed out.
        connection_id: ConnectionId,
        /// From the CheckOutStarted event to this one.
        duration: Duration,
    },
    /// `ConnectionCheckedInEvent`.
    ConnectionCheckedIn {
        /// The connection given back.
        connection_id: ConnectionId,
    },
}

impl CmapEventKind {
    /// The spec's event name as the test files write it, e.g. `"ConnectionPoolCreated"`,
    /// `"ConnectionCheckedOut"`.
    pub fn name(&self) -> &'static str {
        match self {
            CmapEventKind::PoolCreated { .. } => "ConnectionPoolCreated",
            CmapEventKind::PoolReady => "ConnectionPoolReady",
            CmapEventKind::PoolCleared { .. } => "ConnectionPoolCleared",
            CmapEventKind::PoolClosed => "ConnectionPoolClosed",
            CmapEventKind::ConnectionCreated { .. } => "ConnectionCreated",
            CmapEventKind::ConnectionReady { .. } => "ConnectionReady",
            CmapEventKind::ConnectionClosed { .. } => "ConnectionClosed",
            CmapEventKind::ConnectionCheckOutStarted => "ConnectionCheckOutStarted",
            CmapEventKind::ConnectionCheckOutFailed { .. } => "ConnectionCheckOutFailed",
            CmapEventKind::ConnectionCheckedOut { .. } => "ConnectionCheckedOut",
            CmapEventKind::ConnectionCheckedIn { .. } => "ConnectionCheckedIn",
        }
    }

    /// The connection the event is about, if it is about one.
    pub fn connection_id(&self) -> Option<ConnectionId> {
        match self {
            CmapEventKind::ConnectionCreated { connection_id }
            | CmapEventKind::ConnectionReady { connection_id, .. }
            | CmapEventKind::ConnectionClosed { connection_id, .. }
            | CmapEventKind::ConnectionCheckedOut { connection_id, .. }
            | CmapEventKind::ConnectionCheckedIn { connection_id } => Some(*connection_id),
            _ => None,
        }
    }
}
