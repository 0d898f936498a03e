//! What mgo's "dynamic seeds" rule remembers: the last complete member list, and when a
//! re-seed is due. A pure leaf: every method takes what it needs as arguments; the
//! topology's side of the rule is in `reseed.rs`.

use std::time::Duration;

use super::derived::DerivedFields;
use crate::address::ServerAddress;
use crate::sdam::topology::{ServerMap, TopologyDescription, TopologyType};
use crate::time::MonotonicTime;

/// The default reseed interval: SDAM's default heartbeatFrequencyMS.
pub const DEFAULT_RESEED_INTERVAL: Duration = Duration::from_secs(10);

/// A complete member list, as it was seen.
#[derive(Clone, Debug, PartialEq)]
enum CompleteMembers {
    /// A primary's hosts, passives and arbiters.
    Listed(Vec<ServerAddress>),
    /// Every server of a sharded topology made only of mongos: the snapshot's map itself
    /// (kept in O(1), its structure shared), read only at a re-seed.
    AllServersOf(ServerMap),
}

impl CompleteMembers {
    fn addresses(&self) -> Vec<ServerAddress> {
        match self {
            CompleteMembers::Listed(members) => members.clone(),
            CompleteMembers::AllServersOf(servers) => servers.keys().cloned().collect(),
        }
    }
}

/// What the re-seed rule remembers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DynamicSeeds {
    /// The last complete member list seen.
    last_complete_members: CompleteMembers,
    /// When the scheduled re-seed is due, if one is.
    due: Option<MonotonicTime>,
    /// When the last re-seed happened.
    last_reseed: Option<MonotonicTime>,
    /// The least time between two re-seeds.
    interval: Duration,
}

impl Default for DynamicSeeds {
    fn default() -> Self {
        DynamicSeeds {
            last_complete_members: CompleteMembers::Listed(Vec::new()),
            due: None,
            last_reseed: None,
            interval: DEFAULT_RESEED_INTERVAL,
        }
    }
}

impl DynamicSeeds {
    /// Sets the least time between two re-seeds.
    pub(crate) fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// The last complete member list seen (built anew at each call: O(members)).
    pub(crate) fn last_complete_members(&self) -> Vec<ServerAddress> {
        self.last_complete_members.addresses()
    }

    /// Remembers `description`'s member list if it is complete: a primary's hosts, passives
    /// and arbiters, or every server of a sharded topology made only of mongos. `derived`
    /// describes `description`'s servers, so neither case walks them: O(reply members), or
    /// O(1) for a sharded topology.
    pub(crate) fn remember(&mut self, description: &TopologyDescription, derived: &DerivedFields) {
        if description.servers.is_empty() {
            return;
        }
        let primary = derived
            .first_primary()
            .and_then(|address| description.servers.get(address));
        if let Some(primary) = primary {
            let members = primary
                .hosts
                .iter()
                .chain(&primary.passives)
                .chain(&primary.arbiters);
            self.last_complete_members = CompleteMembers::Listed(members.cloned().collect());
        } else if description.topology_type == TopologyType::Sharded
            && derived.mongos() == description.servers.len()
        {
            self.last_complete_members = CompleteMembers::AllServersOf(description.servers.clone());
        }
    }

    /// The topology has just lost its last server at `now`: when to re-seed (at once, or
    /// one interval after the last re-seed), unless a re-seed is already scheduled.
    pub(crate) fn schedule(&mut self, now: MonotonicTime) -> Option<MonotonicTime> {
        if self.due.is_some() {
            return None;
        }
        let earliest = self
            .last_reseed
            .map_or(now, |last| last.saturating_add(self.interval));
        let at = earliest.max(now);
        self.due = Some(at);
        Some(at)
    }

    /// At `now`, if the scheduled re-seed is due: the addresses to start again from (the
    /// last complete member list, then each of `seeds` not in it); the re-seed is then done.
    pub(crate) fn take_due(
        &mut self,
        now: MonotonicTime,
        seeds: &[ServerAddress],
    ) -> Option<Vec<ServerAddress>> {
        if self.due.is_none_or(|due| now < due) {
            return None;
        }
        self.due = None;
        self.last_reseed = Some(now);
        let mut addresses = self.last_complete_members.addresses();
        for seed in seeds {
            if !addresses.contains(seed) {
                addresses.push(seed.clone());
            }
        }
        Some(addresses)
    }
}
