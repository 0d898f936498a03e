//! The suitable servers for an operation, by topology type, as the Server Selection spec's
//! "Rules for server selection" say: topology types Unknown, Single, Sharded, LoadBalanced,
//! and ReplicaSetWithPrimary / ReplicaSetNoPrimary for reads (by mode) and writes.
//!
//! The rules fill a caller's [`ServerList`] (on the stack) and return the [`Plan`] they
//! applied, which is what explanations re-check servers against.

use std::time::Duration;

use crate::address::ServerAddress;
use crate::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
use crate::selection::criteria::{Operation, SelectionCriteria, SelectionSettings};
use crate::selection::read_preference::{ReadPreference, ReadPreferenceError, ReadPreferenceMode};
use crate::selection::server_list::ServerList;
use crate::selection::staleness::StalenessCheck;
use crate::selection::tags::{choose_tag_set, TagChoice};

/// "Available" (Server Selection spec, "Terms"): every type but Unknown and PossiblePrimary.
pub fn is_available(server: &ServerDescription) -> bool {
    !matches!(
        server.server_type,
        ServerType::Unknown | ServerType::PossiblePrimary
    )
}

/// Which available servers the topology type and mode make candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Candidates {
    /// Topology Unknown: "no servers are suitable for read or write operations".
    Nothing,
    /// Topology Single: "the single server is always suitable ... if it is available".
    AnyAvailable,
    /// Topology Sharded: servers of type Mongos.
    Mongos,
    /// Topology LoadBalanced: the load balancer.
    LoadBalancer,
    /// The primary (mode primary, writes, and the primary legs of the preferred modes).
    Primary,
    /// Secondaries (modes secondary, and the secondary legs of the preferred modes).
    Secondaries,
    /// The primary and the secondaries (mode nearest).
    PrimaryAndSecondaries,
}

impl Candidates {
    /// Whether an available server of `server_type` is a candidate.
    pub(crate) fn admits(self, server_type: ServerType) -> bool {
        match self {
            Candidates::Nothing => false,
            Candidates::AnyAvailable => true,
            Candidates::Mongos => server_type == ServerType::Mongos,
            Candidates::LoadBalancer => server_type == ServerType::LoadBalancer,
            Candidates::Primary => server_type == ServerType::RsPrimary,
            Candidates::Secondaries => server_type == ServerType::RsSecondary,
            Candidates::PrimaryAndSecondaries => {
                matches!(server_type, ServerType::RsPrimary | ServerType::RsSecondary)
            }
        }
    }
}

/// The rules one selection applied: enough to re-check any server against them, which is
/// how failures are explained.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan<'a> {
    /// Which servers are candidates.
    pub(crate) candidates: Candidates,
    /// The max staleness filter, when the read preference has one and it applies.
    pub(crate) staleness: Option<StalenessCheck>,
    /// The tag set chosen.
    pub(crate) tags: TagChoice<'a>,
    /// secondaryPreferred fell back to the primary: the staleness filter and tag choice of
    /// the attempt with mode secondary, which found no eligible secondary.
    pub(crate) secondary_attempt: Option<(Option<StalenessCheck>, TagChoice<'a>)>,
    /// Deprioritized servers left out of this plan (empty when the plan had to include them).
    pub(crate) excluded: &'a [ServerAddress],
}

/// What the rules look at besides the operation.
struct Context<'a> {
    topology: &'a TopologyDescription,
    heartbeat_frequency: Duration,
    excluded: &'a [ServerAddress],
}

impl<'a> Context<'a> {
    /// Fills `list` with the available candidates of the given kind that are not
    /// deprioritized.
    fn candidates(&self, candidates: Candidates, list: &mut ServerList<'a>) {
        list.clear();
        for server in self.topology.servers_in_order() {
            if is_available(server)
                && candidates.admits(server.server_type)
                && !self.excluded.contains(&server.address)
            {
                list.push(server);
            }
        }
    }

    /// A plan with no staleness or tag filtering.
    fn by_type(&self, candidates: Candidates, list: &mut ServerList<'a>) -> Plan<'a> {
        self.candidates(candidates, list);
        Plan {
            candidates,
            staleness: None,
            tags: TagChoice::Any,
            secondary_attempt: None,
            excluded: self.excluded,
        }
    }

    /// Eligible candidates: "filter out servers staler than maxStalenessSeconds if it is a
    /// positive number", then "select servers matching the tag_sets".
    fn eligible(
        &self,
        candidates: Candidates,
        read_preference: &'a ReadPreference,
        list: &mut ServerList<'a>,
    ) -> Plan<'a> {
        self.candidates(candidates, list);
        let staleness = read_preference
            .max_staleness()
            .map(|max| StalenessCheck::new(self.topology, self.heartbeat_frequency, max));
        if let Some(check) = &staleness {
            list.retain(|server| check.admits(server));
        }
        let tags = choose_tag_set(read_preference.tag_sets(), list.iter());
        list.retain(|server| tags.admits(server));
        Plan {
            candidates,
            staleness,
            tags,
            secondary_attempt: None,
            excluded: self.excluded,
        }
    }

    /// Topology types ReplicaSetWithPrimary and ReplicaSetNoPrimary, "Read operations".
    fn replica_set_read(
        &self,
        read_preference: &'a ReadPreference,
        list: &mut ServerList<'a>,
    ) -> Plan<'a> {
        match read_preference.mode() {
            ReadPreferenceMode::Primary => self.by_type(Candidates::Primary, list),
            ReadPreferenceMode::Secondary => {
                self.eligible(Candidates::Secondaries, read_preference, list)
            }
            ReadPreferenceMode::Nearest => {
                self.eligible(Candidates::PrimaryAndSecondaries, read_preference, list)
            }
            // "select the primary if it is known, otherwise attempt the selection algorithm
            // with mode 'secondary' and the user's maxStalenessSeconds and tag_sets"
            ReadPreferenceMode::PrimaryPreferred => {
                let plan = self.by_type(Candidates::Primary, list);
                if list.len() > 0 {
                    return plan;
                }
                self.eligible(Candidates::Secondaries, read_preference, list)
            }
            // "attempt the selection algorithm with mode 'secondary' and the user's
            // maxStalenessSeconds and tag_sets. If no server matches, select the primary."
            ReadPreferenceMode::SecondaryPreferred => {
                let attempt = self.eligible(Candidates::Secondaries, read_preference, list);
                if list.len() > 0 {
                    return attempt;
                }
                let mut plan = self.by_type(Candidates::Primary, list);
                plan.secondary_attempt = Some((attempt.staleness, attempt.tags));
                plan
            }
        }
    }

    /// The rules by topology type and operation type; the suitable servers go to `list`.
    fn suitable(&self, operation: &'a Operation, list: &mut ServerList<'a>) -> Plan<'a> {
        match self.topology.topology_type {
            TopologyType::Unknown => self.by_type(Candidates::Nothing, list),
            TopologyType::Single => self.by_type(Candidates::AnyAvailable, list),
            TopologyType::Sharded => self.by_type(Candidates::Mongos, list),
            TopologyType::LoadBalanced => self.by_type(Candidates::LoadBalancer, list),
            TopologyType::ReplicaSetWithPrimary | TopologyType::ReplicaSetNoPrimary => {
                match operation {
                    Operation::Write => self.by_type(Candidates::Primary, list),
                    Operation::Read(read_preference) => {
                        self.replica_set_read(read_preference, list)
                    }
                }
            }
        }
    }
}

/// Checks that must pass before any server is considered: the topology's wire version
/// compatibility, and the replica set rule for maxStalenessSeconds.
pub(crate) fn check_preconditions(
    topology: &TopologyDescription,
    criteria: &SelectionCriteria,
    settings: &SelectionSettings,
) -> Result<(), PreconditionFailure> {
    if topology.compatibility_error.is_some() {
        return Err(PreconditionFailure::Incompatible);
    }
    if matches!(
        topology.topology_type,
        TopologyType::ReplicaSetWithPrimary | TopologyType::ReplicaSetNoPrimary
    ) {
        if let Some(read_preference) = criteria.read_preference() {
            read_preference
                .check_max_staleness(settings.heartbeat_frequency)
                .map_err(PreconditionFailure::InvalidCriteria)?;
        }
    }
    Ok(())
}

/// A failed precondition.
pub(crate) enum PreconditionFailure {
    /// The topology's compatibility error is set.
    Incompatible,
    /// The criteria are invalid for this topology.
    InvalidCriteria(ReadPreferenceError),
}

/// Fills `list` with the spec-suitable servers (before the application filter), with
/// deprioritization: "Filter out any deprioritized server addresses. Find suitable servers
/// ... If there are no suitable servers, perform the previous step again without filtering
/// out deprioritized servers."
pub(crate) fn find_suitable<'a>(
    topology: &'a TopologyDescription,
    criteria: &'a SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &'a [ServerAddress],
    list: &mut ServerList<'a>,
) -> Plan<'a> {
    let context = Context {
        topology,
        heartbeat_frequency: settings.heartbeat_frequency,
        excluded: deprioritized,
    };
    let plan = context.suitable(criteria.operation(), list);
    if list.len() > 0 || deprioritized.is_empty() {
        return plan;
    }
    let context = Context {
        excluded: &[],
        ..context
    };
    context.suitable(criteria.operation(), list)
}
