//! The replica set fixture shared by the selection benchmark and the no-allocation test,
//! so both measure the same topology. (Included with `#[path]` by `benches/selection.rs`.)

use std::sync::Arc;
use std::time::Duration;

use mongo_topology_core::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
use mongo_topology_core::selection::TagSet;
use mongo_topology_core::{MonotonicTime, ServerAddress};

/// The tags of a member in data centre `dc` (every member is in rack r1).
pub fn tags(dc: &str) -> TagSet {
    [
        ("dc".to_string(), dc.to_string()),
        ("rack".to_string(), "r1".to_string()),
    ]
    .into_iter()
    .collect()
}

/// The address of member `i` of [`replica_set`].
pub fn member(i: usize) -> ServerAddress {
    ServerAddress::tcp(format!("member{i}.example.net"), 27017)
}

/// A replica set: member 0 is the primary, the others secondaries spread over three data
/// centres, RTTs from 2 to 31 ms, lastWriteDates up to a few seconds behind.
pub fn replica_set(members: usize) -> TopologyDescription {
    let mut topology =
        TopologyDescription::with_seeds(TopologyType::ReplicaSetWithPrimary, None, []);
    for i in 0..members {
        let server = ServerDescription {
            server_type: if i == 0 {
                ServerType::RsPrimary
            } else {
                ServerType::RsSecondary
            },
            round_trip_time: Some(Duration::from_millis(2 + (i as u64 * 7) % 30)),
            tags: tags(["ny", "sf", "tokyo"][i % 3]),
            last_update_time: Some(MonotonicTime::from_millis(1_000_000)),
            last_write_date: Some(bson::DateTime::from_millis(1_000_000 - (i as i64) * 100)),
            ..ServerDescription::unknown(member(i))
        };
        topology.servers.insert(member(i), Arc::new(server));
    }
    topology
}
