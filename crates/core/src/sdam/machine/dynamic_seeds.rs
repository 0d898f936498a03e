//! mgo's "dynamic seeds": the way back when every server has been removed from the
//! topology. The topology remembers its last complete member list — a primary's `hosts`,
//! `passives` and `arbiters` (authoritative per SDAM `updateRSFromPrimary`), or every
//! server of a sharded topology whose servers are all known mongos — and, when the last
//! server is removed, schedules a re-seed from that list plus the original seeds
//! ([`Action::ScheduleReseed`]), at most once per reseed interval (heartbeatFrequencyMS).
//! The engine keeps the clock and calls [`Topology::reseed`] when the time comes.

use std::time::Duration;

use super::Topology;
use crate::address::ServerAddress;
use crate::sdam::events::{Action, Changes};
use crate::sdam::server::ServerType;
use crate::sdam::topology::{TopologyDescription, TopologyType};
use crate::time::MonotonicTime;

/// The default reseed interval: SDAM's default heartbeatFrequencyMS.
pub const DEFAULT_RESEED_INTERVAL: Duration = Duration::from_secs(10);

/// What the re-seed rule remembers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DynamicSeeds {
    /// The last complete member list seen.
    last_complete_members: Vec<ServerAddress>,
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
            last_complete_members: Vec::new(),
            due: None,
            last_reseed: None,
            interval: DEFAULT_RESEED_INTERVAL,
        }
    }
}

impl DynamicSeeds {
    /// Remembers `description`'s member list if it is complete: a primary's hosts, passives
    /// and arbiters, or every server of a sharded topology made only of mongos.
    pub(crate) fn remember(&mut self, description: &TopologyDescription) {
        if description.servers.is_empty() {
            return;
        }
        if let Some(primary) = description.primary() {
            let members = primary
                .hosts
                .iter()
                .chain(&primary.passives)
                .chain(&primary.arbiters);
            self.last_complete_members = members.cloned().collect();
        } else if description.topology_type == TopologyType::Sharded
            && description
                .servers
                .values()
                .all(|server| server.server_type == ServerType::Mongos)
        {
            self.last_complete_members = description.servers.keys().cloned().collect();
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
        let mut addresses = self.last_complete_members.clone();
        for seed in seeds {
            if !addresses.contains(seed) {
                addresses.push(seed.clone());
            }
        }
        Some(addresses)
    }
}

impl Topology {
    /// Sets the least time between two re-seeds (the engine passes heartbeatFrequencyMS;
    /// [`DEFAULT_RESEED_INTERVAL`] otherwise).
    pub fn set_reseed_interval(&mut self, interval: Duration) {
        self.dynamic_seeds.interval = interval;
    }

    /// The last complete member list seen (see the module documentation).
    pub fn last_complete_members(&self) -> &[ServerAddress] {
        &self.dynamic_seeds.last_complete_members
    }

    /// Carries out a re-seed scheduled by [`Action::ScheduleReseed`] once `now` has reached
    /// its time: the last complete member list and the original seeds are added back as
    /// Unknown servers (see [`Topology::add_servers`]). Before that time, or with nothing
    /// scheduled, nothing changes.
    pub fn reseed(&mut self, now: MonotonicTime) -> Changes {
        let Some(addresses) = self.dynamic_seeds.take_due(now, &self.settings.seeds) else {
            return self.changes(Vec::new());
        };
        tracing::warn!(
            target: "mongo_topology::topology",
            count = addresses.len(),
            "every server was removed from the topology: starting again from the last \
             complete member list and the seeds"
        );
        self.add_servers(addresses)
    }

    /// After a new snapshot: remembers a complete member list, and schedules a re-seed when
    /// the last server is gone.
    pub(super) fn follow_membership(&mut self, now: Option<MonotonicTime>) -> Option<Action> {
        if !self.description.servers.is_empty() {
            self.dynamic_seeds.remember(&self.description);
            return None;
        }
        let now = now?;
        if self.closed {
            return None;
        }
        self.dynamic_seeds
            .schedule(now)
            .map(|at| Action::ScheduleReseed { at })
    }
}
