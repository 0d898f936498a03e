//! The Polling SRV Records for mongos Discovery spec, pure: what a rescan's answer does to
//! the topology ([`Topology::apply_srv_records`]) and when the next rescan is due
//! ([`rescan_interval`]). The engine performs the DNS lookups and keeps the clock.
//!
//! A child module of `machine` so it can edit the topology's servers and pools like the
//! other inputs do; the seed-list rules it shares with initial discovery are in
//! [`crate::options::srv`].

use std::collections::BTreeSet;
use std::time::Duration;

use super::Topology;
use crate::address::ServerAddress;
use crate::options::srv::{check_target, fisher_yates, SrvRecord};
use crate::sdam::departures::RemovalReason;
use crate::sdam::events::Changes;
use crate::sdam::topology::TopologyType;
use crate::time::MonotonicTime;

/// The shortest rescan interval when the records have a TTL, and the interval when they
/// have none (spec, "Implementation": "MUST NOT be lower than 60 seconds").
pub const MIN_RESCAN_INTERVAL: Duration = Duration::from_secs(60);

/// The verified hosts of a rescan's SRV records (spec, "Implementation"): a record whose
/// target fails the parent-domain rule or is malformed is left out and logged, never an
/// error. Duplicates are dropped.
pub fn polled_hosts(hostname: &str, records: &[SrvRecord]) -> Vec<ServerAddress> {
    let mut hosts = Vec::with_capacity(records.len());
    for record in records {
        match check_target(hostname, record) {
            Ok(address) if !hosts.contains(&address) => hosts.push(address),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "SRV polling: ignoring a record"),
        }
    }
    hosts
}

/// When the next rescan is due, counted from the end of the last one: after a rescan with
/// at least one verified host, the lowest TTL of its records but at least
/// [`MIN_RESCAN_INTERVAL`] (exactly that when no TTL is known); after a failed rescan (a
/// DNS error, no record, no verified host), `heartbeat_frequency` until a good one.
pub fn rescan_interval(
    last_rescan_succeeded: bool,
    records: &[SrvRecord],
    heartbeat_frequency: Duration,
) -> Duration {
    if !last_rescan_succeeded {
        return heartbeat_frequency;
    }
    records
        .iter()
        .filter_map(|record| record.ttl)
        .min()
        .map_or(MIN_RESCAN_INTERVAL, |ttl| ttl.max(MIN_RESCAN_INTERVAL))
}

impl Topology {
    /// Applies the verified hosts of an SRV rescan (see [`polled_hosts`]), per the Polling
    /// SRV Records spec: only while the topology is Sharded or Unknown; an empty list
    /// changes nothing (the last good list stays); servers not in `hosts` are removed,
    /// servers still listed are left untouched, and new hosts are added as Unknown: all of
    /// them when `srv_max_hosts` is zero or at least `hosts.len()`, otherwise chosen at
    /// random (Fisher-Yates, as for the initial seeds, `random_below(n)` giving an index in
    /// `0..n`) until the topology has `srv_max_hosts` servers. A removed server's departure
    /// ([`RemovalReason::NotInSrvRecords`]) is recorded at `now`.
    pub fn apply_srv_records(
        &mut self,
        hosts: &[ServerAddress],
        srv_max_hosts: u32,
        random_below: &mut dyn FnMut(usize) -> usize,
        now: MonotonicTime,
    ) -> Changes {
        let pollable = matches!(
            self.description.topology_type,
            TopologyType::Sharded | TopologyType::Unknown
        );
        if self.closed || !pollable || self.settings.load_balanced || hosts.is_empty() {
            return self.changes(Vec::new());
        }
        let wanted: BTreeSet<&ServerAddress> = hosts.iter().collect();
        let kept = self
            .description
            .servers
            .keys()
            .filter(|address| wanted.contains(address))
            .count();
        let mut new: Vec<ServerAddress> = hosts
            .iter()
            .filter(|address| !self.description.servers.contains_key(*address))
            .cloned()
            .collect();
        let max = usize::try_from(srv_max_hosts).unwrap_or(usize::MAX);
        if max != 0 && max < hosts.len() {
            fisher_yates(&mut new, random_below);
            new.truncate(max.saturating_sub(kept));
        }
        let removes_some = kept < self.description.servers.len();
        if new.is_empty() && !removes_some {
            return self.changes(Vec::new());
        }
        let mut next = self.working_copy();
        let removed: Vec<ServerAddress> = next
            .servers
            .keys()
            .filter(|address| !wanted.contains(address))
            .cloned()
            .collect();
        for address in removed {
            next.servers.remove(&address);
            next.record_departure(address, RemovalReason::NotInSrvRecords, now);
        }
        self.pools.retain(|address, _| wanted.contains(address));
        self.insert_unknown_servers(&mut next, new);
        let actions = self.publish(next, None, None);
        self.changes(actions)
    }
}

#[cfg(test)]
mod tests;
