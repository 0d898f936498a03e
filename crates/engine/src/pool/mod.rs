//! Per-server connection pools, per the Connection Monitoring and Pooling (CMAP) spec.
//!
//! - [`PoolMachine`]: the pool's rules as a pure state machine (no socket, no clock, no
//!   task): inputs with the time passed in, [`PoolAction`]s out. The CMAP spec runner drives
//!   it directly with a fake connection factory.
//! - [`Pool`]: the async pool the engine uses, a thin tokio wrapper that carries out the
//!   machine's actions with real connections (connect + handshake), a background task for
//!   timeouts, idle reaping and minPoolSize, and [`PooledConnection`]s that check themselves
//!   back in when dropped.

mod events;
mod live;
mod machine;
#[cfg(test)]
mod machine_tests;
mod options;

pub use events::{
    CheckOutFailedReason, CmapEvent, CmapEventKind, ConnectionClosedReason, ConnectionId,
};
pub use live::{
    BackgroundFailure, ConnectionFactory, EstablishFuture, HandshakeFactory, Pool, PoolError,
    PooledConnection,
};
pub use machine::{CheckOutError, PoolAction, PoolMachine, PoolState, UnknownConnection, WaiterId};
pub use options::{PoolOptions, PoolOptionsError, DEFAULT_MAX_CONNECTING, DEFAULT_MAX_POOL_SIZE};
