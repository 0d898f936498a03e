//! The monitor layer: one monitor per server ("Server Monitoring" spec) checks it with hello
//! over its own connection and reports each outcome to the cluster task; in streaming mode an
//! RTT monitor measures round trips beside it. Both open the same kind of connection
//! (`monitoring_connection.rs`) and share what `shared.rs` holds.

pub(crate) mod handle;
pub(crate) mod monitoring_connection;
pub(crate) mod rtt_monitor;
pub(crate) mod schedule;
pub(crate) mod server_monitor;
pub(crate) mod shared;
pub(crate) mod stream_version;
