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
//!
//! ## The public API
//!
//! Every public item has one path:
//! - the cluster: [`Cluster`], [`SelectedServer`], [`ServerConnection`], [`TopologyWatcher`],
//!   configured by [`ClusterSettings`] (with [`PoolOptions`], [`TlsSettings`],
//!   [`DnsSettings`], [`SrvSettings`], [`auth::MongoCredential`]) and failing with
//!   [`ClusterError`] (which carries [`PoolError`], [`ConnectionError`], [`DnsError`],
//!   [`CommandFailure`] …);
//! - its events: [`ClusterEvent`] / [`EventKind`] from an [`EventSubscriber`], carrying the
//!   SDAM events of [`sdam`], the CMAP events ([`CmapEvent`], [`CmapEventKind`] …) and the
//!   command monitoring events ([`CommandEvent`], [`CommandStage`]);
//! - a single connection for tools and proxies that talk to one server without a cluster:
//!   [`Connection`] with [`ConnectOptions`] (optionally TLS, via [`TlsConnector`]);
//! - [`resolve_srv`]: the initial DNS seed list discovery of a `mongodb+srv://` string
//!   alone, for tools that show what such a string resolves to;
//! - the pure core's modules, re-exported ([`address`], [`auth`], [`options`], [`sdam`],
//!   [`selection`], [`time`], [`wire`]), and [`bson`].
//!
//! The pool's pure state machine is not part of this crate's API: use
//! `mongo_topology_core::cmap` for it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Internals are `pub(crate)`: a `pub` item must be reachable from the documented public API.
#![warn(unreachable_pub)]

/// The BSON crate the engine's documents are made of (`Cluster::run_command` takes and
/// returns [`bson::Document`]s): re-exported so users need no dependency of their own.
pub use bson;
pub use mongo_topology_core::reply::CommandFailure;
pub use mongo_topology_core::{address, auth, options, recording, sdam, selection, time, wire};
pub use mongo_topology_core::{AddressError, MonotonicTime, ServerAddress, DEFAULT_PORT};

mod bounded_file;
mod cluster;
mod command_events;
mod connection;
mod deadline;
mod error;
mod events;
mod log_json;
mod logging;
pub mod metrics;
mod monitor;
mod pool;
mod recorder;
mod settings;

pub use bounded_file::{read_bounded_text, MAX_FILE_BYTES};
pub use cluster::{Cluster, SelectedServer, ServerConnection, TopologyWatcher};
pub use command_events::{CommandEvent, CommandStage};
pub use connection::dns::{DnsError, DnsSettings, DEFAULT_DNS_TIMEOUT};
pub use connection::tls::{TlsConnector, TlsInfo, TlsSettings, TlsSetupError};
pub use connection::{
    AuthError, AuthErrorKind, ConnectOptions, Connection, ConnectionError, Reply,
    MAX_HELLO_REPLY_SIZE,
};
pub use error::ClusterError;
pub use events::{ClusterEvent, EventKind, EventRecvError, EventSubscriber, HelloReply};
pub use mongo_topology_core::cmap::{
    CheckOutError, CheckOutFailedReason, CmapEvent, CmapEventKind, ConnectionClosedReason,
    ConnectionId, GivenPoolOptions, PoolOptions, PoolOptionsError, DEFAULT_MAX_CONNECTING,
    DEFAULT_MAX_POOL_SIZE,
};
pub use pool::PoolError;
pub use recorder::{
    RecordingError, RecordingSettings, DEFAULT_RECORDING_KEEP_FILES, DEFAULT_RECORDING_MAX_BYTES,
    RECORDING_FORMAT_VERSION,
};
pub use settings::{
    resolve_srv, ClusterSettings, ClusterSettingsError, ServerMonitoringMode, SrvSettings,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_SERVER_SELECTION_TIMEOUT, MIN_HEARTBEAT_FREQUENCY,
};
