//! Connection pools, per the Connection Monitoring and Pooling (CMAP) spec, as pure rules.
//!
//! - [`PoolMachine`]: one pool's rules as a state machine (no socket, no clock, no task):
//!   inputs with the time passed in, [`PoolAction`]s out. The CMAP spec runner drives it
//!   with a fake connection factory and a virtual clock; the engine's live pool carries out
//!   its actions with real connections.
//! - [`PoolOptions`]: the pool's options (CMAP "Connection Pool Options"), resolved from a
//!   connection string, with the options the user gave kept for `ConnectionPoolCreated`.
//! - [`CmapEvent`]: the CMAP events with the spec's fields.
//! - [`BackgroundRuns`]: when the pool's background thread runs (closing perished
//!   connections, keeping minPoolSize).

mod events;
mod machine;
mod options;

pub use events::{
    CheckOutFailedReason, CmapEvent, CmapEventKind, ConnectionClosedReason, ConnectionId,
};
pub use machine::{
    BackgroundRuns, CheckOutError, PoolAction, PoolMachine, PoolState, UnknownConnection, WaiterId,
};
pub use options::{
    GivenPoolOptions, PoolOptions, PoolOptionsError, DEFAULT_MAX_CONNECTING, DEFAULT_MAX_POOL_SIZE,
};
