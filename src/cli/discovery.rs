//! What one discovery saw: the data `discover` collects and `render` prints.

use std::sync::Arc;
use std::time::Duration;

use mongo_topology::options::srv::SrvRecord;
use mongo_topology::options::ConnectionString;
use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::{ClusterSettings, ServerAddress};

use super::proof::{Intent, Verdict};
use super::same_server::SameServer;
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
    /// The proven verdicts, read then write (see [`super::proof`]).
    pub verdicts: Vec<Verdict>,
    /// Removed seeds that were a member under another name.
    pub same_server: Vec<SameServer>,
}

impl Discovery {
    /// Whether a write was proven to work: a pool connection, `ping`, and a server that
    /// reports itself writable.
    pub fn has_writable_server(&self) -> bool {
        self.verdicts
            .iter()
            .any(|verdict| matches!(verdict.intent, Intent::Write) && verdict.passed)
    }

    /// The servers whose first check had not ended when discovery stopped (Unknown or
    /// PossiblePrimary, without an error), in address order.
    pub fn unchecked_servers(&self) -> Vec<&ServerAddress> {
        self.topology
            .servers
            .values()
            .filter(|server| {
                matches!(
                    server.server_type,
                    ServerType::Unknown | ServerType::PossiblePrimary
                ) && server.error.is_none()
            })
            .map(|server| &server.address)
            .collect()
    }

    /// `timed out after N ms with servers not yet checked: A, B` (each server still Unknown
    /// without an error: its first check had not ended).
    pub fn timed_out_text(&self) -> String {
        let unchecked: Vec<String> = self
            .unchecked_servers()
            .iter()
            .map(ToString::to_string)
            .collect();
        format!(
            "timed out after {} ms with servers not yet checked: {}",
            self.elapsed.as_millis(),
            if unchecked.is_empty() {
                "none left".to_string()
            } else {
                unchecked.join(", ")
            }
        )
    }

    /// Whether every verdict (read and write) was proven.
    pub fn all_proven(&self) -> bool {
        !self.verdicts.is_empty() && self.verdicts.iter().all(|verdict| verdict.passed)
    }
}
