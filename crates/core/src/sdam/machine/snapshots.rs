//! The topology's private machinery: building, publishing and refreshing snapshots,
//! replacing a server's description through the transition rules, and the pool
//! generations those steps bump. Every input of [`Topology`] goes through here.

use std::sync::Arc;

use bson::oid::ObjectId;

use super::Topology;
use crate::address::ServerAddress;
use crate::sdam::diff::{diff, server_changes, ServerChange};
use crate::sdam::errors::ApplicationError;
use crate::sdam::events::{Action, Changes};
use crate::sdam::refresh;
use crate::sdam::server::{ServerDescription, ServerType, TopologyVersion};
use crate::sdam::topology::{TopologyDescription, TopologyType, MAX_SERVERS_ADDED_BY_REPLIES};
use crate::sdam::transition;
use crate::time::MonotonicTime;

impl Topology {
    /// Adds `addresses` to `next` as Unknown servers, each with a pool generation.
    pub(super) fn insert_unknown_servers(
        &mut self,
        next: &mut TopologyDescription,
        addresses: impl IntoIterator<Item = ServerAddress>,
    ) {
        for address in addresses {
            self.pools.entry(address.clone()).or_default();
            let unknown = Arc::new(ServerDescription::unknown(address.clone()));
            next.servers.insert(address, unknown);
        }
    }

    pub(super) fn changes(&self, actions: Vec<Action>) -> Changes {
        Changes {
            description: Arc::clone(&self.description),
            actions,
        }
    }

    /// The current description of `address` if an input about it should be processed.
    pub(super) fn accepting(&self, address: &ServerAddress) -> Option<&ServerDescription> {
        if self.closed {
            return None;
        }
        let server = self.description.servers.get(address).map(Arc::as_ref);
        if server.is_none() {
            tracing::debug!(%address, "ignoring an input for a server not in the topology");
        }
        server
    }

    /// Like [`Topology::accepting`], for check outcomes: a load-balanced topology has no
    /// monitors and its LoadBalancer description never changes through hello replies (load
    /// balancer spec, "Server Discovery Logging and Monitoring").
    pub(super) fn accepting_check(&self, address: &ServerAddress) -> Option<&ServerDescription> {
        if self.description.topology_type == TopologyType::LoadBalanced {
            return None;
        }
        self.accepting(address)
    }

    /// SDAM `isStaleError`.
    pub(super) fn is_stale_error(&self, error: &ApplicationError) -> bool {
        let service = error
            .service_id
            .as_ref()
            .filter(|_| self.settings.load_balanced);
        let current_generation = self.pool_generation(&error.address, service).unwrap_or(0);
        if error.generation < current_generation {
            return true;
        }
        let current = self
            .description
            .servers
            .get(&error.address)
            .and_then(|server| server.topology_version.as_ref());
        TopologyVersion::compare(current, error.topology_version()).is_ge()
    }

    /// Bumps the pool generation and returns the ClearPool action.
    pub(super) fn clear_pool(
        &mut self,
        address: &ServerAddress,
        service_id: Option<ObjectId>,
        interrupt_in_use_connections: bool,
    ) -> Action {
        let pool = self.pools.entry(address.clone()).or_default();
        let generation = match service_id {
            Some(id) => pool.by_service.entry(id).or_insert(0),
            None => &mut pool.generation,
        };
        *generation = generation.saturating_add(1);
        Action::ClearPool {
            address: address.clone(),
            service_id,
            interrupt_in_use_connections,
            new_generation: *generation,
        }
    }

    /// In load-balanced mode: the seed is a LoadBalancer from the start.
    pub(super) fn describe_load_balancers(&mut self, now: MonotonicTime) -> Vec<Action> {
        let mut next = self.working_copy();
        let addresses: Vec<ServerAddress> = next.servers.keys().cloned().collect();
        for address in addresses {
            let balancer = Arc::new(ServerDescription::load_balancer(address.clone(), now));
            next.servers.insert(address, balancer);
        }
        let mut actions = self.publish(next, None, Some(now));
        for address in self.description.servers.keys() {
            actions.push(Action::MarkPoolReady(address.clone()));
        }
        actions
    }

    /// Replaces a server's description (unless stale by topologyVersion), runs the
    /// transition rules and returns the resulting actions; or, on the fast path (see
    /// [`Topology::apply_server_description`]), only keeps the fresher measurements.
    pub(super) fn replace(&mut self, server: ServerDescription, now: MonotonicTime) -> Vec<Action> {
        let Some(stored) = self.description.servers.get(&server.address) else {
            return Vec::new();
        };
        let current = stored.topology_version.as_ref();
        if TopologyVersion::compare(current, server.topology_version.as_ref()).is_gt() {
            // SDAM "isStaleServerDescription": the current topologyVersion is newer.
            let address = &server.address;
            tracing::debug!(%address, "ignoring a description with an older topologyVersion");
            return Vec::new();
        }
        if stored.is_equivalent(&server)
            && transition::reapplying_changes_nothing(&self.description, &server)
        {
            // The server's type is unchanged, so is the verdict on its pool.
            let pool_ready = self.pool_ready_after_check(&server.address);
            self.refresh(Arc::new(server));
            return pool_ready.into_iter().collect();
        }
        let address = server.address.clone();
        let mut next = self.working_copy();
        let effects = transition::apply(&mut next, &self.settings, server, now);
        if next.servers.is_empty() && !self.description.servers.is_empty() {
            // SDAM "Other TopologyTypes": a client SHOULD warn when it removes the last server.
            tracing::warn!(removed_by = %address, "the topology no longer contains any server");
        }
        let mut actions = self.publish(next, Some(&address), Some(now));
        // Pools follow the servers added and removed, without a walk over every server.
        for action in &actions {
            match action {
                Action::StartMonitoring(added) => {
                    self.pools.entry(added.clone()).or_default();
                }
                Action::StopMonitoring(removed) => {
                    self.pools.remove(removed);
                }
                _ => {}
            }
        }
        actions.extend(self.pool_ready_after_check(&address));
        for primary in effects.invalidated_primaries {
            actions.push(Action::RequestImmediateCheck(primary));
        }
        if effects.refused_members > 0 && !self.growth_refusal_reported {
            self.growth_refusal_reported = true;
            actions.push(Action::ServerGrowthRefused {
                reported_by: address,
                refused: effects.refused_members,
                limit: self
                    .settings
                    .seeds
                    .len()
                    .saturating_add(MAX_SERVERS_ADDED_BY_REPLIES),
            });
        }
        actions
    }

    /// MarkPoolReady after a successful check of the server at `address`: if it is
    /// data-bearing, or known at all in a Single topology.
    pub(super) fn pool_ready_after_check(&self, address: &ServerAddress) -> Option<Action> {
        let checked = self.description.servers.get(address)?;
        let single = self.description.topology_type == TopologyType::Single;
        let ready =
            checked.is_data_bearing() || (single && checked.server_type != ServerType::Unknown);
        ready.then(|| Action::MarkPoolReady(address.clone()))
    }

    /// Keeps `fresher`, a description equivalent to its server's published one, as an
    /// unpublished refresh: O(log n). If it crosses the republish rule, builds and
    /// publishes a snapshot with every refresh merged instead: O(refreshes × log n). The
    /// derived fields stay as they are: an equivalent description contributes the same.
    pub(super) fn refresh(&mut self, fresher: Arc<ServerDescription>) {
        let address = &fresher.address;
        let Some(published) = self.description.servers.get(address) else {
            return;
        };
        let topology_type = self.description.topology_type;
        match refresh::republish_reason(published, &fresher, topology_type) {
            None => match self.refreshes.get_mut(address) {
                Some(slot) => *slot = fresher,
                None => {
                    self.refreshes.insert(address.clone(), fresher);
                }
            },
            Some(reason) => {
                tracing::trace!(%address, ?reason, "republishing a refreshed description");
                let mut next = self.working_copy();
                if let Some(server) = next.servers.get_mut(&fresher.address) {
                    *server = fresher;
                }
                self.description = Arc::new(next);
            }
        }
    }

    /// The starting point of the next snapshot: the published description with every
    /// unpublished refresh merged in: O(refreshes × log n), the server map being shared
    /// with the published one. The refreshes are consumed: the result must be published.
    pub(super) fn working_copy(&mut self) -> TopologyDescription {
        let mut next = TopologyDescription::clone(&self.description);
        for (address, fresher) in std::mem::take(&mut self.refreshes) {
            if let Some(server) = next.servers.get_mut(&address) {
                *server = fresher;
            }
        }
        next
    }

    /// Publishes `next` as the current snapshot and returns the events and monitoring
    /// actions that lead to it from the previous one, after setting its derived fields
    /// (compatibility, logicalSessionTimeoutMinutes) from the servers that changed.
    /// When the input has a time (`now`), a topology left without servers schedules a
    /// re-seed (see [`Topology::reseed`]); a complete member list is remembered either way.
    ///
    /// Cost: O(changes × log n), `next` sharing its server map with the published snapshot.
    pub(super) fn publish(
        &mut self,
        mut next: TopologyDescription,
        checked: Option<&ServerAddress>,
        now: Option<MonotonicTime>,
    ) -> Vec<Action> {
        let changes = server_changes(&self.description.servers, &next.servers);
        for change in &changes {
            match change {
                ServerChange::Added(_, new) => self.derived.add(new),
                ServerChange::Removed(_, previous) => self.derived.remove(previous),
                ServerChange::Updated { previous, new, .. } => {
                    self.derived.remove(previous);
                    self.derived.add(new);
                }
            }
        }
        next.forget_flat_servers();
        next.compatibility_error = self.derived.compatibility_error();
        next.logical_session_timeout_minutes = self.derived.logical_session_timeout_minutes();
        #[cfg(debug_assertions)]
        {
            // The incremental result is the rescan's (every test and spec case checks it).
            let mut rescanned = next.clone();
            crate::sdam::compatibility::update_derived_fields(&mut rescanned);
            debug_assert_eq!(rescanned.compatibility_error, next.compatibility_error);
            debug_assert_eq!(
                rescanned.logical_session_timeout_minutes,
                next.logical_session_timeout_minutes
            );
        }
        let next = Arc::new(next);
        let mut actions = diff(&self.description, &next, &changes, checked);
        self.description = next;
        actions.extend(self.follow_membership(now));
        actions
    }
}
