//! Topologies for the snapshot tests, the heartbeat allocation test and the heartbeat bench:
//! `n` mongos routers, every one checked once.

#![allow(dead_code)]

use std::time::Duration;

use bson::{doc, Document};
use mongo_topology_core::sdam::{CheckTiming, Topology, TopologySettings, TopologyType};
use mongo_topology_core::{MonotonicTime, ServerAddress};

/// The address of router `i`.
pub fn router(i: usize) -> ServerAddress {
    ServerAddress::tcp(format!("router{i}.example.com"), 27017)
}

/// A mongos hello reply.
pub fn mongos_reply() -> Document {
    doc! {
        "ok": 1, "isWritablePrimary": true, "msg": "isdbgrid",
        "minWireVersion": 0, "maxWireVersion": 21, "logicalSessionTimeoutMinutes": 30,
    }
}

/// A check of `address` answered by `reply` at `now_ms`, with an average RTT of `rtt_ms`.
pub fn heartbeat(
    topology: &mut Topology,
    address: &ServerAddress,
    reply: &Document,
    now_ms: u64,
    rtt_ms: u64,
) -> mongo_topology_core::sdam::Changes {
    let timing = CheckTiming {
        round_trip_time: Some(Duration::from_millis(rtt_ms)),
        min_round_trip_time: Some(Duration::from_millis(rtt_ms)),
        now: MonotonicTime::from_millis(now_ms),
    };
    topology.apply_hello(address, reply, timing)
}

/// A Sharded topology of `n` routers, each checked once (RTT 10 ms, at t = 1 s).
pub fn sharded(n: usize) -> Topology {
    let settings = TopologySettings::new((0..n).map(router).collect());
    let (mut topology, _opening) = Topology::new(settings, MonotonicTime::ZERO).unwrap();
    let reply = mongos_reply();
    for i in 0..n {
        let _ = heartbeat(&mut topology, &router(i), &reply, 1_000, 10);
    }
    assert_eq!(topology.description().topology_type, TopologyType::Sharded);
    assert_eq!(topology.description().servers.len(), n);
    topology
}
