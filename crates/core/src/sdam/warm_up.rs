//! The warm-up policy: which servers get one pool connection established early, while
//! their monitor runs its first check, and when. The engine only carries the decisions out
//! (it opens the connection, offers it to the pool once ready, drops it when told).
//!
//! - **Early**, as the server's monitor starts: the seeds, every server outside a replica
//!   set, and a member a reply names as primary — the servers a first operation is likely
//!   to need. The other members of a replica set get theirs later or not at all, so that
//!   their handshakes do not compete with the discovery checks.
//! - **Late**, after a check shows the server bears data: only when the default read
//!   preference may read from secondaries (with `primary`, operations go to the primary and
//!   late handshakes would only compete with the first operations).
//! - **Discard**: a server known not to bear data (an arbiter, a hidden member, ...) gets
//!   no pool connection: a warm-up connection waiting for it is dropped.
//! - At most [`WARM_UP_LIMIT`] servers per cluster, so a deployment of many mongos does
//!   not open a connection to each of them; at most one warm-up per server.

use crate::address::ServerAddress;
use crate::sdam::server::ServerType;
use crate::sdam::topology::{TopologyDescription, TopologyType};

/// How many servers of one cluster get a warm-up connection at most.
pub const WARM_UP_LIMIT: usize = 50;

/// What to do about a server's warm-up connection after one of its checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WarmUpAfterCheck {
    /// Nothing.
    Nothing,
    /// Start its warm-up now (the late warm-up of a data-bearing server).
    Start,
    /// Drop a warm-up connection waiting for its pool: the server bears no data.
    Discard,
}

/// The warm-up policy of one cluster, and how many warm-ups it has started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarmUpPolicy {
    /// Whether warm-up is on (`ClusterSettings::warm_up`).
    enabled: bool,
    /// Whether the default read preference may read from secondaries (any mode but
    /// `primary`).
    reads_secondaries: bool,
    /// How many servers got a warm-up so far.
    started: usize,
}

impl WarmUpPolicy {
    /// A policy with warm-up on or off, for a default read preference that may (or may
    /// not) read from secondaries.
    pub fn new(enabled: bool, reads_secondaries: bool) -> Self {
        WarmUpPolicy {
            enabled,
            reads_secondaries,
            started: 0,
        }
    }

    /// How many warm-ups were started so far.
    pub fn started(&self) -> usize {
        self.started
    }

    /// Whether warm-up is on and [`WARM_UP_LIMIT`] not reached.
    pub fn may_warm_up(&self) -> bool {
        self.enabled && self.started < WARM_UP_LIMIT
    }

    /// Whether the monitored server at `address`, just added to `description`, gets its
    /// warm-up as its monitor starts (the early warm-up); if so, it is counted as started.
    pub fn start_early(
        &mut self,
        description: &TopologyDescription,
        seeds: &[ServerAddress],
        address: &ServerAddress,
    ) -> bool {
        let start = self.may_warm_up() && warms_up_early(description, seeds, address);
        if start {
            self.started += 1;
        }
        start
    }

    /// What to do about the warm-up of the server at `address` after a check produced
    /// `description`; `already_started` when the server has had its warm-up. A started
    /// warm-up is counted.
    pub fn after_check(
        &mut self,
        description: &TopologyDescription,
        address: &ServerAddress,
        already_started: bool,
    ) -> WarmUpAfterCheck {
        let Some(server) = description.server(address) else {
            return WarmUpAfterCheck::Nothing;
        };
        if server.server_type != ServerType::Unknown && !server.is_data_bearing() {
            return WarmUpAfterCheck::Discard;
        }
        if server.is_data_bearing()
            && self.reads_secondaries
            && self.may_warm_up()
            && !already_started
        {
            self.started += 1;
            return WarmUpAfterCheck::Start;
        }
        WarmUpAfterCheck::Nothing
    }
}

/// Whether `address` is one of the servers warmed up as its monitor starts: a seed, any
/// server outside a replica set, or a member some reply names as primary.
pub fn warms_up_early(
    description: &TopologyDescription,
    seeds: &[ServerAddress],
    address: &ServerAddress,
) -> bool {
    let replica_set = matches!(
        description.topology_type,
        TopologyType::ReplicaSetNoPrimary | TopologyType::ReplicaSetWithPrimary
    );
    !replica_set
        || seeds.contains(address)
        || description
            .servers
            .values()
            .any(|server| server.primary.as_ref() == Some(address))
}
