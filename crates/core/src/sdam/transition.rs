//! SDAM "Updating the TopologyDescription": the TopologyType table and its subroutines
//! (updateUnknownWithStandalone, updateRSWithoutPrimary, updateRSWithPrimaryFromMember,
//! updateRSFromPrimary, checkIfHasPrimary, remove), applied to one new ServerDescription.
//!
//! The caller ([`crate::sdam::Topology`]) has already ignored outcomes for servers not in the
//! topology and stale ones (by topologyVersion); it derives monitoring actions and events
//! from the difference between the descriptions before and after.

use std::sync::Arc;

use bson::oid::ObjectId;

use crate::address::ServerAddress;
use crate::sdam::departures::RemovalReason;
use crate::sdam::server::{ServerDescription, ServerError, ServerErrorKind, ServerType};
use crate::sdam::settings::TopologySettings;
use crate::sdam::topology::{TopologyDescription, TopologyType, MAX_SERVERS_ADDED_BY_REPLIES};
use crate::time::MonotonicTime;

/// The side effects of one transition that a diff of descriptions cannot show.
#[derive(Debug, Default)]
pub(crate) struct TransitionEffects {
    /// Former primaries marked Unknown because a newer primary was found: each needs an
    /// immediate check (SDAM "updateRSFromPrimary", note on invalidating the old primary).
    pub invalidated_primaries: Vec<ServerAddress>,
    /// How many reported members were refused because the topology had reached
    /// [`MAX_SERVERS_ADDED_BY_REPLIES`] servers beyond its seeds (0 when none was).
    pub refused_members: usize,
}

/// One update in progress: the description being edited and what the rules need to know.
struct Transition<'a> {
    td: &'a mut TopologyDescription,
    settings: &'a TopologySettings,
    now: MonotonicTime,
    effects: TransitionEffects,
}

/// Replaces the description of `server.address` with `server` and runs the rules for the
/// current TopologyType. The server must be in the topology.
pub(crate) fn apply(
    td: &mut TopologyDescription,
    settings: &TopologySettings,
    server: ServerDescription,
    now: MonotonicTime,
) -> TransitionEffects {
    let mut transition = Transition {
        td,
        settings,
        now,
        effects: TransitionEffects::default(),
    };
    match transition.td.topology_type {
        TopologyType::Single => transition.update_single(server),
        TopologyType::LoadBalanced => {
            // The load balancer spec: the single LoadBalancer description never changes
            // through checks (there are none); only application errors clear pools.
        }
        _ => transition.update_by_table(server),
    }
    // The derived fields (compatibility, logicalSessionTimeoutMinutes) are set when the
    // result is published, from the servers that changed.
    transition.effects
}

fn stale_primary_error(message: String) -> ServerError {
    ServerError::new(ServerErrorKind::StalePrimary, message)
}

fn show_tuple(election_id: Option<ObjectId>, set_version: Option<i64>) -> String {
    let election_id = election_id.map_or("null".to_string(), |id| id.to_hex());
    let set_version = set_version.map_or("null".to_string(), |v| v.to_string());
    format!("({election_id}, {set_version})")
}

impl Transition<'_> {
    /// SDAM "TopologyType Single": always replace, but a server whose setName does not match
    /// the configured replica set name is replaced by Unknown ("Verifying setName with
    /// TopologyType Single").
    fn update_single(&mut self, server: ServerDescription) {
        let server = match &self.settings.replica_set_name {
            Some(expected)
                if server.server_type != ServerType::Unknown
                    && server.set_name.as_deref() != Some(expected.as_str()) =>
            {
                let reported = server
                    .set_name
                    .as_ref()
                    .map_or_else(|| "no set name".to_string(), |name| format!("{name:?}"));
                let message = format!(
                    "replica set name mismatch: expected {expected:?}, the server reports \
                     {reported}"
                );
                ServerDescription::unknown_with_error(
                    server.address,
                    ServerError::new(ServerErrorKind::ReplicaSetNameMismatch, message),
                    self.now,
                )
            }
            _ => server,
        };
        self.td
            .servers
            .insert(server.address.clone(), Arc::new(server));
    }

    /// SDAM "TopologyType table": the new ServerType (rows) against the current
    /// TopologyType (columns).
    fn update_by_table(&mut self, server: ServerDescription) {
        use ServerType as S;
        use TopologyType as T;
        let address = server.address.clone();
        let misplaced = RemovalReason::TypeNotInTopology {
            server_type: server.server_type,
            topology_type: self.td.topology_type,
        };
        let server = Arc::new(server);
        self.td.servers.insert(address.clone(), Arc::clone(&server));
        match (self.td.topology_type, server.server_type) {
            (T::Unknown, S::Standalone) => self.update_unknown_with_standalone(&server),
            (T::Unknown, S::Mongos) => self.td.topology_type = T::Sharded,
            (T::Unknown | T::ReplicaSetNoPrimary | T::ReplicaSetWithPrimary, S::RsPrimary) => {
                self.td.topology_type = T::ReplicaSetWithPrimary;
                self.update_rs_from_primary(&server);
            }
            (T::Unknown, S::RsSecondary | S::RsArbiter | S::RsOther) => {
                self.td.topology_type = T::ReplicaSetNoPrimary;
                self.update_rs_without_primary(&server);
            }
            (T::Sharded, S::Unknown | S::Mongos | S::PossiblePrimary) => {}
            (T::Sharded, _) => self.remove(&address, misplaced),
            (T::ReplicaSetNoPrimary, S::Standalone | S::Mongos) => self.remove(&address, misplaced),
            (T::ReplicaSetNoPrimary, S::RsSecondary | S::RsArbiter | S::RsOther) => {
                self.update_rs_without_primary(&server)
            }
            (T::ReplicaSetWithPrimary, S::Standalone | S::Mongos) => {
                self.remove(&address, misplaced);
                self.check_if_has_primary();
            }
            (T::ReplicaSetWithPrimary, S::RsSecondary | S::RsArbiter | S::RsOther) => {
                self.update_rs_with_primary_from_member(&server)
            }
            (
                T::ReplicaSetWithPrimary,
                S::Unknown | S::RsGhost | S::PossiblePrimary | S::LoadBalancer,
            ) => self.check_if_has_primary(),
            // Unknown and RSGhost are no-ops in Unknown and ReplicaSetNoPrimary ("TopologyType
            // remains Unknown when an RSGhost is discovered"). A LoadBalancer description only
            // exists in LoadBalanced topologies; anywhere else it is kept like Unknown.
            (T::Unknown | T::ReplicaSetNoPrimary, _) => {}
            (T::Single | T::LoadBalanced, _) => {}
        }
    }

    /// SDAM "updateUnknownWithStandalone".
    fn update_unknown_with_standalone(&mut self, server: &ServerDescription) {
        if !self.td.servers.contains_key(&server.address) {
            return;
        }
        if self.settings.seeds.len() == 1 {
            self.td.topology_type = TopologyType::Single;
        } else {
            let reason = RemovalReason::TypeNotInTopology {
                server_type: server.server_type,
                topology_type: TopologyType::Unknown,
            };
            self.remove(&server.address, reason);
        }
    }

    /// SDAM "updateRSWithoutPrimary".
    fn update_rs_without_primary(&mut self, server: &ServerDescription) {
        if !self.td.servers.contains_key(&server.address) {
            return;
        }
        if self.td.set_name.is_none() {
            self.td.set_name = server.set_name.clone();
        } else if self.td.set_name != server.set_name {
            self.remove(&server.address, self.set_name_mismatch(server));
            return;
        }
        self.add_reported_members(server);
        if let Some(primary) = &server.primary {
            self.mark_possible_primary(primary);
        }
        if let Some(reason) = self.me_mismatch(server) {
            self.remove(&server.address, reason);
        }
    }

    /// SDAM "updateRSWithPrimaryFromMember".
    fn update_rs_with_primary_from_member(&mut self, server: &ServerDescription) {
        if !self.td.servers.contains_key(&server.address) {
            return;
        }
        let misfit = if self.td.set_name != server.set_name {
            Some(self.set_name_mismatch(server))
        } else {
            self.me_mismatch(server)
        };
        if let Some(reason) = misfit {
            self.remove(&server.address, reason);
            self.check_if_has_primary();
            return;
        }
        // Had this member been the primary?
        if self.td.primary_in_map().is_none() {
            self.td.topology_type = TopologyType::ReplicaSetNoPrimary;
            if let Some(primary) = &server.primary {
                self.mark_possible_primary(primary);
            }
        }
    }

    /// SDAM "updateRSFromPrimary".
    fn update_rs_from_primary(&mut self, server: &ServerDescription) {
        if !self.td.servers.contains_key(&server.address) {
            return;
        }
        if self.td.set_name.is_none() {
            self.td.set_name = server.set_name.clone();
        } else if self.td.set_name != server.set_name {
            // A primary without the setName given by the user or previously discovered.
            self.remove(&server.address, self.set_name_mismatch(server));
            self.check_if_has_primary();
            return;
        }
        let fresh = if server.max_wire_version >= 17 {
            self.record_election_6_0(server)
        } else {
            self.record_election_pre_6_0(server)
        };
        if !fresh {
            let message = format!(
                "primary marked stale due to electionId/setVersion mismatch, {} is stale \
                 compared to {}",
                show_tuple(server.election_id, server.set_version),
                show_tuple(self.td.max_election_id, self.td.max_set_version)
            );
            let unknown = ServerDescription::unknown_with_error(
                server.address.clone(),
                stale_primary_error(message),
                self.now,
            );
            self.td
                .servers
                .insert(server.address.clone(), Arc::new(unknown));
            self.check_if_has_primary();
            return;
        }
        self.invalidate_other_primaries(&server.address);
        self.add_reported_members(server);
        let members: Vec<ServerAddress> = self.td.servers.keys().cloned().collect();
        // Built once, at the first removal: the evidence is the same for every server.
        let mut not_listed: Option<RemovalReason> = None;
        for address in members {
            if !server
                .all_reported_members()
                .any(|member| *member == address)
            {
                // A primary missing from its own list under the address used advertises
                // itself under another name (`me`): that is the cause to report.
                let advertised = (address == server.address)
                    .then(|| self.me_mismatch(server))
                    .flatten();
                let reason = advertised.unwrap_or_else(|| {
                    not_listed
                        .get_or_insert_with(|| {
                            RemovalReason::not_in_members_of(
                                &server.address,
                                server.all_reported_members(),
                            )
                        })
                        .clone()
                });
                self.remove(&address, reason);
            }
        }
        self.check_if_has_primary();
    }

    /// The MongoDB 6.0+ rule (maxWireVersion >= 17): electionId first, then setVersion; a
    /// null value orders before any value. Returns false for a stale primary.
    fn record_election_6_0(&mut self, server: &ServerDescription) -> bool {
        let newer_election = server.election_id > self.td.max_election_id;
        let same_election = server.election_id == self.td.max_election_id;
        if newer_election || (same_election && server.set_version >= self.td.max_set_version) {
            self.td.max_election_id = server.election_id;
            self.td.max_set_version = server.set_version;
            true
        } else {
            false
        }
    }

    /// The rule before MongoDB 6.0: setVersion first, then electionId, compared only when
    /// both are present. Returns false for a stale primary.
    fn record_election_pre_6_0(&mut self, server: &ServerDescription) -> bool {
        if let (Some(set_version), Some(election_id)) = (server.set_version, server.election_id) {
            if let (Some(max_set_version), Some(max_election_id)) =
                (self.td.max_set_version, self.td.max_election_id)
            {
                if max_set_version > set_version
                    || (max_set_version == set_version && max_election_id > election_id)
                {
                    return false;
                }
            }
            self.td.max_election_id = Some(election_id);
        }
        if let Some(set_version) = server.set_version {
            if self.td.max_set_version.is_none_or(|max| set_version > max) {
                self.td.max_set_version = Some(set_version);
            }
        }
        true
    }

    /// Replaces every other RSPrimary with Unknown (SDAM "updateRSFromPrimary", note on
    /// invalidating the old primary); the pool is not cleared, an immediate check is due.
    fn invalidate_other_primaries(&mut self, new_primary: &ServerAddress) {
        let old_primaries: Vec<ServerAddress> = self
            .td
            .servers
            .values()
            .filter(|s| s.server_type == ServerType::RsPrimary && s.address != *new_primary)
            .map(|s| s.address.clone())
            .collect();
        for address in old_primaries {
            let error = stale_primary_error(
                "primary marked stale due to discovery of newer primary".to_string(),
            );
            let unknown = ServerDescription::unknown_with_error(address.clone(), error, self.now);
            self.td.servers.insert(address.clone(), Arc::new(unknown));
            self.effects.invalidated_primaries.push(address);
        }
    }

    /// Adds every reported host, passive and arbiter not yet in the topology, as Unknown,
    /// while the topology holds fewer than seeds + [`MAX_SERVERS_ADDED_BY_REPLIES`] servers;
    /// the members beyond are refused and counted in the effects.
    fn add_reported_members(&mut self, server: &ServerDescription) {
        let limit = self
            .settings
            .seeds
            .len()
            .saturating_add(MAX_SERVERS_ADDED_BY_REPLIES);
        for member in server.all_reported_members() {
            if self.td.servers.contains_key(member) {
                continue;
            }
            if self.td.servers.len() >= limit {
                self.effects.refused_members += 1;
                continue;
            }
            let unknown = Arc::new(ServerDescription::unknown(member.clone()));
            self.td.servers.insert(member.clone(), unknown);
        }
    }

    /// If the reported primary is in the topology as Unknown, it becomes PossiblePrimary.
    fn mark_possible_primary(&mut self, primary: &ServerAddress) {
        if let Some(candidate) = self.td.servers.get_mut(primary) {
            if candidate.server_type == ServerType::Unknown {
                Arc::make_mut(candidate).server_type = ServerType::PossiblePrimary;
            }
        }
    }

    /// `description.address != description.me`, when the server reports a `me`: the
    /// removal's reason if so.
    fn me_mismatch(&self, server: &ServerDescription) -> Option<RemovalReason> {
        let me = server.me.as_ref().filter(|me| **me != server.address)?;
        Some(RemovalReason::AdvertisedNameMismatch { me: me.clone() })
    }

    /// The removal's reason for a server whose set name is not the topology's.
    fn set_name_mismatch(&self, server: &ServerDescription) -> RemovalReason {
        RemovalReason::SetNameMismatch {
            reported: server.set_name.clone(),
            expected: self.td.set_name.clone(),
        }
    }

    /// SDAM "checkIfHasPrimary".
    fn check_if_has_primary(&mut self) {
        self.td.topology_type = if self.td.primary_in_map().is_some() {
            TopologyType::ReplicaSetWithPrimary
        } else {
            TopologyType::ReplicaSetNoPrimary
        };
    }

    /// SDAM "remove": the server leaves the description (its monitor is stopped by the
    /// caller, which sees it gone), its departure recorded with `reason`.
    fn remove(&mut self, address: &ServerAddress, reason: RemovalReason) {
        if self.td.servers.remove(address).is_some() {
            self.td.record_departure(address.clone(), reason, self.now);
        }
    }
}

/// Whether applying `server` would leave `td` as it is, apart from the freshness fields of
/// `server` itself (round trip times, lastUpdateTime, lastWriteDate, ...), given that the
/// description stored for `server.address` is equivalent to it (SDAM "Server Description
/// Equality", with the ServerType compared strictly). Cost: O(reported members), never
/// O(servers).
///
/// The table's rules read only fields that equality compares (type, setName, electionId,
/// setVersion, maxWireVersion, hosts, passives, arbiters, primary, me; and for the derived
/// fields minWireVersion and logicalSessionTimeoutMinutes), so re-applying an equivalent
/// description repeats what it did the first time, except where the outcome depends on
/// what changed since: the TopologyType (a server stored while the type was Unknown may not
/// belong in the type it has become), the topology's setName, and the other servers:
/// - `add_reported_members` (updateRSFromPrimary, updateRSWithoutPrimary) re-adds a reported
///   member that has been removed since;
/// - updateRSFromPrimary removes servers its hosts do not list;
/// - updateRSWithoutPrimary marks the reported `primary` PossiblePrimary again if it has
///   become Unknown since.
///
/// Hence this table, the rows of [`Transition::update_by_table`] that can be no-ops. What
/// it relies on, which every transition keeps true: ReplicaSetWithPrimary means a primary
/// is stored, and a stored primary set the (electionId, setVersion) maxima (only another
/// primary's description changes them, and a fresh one makes this one Unknown).
pub(crate) fn reapplying_changes_nothing(
    td: &TopologyDescription,
    server: &ServerDescription,
) -> bool {
    use ServerType as S;
    use TopologyType as T;
    let set_name_and_me_match = || {
        td.set_name == server.set_name && server.me.as_ref().is_none_or(|me| *me == server.address)
    };
    match (td.topology_type, server.server_type) {
        (T::Single | T::LoadBalanced, _) => true,
        (
            T::Unknown | T::ReplicaSetNoPrimary | T::ReplicaSetWithPrimary,
            S::Unknown | S::RsGhost | S::PossiblePrimary | S::LoadBalancer,
        ) => true,
        (T::Sharded, S::Unknown | S::Mongos | S::PossiblePrimary) => true,
        (T::ReplicaSetWithPrimary, S::RsPrimary) => {
            td.set_name == server.set_name
                && all_reported_members_present(td, server)
                && td.servers.len() == distinct_reported_members(server)
        }
        (T::ReplicaSetNoPrimary, S::RsSecondary | S::RsArbiter | S::RsOther) => {
            set_name_and_me_match()
                && all_reported_members_present(td, server)
                && !server.primary.as_ref().is_some_and(|primary| {
                    td.servers
                        .get(primary)
                        .is_some_and(|candidate| candidate.server_type == S::Unknown)
                })
        }
        (T::ReplicaSetWithPrimary, S::RsSecondary | S::RsArbiter | S::RsOther) => {
            set_name_and_me_match()
        }
        // The type changes (Unknown to Single, Sharded or a replica set type; no primary to
        // a primary), or the server is removed.
        _ => false,
    }
}

fn all_reported_members_present(td: &TopologyDescription, server: &ServerDescription) -> bool {
    server
        .all_reported_members()
        .all(|member| td.servers.contains_key(member))
}

/// How many different addresses `server` reports (a malformed reply may list one address
/// under several of hosts, passives and arbiters).
fn distinct_reported_members(server: &ServerDescription) -> usize {
    let passives_not_hosts = server
        .passives
        .iter()
        .filter(|member| !server.hosts.contains(*member))
        .count();
    let arbiters_not_hosts_or_passives = server
        .arbiters
        .iter()
        .filter(|member| !server.hosts.contains(*member) && !server.passives.contains(*member))
        .count();
    server.hosts.len() + passives_not_hosts + arbiters_not_hosts_or_passives
}
