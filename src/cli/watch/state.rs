//! [`WatchState`]: everything the interactive view draws — the latest topology, the recent
//! event log and each server's recent round-trip times. The view is a pure function of it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use mongo_topology::sdam::TopologyDescription;
use mongo_topology::ServerAddress;

use super::timeline::Record;

/// How many log records the state keeps.
pub const LOG_KEPT: usize = 500;
/// How many RTT samples per server the state keeps (the sparkline's width at most).
pub const RTT_SAMPLES_KEPT: usize = 120;

/// What the interactive view shows.
#[derive(Clone, Debug)]
pub struct WatchState {
    /// The connection string as shown (its Display hides the password).
    pub uri: String,
    /// The client's latest view.
    pub topology: Arc<TopologyDescription>,
    /// Time since the watch started, at the latest update.
    pub elapsed: Duration,
    /// The most recent records, oldest first.
    pub log: VecDeque<Record>,
    /// Each server's recent average RTT samples in microseconds, oldest first; 0 when
    /// unknown at that sample.
    pub rtt: BTreeMap<ServerAddress, VecDeque<u64>>,
}

impl WatchState {
    /// A state with no events yet.
    pub fn new(uri: String, topology: Arc<TopologyDescription>) -> WatchState {
        WatchState {
            uri,
            topology,
            elapsed: Duration::ZERO,
            log: VecDeque::new(),
            rtt: BTreeMap::new(),
        }
    }

    /// Appends `record` to the log, dropping the oldest beyond [`LOG_KEPT`].
    pub fn push_record(&mut self, record: Record) {
        self.elapsed = self.elapsed.max(record.elapsed);
        self.log.push_back(record);
        while self.log.len() > LOG_KEPT {
            self.log.pop_front();
        }
    }

    /// Takes `topology` as the latest view and appends one RTT sample per server; servers
    /// no longer in the topology lose their history.
    pub fn sample(&mut self, topology: Arc<TopologyDescription>, elapsed: Duration) {
        self.elapsed = self.elapsed.max(elapsed);
        self.rtt
            .retain(|address, _| topology.servers.contains_key(address));
        for (address, server) in &topology.servers {
            let micros = server
                .round_trip_time
                .map_or(0, |rtt| u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX));
            let samples = self.rtt.entry(address.clone()).or_default();
            samples.push_back(micros);
            while samples.len() > RTT_SAMPLES_KEPT {
                samples.pop_front();
            }
        }
        self.topology = topology;
    }
}
