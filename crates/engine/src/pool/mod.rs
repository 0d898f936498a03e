//! Per-server connection pools, per the Connection Monitoring and Pooling (CMAP) spec.
//!
//! - The pool's rules live in the pure core
//!   ([`mongo_topology_core::cmap`]): [`PoolMachine`], its [`PoolAction`]s, [`PoolOptions`]
//!   and the [`CmapEvent`]s.
//! - [`Pool`]: the async pool the engine uses, a thin tokio wrapper that carries out the
//!   machine's actions with real connections (connect + handshake), a background task that
//!   wakes at the machine's deadlines (wait queue timeouts, idle expiry, the background run a
//!   clear schedules) and for minPoolSize, and [`PooledConnection`]s that check themselves
//!   back in when dropped.

mod background;
mod error;
mod factory;
mod live;
mod shared;

pub(crate) use error::BackgroundFailure;
pub use error::PoolError;
pub(crate) use factory::{ConnectionFactory, HandshakeFactory};
pub(crate) use live::Pool;
pub(crate) use mongo_topology_core::cmap::{
    CheckOutError, CmapEvent, ConnectionId, PoolAction, PoolMachine, PoolOptions, PoolOptionsError,
    PoolState, UnknownConnection, WaiterId,
};
pub(crate) use shared::PooledConnection;

#[cfg(test)]
mod tests;
