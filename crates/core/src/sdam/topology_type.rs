//! [`TopologyType`]: the kind of deployment, in its own file so that what depends on it
//! (e.g. a removal's reason) does not depend on the whole description.

use std::fmt;

/// The kind of deployment the client believes it is talking to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TopologyType {
    /// One server, connected to directly: every operation goes to it.
    Single,
    /// Not yet known.
    Unknown,
    /// A replica set with no known primary.
    ReplicaSetNoPrimary,
    /// A replica set with a known primary.
    ReplicaSetWithPrimary,
    /// One or more mongos routers.
    Sharded,
    /// A load balancer in front of mongos routers.
    LoadBalanced,
}

impl TopologyType {
    /// The name the SDAM spec (and its test suites) use, e.g. `"ReplicaSetWithPrimary"`.
    pub fn spec_name(self) -> &'static str {
        match self {
            TopologyType::Single => "Single",
            TopologyType::Unknown => "Unknown",
            TopologyType::ReplicaSetNoPrimary => "ReplicaSetNoPrimary",
            TopologyType::ReplicaSetWithPrimary => "ReplicaSetWithPrimary",
            TopologyType::Sharded => "Sharded",
            TopologyType::LoadBalanced => "LoadBalanced",
        }
    }

    /// Parses a spec name as produced by [`TopologyType::spec_name`].
    pub fn from_spec_name(name: &str) -> Option<TopologyType> {
        Some(match name {
            "Single" => TopologyType::Single,
            "Unknown" => TopologyType::Unknown,
            "ReplicaSetNoPrimary" => TopologyType::ReplicaSetNoPrimary,
            "ReplicaSetWithPrimary" => TopologyType::ReplicaSetWithPrimary,
            "Sharded" => TopologyType::Sharded,
            "LoadBalanced" => TopologyType::LoadBalanced,
            _ => return None,
        })
    }
}

impl fmt::Display for TopologyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec_name())
    }
}
