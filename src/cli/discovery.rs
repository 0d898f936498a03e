//! What one discovery saw: the data `discover` collects and `render` prints.

use std::sync::Arc;
use std::time::Duration;

use mongo_topology::options::srv::SrvRecord;
use mongo_topology::options::ConnectionString;
use mongo_topology::sdam::TopologyDescription;
use mongo_topology::selection::{explain_selection, SelectionCriteria};
use mongo_topology::ClusterSettings;

use super::tls_state::TlsStates;

/// What one discovery saw.
pub struct Discovery {
    /// The parsed connection string; its Display hides the password.
    pub uri: ConnectionString,
    /// The settings the cluster ran with.
    pub settings: ClusterSettings,
    /// The description when discovery ended.
    pub topology: Arc<TopologyDescription>,
    /// Time from start until every server was checked (or the timeout).
    pub elapsed: Duration,
    /// Whether every known server was checked before the timeout.
    pub complete: bool,
    /// Each server's TLS state (empty without TLS).
    pub tls: TlsStates,
    /// The SRV records of a `mongodb+srv` string (empty otherwise).
    pub srv_records: Vec<SrvRecord>,
}

impl Discovery {
    /// Whether a write could be sent now: some server is selectable for writes.
    pub fn has_writable_server(&self) -> bool {
        explain_selection(
            &self.topology,
            &SelectionCriteria::write(),
            &self.settings.selection(),
            &[],
        )
        .has_selectable_server()
    }
}
