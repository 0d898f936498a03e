//! # mongo-topology
//!
//! A client-side MongoDB topology engine: it discovers the servers of a deployment from a
//! seed list, keeps a live picture of their roles and round-trip times, and selects a server
//! for each operation, following the MongoDB Server Discovery and Monitoring (SDAM), Server
//! Selection, Max Staleness and Connection String specifications.
//!
//! The crate is layered:
//! - the **pure core** (re-exported from `mongo-topology-core`: [`options`], [`sdam`],
//!   [`selection`], [`wire`]) holds every rule; it performs no I/O and reads no clock: time is
//!   passed in as [`MonotonicTime`], so the spec test suites, property tests and the live
//!   engine all run exactly the same rules;
//! - the **live engine** (this crate, on tokio) drives the core: it connects, monitors,
//!   publishes snapshots and answers selections.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use mongo_topology_core::reply::CommandFailure;
pub use mongo_topology_core::{address, options, sdam, selection, time, wire};
pub use mongo_topology_core::{AddressError, MonotonicTime, ServerAddress, DEFAULT_PORT};

pub mod auth;
mod cluster;
mod cluster_task;
mod commands;
pub mod connection;
mod connection_error;
mod error;
pub mod events;
pub mod handshake;
mod logging;
mod monitor;
pub mod pool;
mod publication;
mod reply;
mod resolve;
mod rtt_monitor;
mod selection_wait;
mod server_slots;
pub mod settings;
pub mod srv;
mod srv_poller;
mod stream;
pub mod tls;
mod tls_verify;
mod warm_up;

pub use auth::{AuthError, AuthErrorKind};
pub use cluster::{Cluster, TopologyWatcher};
pub use commands::ServerConnection;
pub use connection::{ConnectOptions, Connection, MAX_HELLO_REPLY_SIZE};
pub use connection_error::ConnectionError;
pub use error::ClusterError;
pub use events::{ClusterEvent, EventKind, EventRecvError, EventSubscriber};
pub use reply::Reply;
pub use selection_wait::SelectedServer;
pub use settings::{ClusterSettings, ClusterSettingsError, ServerMonitoringMode};
pub use tls::{TlsConnector, TlsInfo, TlsSettings, TlsSetupError};
