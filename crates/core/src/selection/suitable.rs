//! Selection's entry points: the suitable servers and the latency window among them
//! ([`select_suitable`]), and the final choice ([`select_server`]).
//!
//! The hot path does not allocate: servers are gathered into a [`ServerList`] on the stack
//! and the result borrows from the topology description. Only a failure builds an
//! explanation (see [`crate::selection::explain`]), which allocates.

use rand::Rng;

use crate::address::ServerAddress;
use crate::sdam::{ServerDescription, TopologyDescription};
use crate::selection::criteria::{SelectionCriteria, SelectionSettings};
use crate::selection::explain::{explain_selection, SelectionExplanation};
use crate::selection::read_preference::ReadPreferenceError;
use crate::selection::select::{check_preconditions, find_suitable, PreconditionFailure};
use crate::selection::server_list::ServerList;
use crate::selection::window::{apply_latency_window, power_of_two_choices, LatencyWindow};

/// Why selection produced no server.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError {
    /// The read preference can never be satisfied in this topology (e.g. maxStalenessSeconds
    /// below the replica set minimum). Waiting will not help.
    #[error("invalid read preference for this topology: {0}")]
    InvalidCriteria(ReadPreferenceError),
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
    let mut servers = ServerList::new();
    let (window, in_window, first) =
        fill_suitable(topology, criteria, settings, deprioritized, &mut servers)
            .map_err(|failure| failure.explain(topology, criteria, settings, deprioritized))?;
    Ok(SuitableServers {
        servers,
        in_window,
        window,
        first,
    })
}

/// Selects one server: the suitable servers as [`select_suitable_with_deprioritized`] finds
/// them, then the power of two random choices in the latency window, as
/// [`SuitableServers::choose`].
pub fn select_server<'a, R: Rng + ?Sized>(
    topology: &'a TopologyDescription,
    criteria: &'a SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &'a [ServerAddress],
    rng: &mut R,
    operation_count: impl Fn(&ServerDescription) -> u64,
) -> Result<&'a ServerDescription, SelectionError> {
    try_select_server(
        topology,
        criteria,
        settings,
        deprioritized,
        rng,
        operation_count,
    )
    .map_err(|failure| failure.explain(topology, criteria, settings, deprioritized))
}

/// [`select_server`] without the explanation on failure: for callers that retry until a
/// deadline (the live engine's selection loop) and explain only when they give up. It
/// allocates nothing.
pub fn try_select_server<'a, R: Rng + ?Sized>(
    topology: &'a TopologyDescription,
    criteria: &'a SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &'a [ServerAddress],
    rng: &mut R,
    operation_count: impl Fn(&ServerDescription) -> u64,
) -> Result<&'a ServerDescription, SelectionFailure> {
    let mut servers = ServerList::new();
    let (_, in_window, first) =
        fill_suitable(topology, criteria, settings, deprioritized, &mut servers)?;
    let index = power_of_two_choices(in_window, rng, |index| {
        servers.get(index).map_or(u64::MAX, &operation_count)
    });
    Ok(servers.get(index).unwrap_or(first))
}

/// Why [`try_select_server`] found no server, without the server-by-server explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectionFailure {
    /// See [`SelectionError::InvalidCriteria`].
    InvalidCriteria(ReadPreferenceError),
    /// See [`SelectionError::IncompatibleTopology`].
    IncompatibleTopology,
    /// See [`SelectionError::NoSuitableServer`].
    NoSuitableServer,
}

impl SelectionFailure {
    /// Whether waiting for a topology change (and selecting again) may succeed.
    pub fn may_succeed_later(&self) -> bool {
        matches!(self, SelectionFailure::NoSuitableServer)
    }

    /// The full error, with the explanation of what selecting with `criteria` in `topology`
    /// gives, server by server.
    pub fn explain(
        self,
        topology: &TopologyDescription,
        criteria: &SelectionCriteria,
        settings: &SelectionSettings,
        deprioritized: &[ServerAddress],
    ) -> SelectionError {
        let explain = || {
            Box::new(explain_selection(
                topology,
                criteria,
                settings,
                deprioritized,
            ))
        };
        match self {
            SelectionFailure::InvalidCriteria(error) => SelectionError::InvalidCriteria(error),
            SelectionFailure::IncompatibleTopology => {
                SelectionError::IncompatibleTopology(explain())
            }
            SelectionFailure::NoSuitableServer => SelectionError::NoSuitableServer(explain()),
        }
    }
}

/// The steps of [`select_suitable_with_deprioritized`]: fills `servers` with the suitable
/// servers, those in the window first, and returns the window, how many are in it and the
/// first of them.
fn fill_suitable<'a>(
    topology: &'a TopologyDescription,
    criteria: &'a SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &'a [ServerAddress],
    servers: &mut ServerList<'a>,
) -> Result<(LatencyWindow, usize, &'a ServerDescription), SelectionFailure> {
    match check_preconditions(topology, criteria, settings) {
        Ok(()) => {}
        Err(PreconditionFailure::Incompatible) => {
            return Err(SelectionFailure::IncompatibleTopology)
        }
        Err(PreconditionFailure::InvalidCriteria(error)) => {
            return Err(SelectionFailure::InvalidCriteria(error))
        }
    }
    find_suitable(topology, criteria, settings, deprioritized, servers);
    if let Some(filter) = criteria.filter() {
        servers.retain(|server| filter.accepts(server));
    }
    let (window, in_window) = apply_latency_window(servers, settings.local_threshold);
    match servers.get(0) {
        Some(first) => Ok((window, in_window, first)),
        None => Err(SelectionFailure::NoSuitableServer),
    }
}
