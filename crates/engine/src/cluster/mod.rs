//! The cluster layer: the handle users hold ([`Cluster`]), the task that owns the topology
//! (receive a report, apply it to the SDAM core, carry out the actions, publish), the
//! published snapshots, server selection waiting, commands, and the SRV poller.

pub(crate) mod commands;
pub(crate) mod handle;
pub(crate) mod publication;
pub(crate) mod selection_wait;
pub(crate) mod server_slots;
pub(crate) mod srv_poller;
pub(crate) mod task;
pub(crate) mod warm_up;

pub use commands::ServerConnection;
pub use handle::{Cluster, TopologyWatcher};
pub use selection_wait::SelectedServer;
