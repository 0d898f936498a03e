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
use crate::time::MonotonicTime;

impl Topology {
    /// Sets the least time between two re-seeds (the engine passes heartbeatFrequencyMS;
    /// [`DEFAULT_RESEED_INTERVAL`](super::DEFAULT_RESEED_INTERVAL) otherwise).
    pub fn set_reseed_interval(&mut self, interval: Duration) {
        self.dynamic_seeds.set_interval(interval);
    }

    /// The last complete member list seen (see the module documentation), built at each
    /// call: O(members).
    pub fn last_complete_members(&self) -> Vec<ServerAddress> {
        self.dynamic_seeds.last_complete_members()
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
            self.dynamic_seeds
                .remember(&self.description, &self.derived);
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
