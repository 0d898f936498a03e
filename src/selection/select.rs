//! Finding the suitable servers for an operation, by topology type, as the Server Selection
//! spec's "Rules for server selection" say; then the latency window and the final choice.
//!
//! The hot path does not allocate: servers are gathered into a [`ServerList`] on the stack
//! and the result borrows from the topology description. Only a failure builds an
//! explanation (see [`crate::selection::explain`]), which allocates.

use std::time::Duration;

use rand::Rng;

use crate::address::ServerAddress;
use crate::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
use crate::selection::criteria::{Operation, SelectionCriteria, SelectionSettings};
use crate::selection::explain::{explain_selection, SelectionExplanation};
use crate::selection::read_preference::{ReadPreference, ReadPreferenceError, ReadPreferenceMode};
use crate::selection::server_list::ServerList;
use crate::selection::staleness::StalenessCheck;
use crate::selection::tags::{choose_tag_set, TagChoice};
use crate::selection::window::{apply_latency_window, power_of_two_choices, LatencyWindow};

/// Why selection produced no server.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SelectionError {
    /// The read preference can never be satisfied in this topology (e.g. maxStalenessSeconds
    /// below the replica set minimum). Waiting will not help.
    #[error("invalid read preference for this topology: {0}")]
    InvalidCriteria(#[source] ReadPreferenceError),
    /// Some server's wire version range does not overlap the client's (spec step "If the
    /// topology wire version is invalid, raise an error"). Waiting will not help.
    #[error("{0}")]
    IncompatibleTopology(Box<SelectionExplanation>),
    /// No server is suitable now; a later topology description may have one.
    #[error("{0}")]
    NoSuitableServer(Box<SelectionExplanation>),
}

impl SelectionError {
    /// Whether waiting for a topology change (and selecting again) may succeed.
    pub fn may_succeed_later(&self) -> bool {
        matches!(self, SelectionError::NoSuitableServer(_))
    }

    /// The server-by-server explanation, if this error has one.
    pub fn explanation(&self) -> Option<&SelectionExplanation> {
        match self {
            SelectionError::InvalidCriteria(_) => None,
            SelectionError::IncompatibleTopology(explanation)
            | SelectionError::NoSuitableServer(explanation) => Some(explanation),
        }
    }
}

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
    /// Available candidates of the given kind that are not deprioritized.
    fn candidates(&self, candidates: Candidates) -> ServerList<'a> {
        let mut list = ServerList::new();
        for server in self.topology.servers.values() {
            if is_available(server)
                && candidates.admits(server.server_type)
                && !self.excluded.contains(&server.address)
            {
                list.push(server);
            }
        }
        list
    }

    /// A plan with no staleness or tag filtering.
    fn by_type(&self, candidates: Candidates) -> (Plan<'a>, ServerList<'a>) {
        let plan = Plan {
            candidates,
            staleness: None,
            tags: TagChoice::Any,
            secondary_attempt: None,
            excluded: self.excluded,
        };
        (plan, self.candidates(candidates))
    }

    /// Eligible candidates: "filter out servers staler than maxStalenessSeconds if it is a
    /// positive number", then "select servers matching the tag_sets".
    fn eligible(
        &self,
        candidates: Candidates,
        read_preference: &'a ReadPreference,
    ) -> (Plan<'a>, ServerList<'a>) {
        let mut list = self.candidates(candidates);
        let staleness = read_preference
            .max_staleness()
            .map(|max| StalenessCheck::new(self.topology, self.heartbeat_frequency, max));
        if let Some(check) = &staleness {
            list.retain(|server| check.admits(server));
        }
        let tags = choose_tag_set(read_preference.tag_sets(), list.iter());
        list.retain(|server| tags.admits(server));
        let plan = Plan {
            candidates,
            staleness,
            tags,
            secondary_attempt: None,
            excluded: self.excluded,
        };
        (plan, list)
    }

    /// Topology types ReplicaSetWithPrimary and ReplicaSetNoPrimary, "Read operations".
    fn replica_set_read(&self, read_preference: &'a ReadPreference) -> (Plan<'a>, ServerList<'a>) {
        match read_preference.mode() {
            ReadPreferenceMode::Primary => self.by_type(Candidates::Primary),
            ReadPreferenceMode::Secondary => {
                self.eligible(Candidates::Secondaries, read_preference)
            }
            ReadPreferenceMode::Nearest => {
                self.eligible(Candidates::PrimaryAndSecondaries, read_preference)
            }
            // "select the primary if it is known, otherwise attempt the selection algorithm
            // with mode 'secondary' and the user's maxStalenessSeconds and tag_sets"
            ReadPreferenceMode::PrimaryPreferred => {
                let (plan, primary) = self.by_type(Candidates::Primary);
                if primary.len() > 0 {
                    (plan, primary)
                } else {
                    self.eligible(Candidates::Secondaries, read_preference)
                }
            }
            // "attempt the selection algorithm with mode 'secondary' and the user's
            // maxStalenessSeconds and tag_sets. If no server matches, select the primary."
            ReadPreferenceMode::SecondaryPreferred => {
                let (attempt, secondaries) =
                    self.eligible(Candidates::Secondaries, read_preference);
                if secondaries.len() > 0 {
                    return (attempt, secondaries);
                }
                let (mut plan, primary) = self.by_type(Candidates::Primary);
                plan.secondary_attempt = Some((attempt.staleness, attempt.tags));
                (plan, primary)
            }
        }
    }

    /// The rules by topology type and operation type.
    fn suitable(&self, operation: &'a Operation) -> (Plan<'a>, ServerList<'a>) {
        match self.topology.topology_type {
            TopologyType::Unknown => self.by_type(Candidates::Nothing),
            TopologyType::Single => self.by_type(Candidates::AnyAvailable),
            TopologyType::Sharded => self.by_type(Candidates::Mongos),
            TopologyType::LoadBalanced => self.by_type(Candidates::LoadBalancer),
            TopologyType::ReplicaSetWithPrimary | TopologyType::ReplicaSetNoPrimary => {
                match operation {
                    Operation::Write => self.by_type(Candidates::Primary),
                    Operation::Read(read_preference) => self.replica_set_read(read_preference),
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

/// The spec-suitable servers (before the application filter), with deprioritization:
/// "Filter out any deprioritized server addresses. Find suitable servers ... If there are no
/// suitable servers, perform the previous step again without filtering out deprioritized
/// servers."
pub(crate) fn find_suitable<'a>(
    topology: &'a TopologyDescription,
    criteria: &'a SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &'a [ServerAddress],
) -> (Plan<'a>, ServerList<'a>) {
    let context = Context {
        topology,
        heartbeat_frequency: settings.heartbeat_frequency,
        excluded: deprioritized,
    };
    let (plan, list) = context.suitable(criteria.operation());
    if list.len() > 0 || deprioritized.is_empty() {
        return (plan, list);
    }
    let context = Context {
        excluded: &[],
        ..context
    };
    context.suitable(criteria.operation())
}

/// The suitable servers of one selection, those in the latency window first.
#[derive(Clone, Debug)]
pub struct SuitableServers<'a> {
    servers: ServerList<'a>,
    in_window: usize,
    window: LatencyWindow,
    /// A server in the window (there always is one), the fallback of [`Self::choose`].
    first: &'a ServerDescription,
}

impl<'a> SuitableServers<'a> {
    /// The suitable servers within the latency window (never empty).
    pub fn in_window(&self) -> impl Iterator<Item = &'a ServerDescription> + '_ {
        self.servers.iter().take(self.in_window)
    }

    /// How many suitable servers are within the latency window (at least one).
    pub fn in_window_len(&self) -> usize {
        self.in_window
    }

    /// Suitable servers whose average RTT puts them outside the latency window.
    pub fn outside_window(&self) -> impl Iterator<Item = &'a ServerDescription> + '_ {
        self.servers.iter().skip(self.in_window)
    }

    /// Every suitable server, in or outside the window.
    pub fn suitable(&self) -> impl Iterator<Item = &'a ServerDescription> + '_ {
        self.servers.iter()
    }

    /// The latency window these servers were filtered with.
    pub fn latency_window(&self) -> LatencyWindow {
        self.window
    }

    /// The final choice: the power of two random choices among the servers in the window,
    /// by `operation_count` (the caller's count of operations in progress on each server).
    pub fn choose<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        operation_count: impl Fn(&ServerDescription) -> u64,
    ) -> &'a ServerDescription {
        let index = power_of_two_choices(self.in_window, rng, |index| {
            self.servers.get(index).map_or(u64::MAX, &operation_count)
        });
        self.servers.get(index).unwrap_or(self.first)
    }
}

/// Finds the suitable servers for `criteria` and the latency window among them.
///
/// Equivalent to [`select_suitable_with_deprioritized`] with no deprioritized server.
pub fn select_suitable<'a>(
    topology: &'a TopologyDescription,
    criteria: &'a SelectionCriteria,
    settings: &SelectionSettings,
) -> Result<SuitableServers<'a>, SelectionError> {
    select_suitable_with_deprioritized(topology, criteria, settings, &[])
}

/// Finds the suitable servers for `criteria`, preferring servers not in `deprioritized`
/// (addresses a retried operation already failed on), then the latency window among them.
///
/// Steps, as the spec's multi-threaded algorithm: the topology compatibility check and the
/// replica set maxStalenessSeconds check; the suitable servers by topology type, operation
/// and read preference, without then with the deprioritized servers; the application filter;
/// the latency window anchored at the fastest remaining server. On failure the error
/// explains, server by server, why none was suitable.
pub fn select_suitable_with_deprioritized<'a>(
    topology: &'a TopologyDescription,
    criteria: &'a SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &'a [ServerAddress],
) -> Result<SuitableServers<'a>, SelectionError> {
    let explain = || {
        Box::new(explain_selection(
            topology,
            criteria,
            settings,
            deprioritized,
        ))
    };
    match check_preconditions(topology, criteria, settings) {
        Ok(()) => {}
        Err(PreconditionFailure::Incompatible) => {
            return Err(SelectionError::IncompatibleTopology(explain()))
        }
        Err(PreconditionFailure::InvalidCriteria(error)) => {
            return Err(SelectionError::InvalidCriteria(error))
        }
    }
    let (_, mut servers) = find_suitable(topology, criteria, settings, deprioritized);
    if let Some(filter) = criteria.filter() {
        servers.retain(|server| filter.accepts(server));
    }
    let (window, in_window) = apply_latency_window(&mut servers, settings.local_threshold);
    match servers.get(0) {
        Some(first) => Ok(SuitableServers {
            servers,
            in_window,
            window,
            first,
        }),
        None => Err(SelectionError::NoSuitableServer(explain())),
    }
}

/// Selects one server: [`select_suitable_with_deprioritized`], then
/// [`SuitableServers::choose`].
pub fn select_server<'a, R: Rng + ?Sized>(
    topology: &'a TopologyDescription,
    criteria: &'a SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &'a [ServerAddress],
    rng: &mut R,
    operation_count: impl Fn(&ServerDescription) -> u64,
) -> Result<&'a ServerDescription, SelectionError> {
    let suitable = select_suitable_with_deprioritized(topology, criteria, settings, deprioritized)?;
    Ok(suitable.choose(rng, operation_count))
}
