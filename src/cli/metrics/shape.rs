//! What of a topology description the series' labels and set of series depend on: when
//! a description change leaves it as it was (a new `lastWriteDate`, an RTT, an election
//! id), the series only need their values refreshed, not rebuilt.

use mongo_topology::sdam::{ServerType, TopologyDescription, TopologyType};
use mongo_topology::ServerAddress;

/// The set name, the topology type, and per server its type and whether it has an RTT.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Shape {
    set: Option<String>,
    topology_type: TopologyType,
    servers: Vec<(ServerAddress, ServerType, bool)>,
}

impl Shape {
    /// The shape of `topology`.
    pub(super) fn of(topology: &TopologyDescription) -> Shape {
        Shape {
            set: topology.set_name.clone(),
            topology_type: topology.topology_type,
            servers: topology
                .servers
                .iter()
                .map(|(address, server)| {
                    (
                        address.clone(),
                        server.server_type,
                        server.round_trip_time.is_some(),
                    )
                })
                .collect(),
        }
    }
}
