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

/// The BSON crate the engine's documents are made of (`Cluster::run_command` takes and
/// returns [`bson::Document`]s): re-exported so users need no dependency of their own.
pub use bson;
pub use mongo_topology_core::reply::CommandFailure;
pub use mongo_topology_core::{address, options, sdam, selection, time, wire};
pub use mongo_topology_core::{AddressError, MonotonicTime, ServerAddress, DEFAULT_PORT};

mod cluster;
pub mod connection;
mod error;
pub mod events;
mod logging;
mod monitor;
pub mod pool;
pub mod settings;

pub use connection::{auth, handshake, tls};

/// `mongodb+srv://` in the live engine: the DNS lookups (SRV and TXT, with
/// `hickory-resolver`) that the pure rules of [`options::srv`] need, and the settings that
/// say where to send them ([`DnsSettings`](srv::DnsSettings)).
pub mod srv {
    pub use crate::connection::dns::{DnsError, DnsSettings, SrvResolver, DEFAULT_DNS_TIMEOUT};
    pub use crate::settings::{resolve_srv, SrvSettings};
}

pub use cluster::{Cluster, SelectedServer, ServerConnection, TopologyWatcher};
pub use connection::{
    AuthError, AuthErrorKind, ConnectOptions, Connection, ConnectionError, Reply,
    MAX_HELLO_REPLY_SIZE,
};
pub use error::ClusterError;
pub use events::{ClusterEvent, EventKind, EventRecvError, EventSubscriber};
pub use settings::{ClusterSettings, ClusterSettingsError, ServerMonitoringMode};
pub use tls::{TlsConnector, TlsInfo, TlsSettings, TlsSetupError};
