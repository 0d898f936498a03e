//! Why each server was or was not chosen: [`SelectionExplanation`].
//!
//! The Server Selection spec asks for errors "sufficiently verbose to allow users and/or
//! support engineers to determine the reasons for server selection failures". An explanation
//! re-checks every known server against the rules the selection applied and records the first
//! rule it failed, with the numbers involved. Building one allocates; selection only builds
//! one when it fails (or when asked, e.g. by a CLI).

use std::fmt;
use std::time::Duration;

use crate::address::ServerAddress;
use crate::sdam::{
    Departure, ServerDescription, ServerError, ServerType, TopologyDescription, TopologyType,
};
use crate::selection::criteria::{SelectionCriteria, SelectionSettings};
use crate::selection::read_preference::{format_tag_sets, format_tags, ReadPreferenceMode, TagSet};
use crate::selection::select::{
    check_preconditions, find_suitable, is_available, Candidates, Plan, PreconditionFailure,
};
use crate::selection::server_list::ServerList;
use crate::selection::staleness::{Staleness, StalenessCheck};
use crate::selection::tags::TagChoice;
use crate::selection::window::{apply_latency_window, LatencyWindow};

/// A problem of the whole topology that makes every server unsuitable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopologyProblem {
    /// Topology type Unknown: no server is suitable until the deployment kind is known.
    UnknownTopology,
    /// A server's wire version range does not overlap the client's (the SDAM
    /// `compatibilityError`).
    Incompatible(String),
    /// The read preference is invalid for this topology.
    InvalidCriteria(String),
}

impl fmt::Display for TopologyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopologyProblem::UnknownTopology => f.write_str(
                "the topology type is Unknown: no server is suitable until a server's type \
                 reveals the kind of deployment",
            ),
            TopologyProblem::Incompatible(message) => {
                write!(f, "the topology is incompatible: {message}")
            }
            TopologyProblem::InvalidCriteria(message) => write!(f, "{message}"),
        }
    }
}

/// Why one server was or was not selectable: the first rule it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Suitable and within the latency window: a possible choice.
    InLatencyWindow,
    /// Type Unknown or PossiblePrimary: not available. Carries its last error, if any, or,
    /// for a server added back after a removal and not checked since, that removal.
    Unavailable {
        /// `ServerDescription.error`.
        error: Option<ServerError>,
        /// Its latest removal, when it has no error: added back (e.g. named again in a
        /// member's host list) and not checked since.
        removed: Option<Departure>,
    },
    /// A topology-wide problem applies (see [`SelectionExplanation::topology_problem`]).
    TopologyProblem,
    /// Its type is not one the topology type, operation and mode accept.
    WrongType {
        /// What the rules require, e.g. "mode primary requires the primary".
        requirement: &'static str,
    },
    /// Deprioritized for this operation (a retry), and other servers were suitable.
    Deprioritized,
    /// Its estimated staleness exceeds maxStalenessSeconds.
    TooStale {
        /// The estimate, in milliseconds.
        staleness_ms: i64,
        /// maxStalenessSeconds, in milliseconds.
        max_ms: i64,
    },
    /// Its staleness cannot be estimated (no lastWriteDate on it or on the reference server).
    StalenessUnknown,
    /// Its tags do not match the tag set selection used.
    TagsMismatch {
        /// The tag sets tried, in order, up to and including the one selection used; all of
        /// them, when none matched any candidate.
        tried: Vec<TagSet>,
        /// The server's tags.
        server_tags: TagSet,
    },
    /// Rejected by the application's server filter.
    RejectedByFilter,
    /// Suitable, but its average RTT is beyond the latency window.
    OutsideLatencyWindow {
        /// Its average RTT.
        rtt: Duration,
        /// The fastest suitable server's average RTT.
        fastest: Duration,
        /// localThresholdMS.
        local_threshold: Duration,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::InLatencyWindow => f.write_str("suitable and within the latency window"),
            Reason::Unavailable {
                error: Some(error), ..
            } => {
                write!(f, "unavailable, last error ({}): {error}", error.kind)
            }
            Reason::Unavailable {
                error: None,
                removed: Some(departure),
            } => write!(
                f,
                "unavailable: {departure}; added back since, not checked yet"
            ),
            Reason::Unavailable {
                error: None,
                removed: None,
            } => f.write_str("unavailable (not checked yet)"),
            Reason::TopologyProblem => f.write_str("not selectable: see the topology problem"),
            Reason::WrongType { requirement } => write!(f, "but {requirement}"),
            Reason::Deprioritized => {
                f.write_str("deprioritized for this retry, and other servers are suitable")
            }
            Reason::TooStale {
                staleness_ms,
                max_ms,
            } => write!(
                f,
                "too stale: estimated staleness {} s exceeds maxStalenessSeconds {} s by {} s",
                seconds(*staleness_ms),
                seconds(*max_ms),
                seconds(staleness_ms.saturating_sub(*max_ms))
            ),
            Reason::StalenessUnknown => f.write_str(
                "staleness unknown (no lastWriteDate for it or for the reference server), so \
                 not eligible under maxStalenessSeconds",
            ),
            Reason::TagsMismatch { tried, server_tags } => write!(
                f,
                "tags {} match none of the tag sets tried {}",
                format_tags(server_tags),
                format_tag_sets(tried)
            ),
            Reason::RejectedByFilter => f.write_str("rejected by the application's server filter"),
            Reason::OutsideLatencyWindow {
                rtt,
                fastest,
                local_threshold,
            } => write!(
                f,
                "suitable but outside the latency window: average RTT {} ms > fastest {} ms + \
                 localThresholdMS {} ms, by {} ms",
                millis(*rtt),
                millis(*fastest),
                millis(*local_threshold),
                millis(rtt.saturating_sub(fastest.saturating_add(*local_threshold)))
            ),
        }
    }
}

fn seconds(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

fn millis(duration: Duration) -> String {
    let text = format!("{:.3}", duration.as_secs_f64() * 1000.0);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One server and why it was or was not selectable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerVerdict {
    /// The server's address.
    pub address: ServerAddress,
    /// Its type.
    pub server_type: ServerType,
    /// The first rule it failed, or [`Reason::InLatencyWindow`].
    pub reason: Reason,
}

impl fmt::Display for ServerVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}, {}", self.address, self.server_type, self.reason)
    }
}

/// A server-by-server account of one selection. Its `Display` is a readable multi-line
/// message, the text of a server selection error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectionExplanation {
    /// The criteria, as text ("read with mode secondary, tag sets [{dc: ny}]").
    pub criteria: String,
    /// The topology type.
    pub topology_type: TopologyType,
    /// A problem of the whole topology, if any.
    pub topology_problem: Option<TopologyProblem>,
    /// Every known server, in address order.
    pub servers: Vec<ServerVerdict>,
    /// The servers removed from the topology and not added back, latest first, at most
    /// [`MAX_DEPARTED_IN_EXPLANATION`].
    pub departed: Vec<Departure>,
}

/// The most removed servers an explanation lists.
pub const MAX_DEPARTED_IN_EXPLANATION: usize = 20;

impl SelectionExplanation {
    /// Whether some server is a possible choice.
    pub fn has_selectable_server(&self) -> bool {
        self.servers
            .iter()
            .any(|server| server.reason == Reason::InLatencyWindow)
    }

    /// The verdict for `address`, if the server is known.
    pub fn verdict(&self, address: &ServerAddress) -> Option<&ServerVerdict> {
        self.servers
            .iter()
            .find(|server| &server.address == address)
    }
}

impl fmt::Display for SelectionExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_selectable_server() {
            write!(f, "server selection for {}", self.criteria)?;
        } else {
            write!(f, "no server is suitable for {}", self.criteria)?;
        }
        write!(f, " in a {} topology", self.topology_type)?;
        if let Some(problem) = &self.topology_problem {
            write!(f, ": {problem}")?;
        }
        if self.servers.is_empty() {
            f.write_str("; no server is known")?;
        }
        for server in &self.servers {
            write!(f, "\n  {server}")?;
        }
        for departure in &self.departed {
            write!(f, "\n  {}: {departure}", departure.address)?;
        }
        Ok(())
    }
}

/// Explains what selecting with `criteria` in `topology` gives, server by server, without
/// choosing. Selection errors carry this explanation.
pub fn explain_selection(
    topology: &TopologyDescription,
    criteria: &SelectionCriteria,
    settings: &SelectionSettings,
    deprioritized: &[ServerAddress],
) -> SelectionExplanation {
    let topology_problem = match check_preconditions(topology, criteria, settings) {
        Err(PreconditionFailure::Incompatible) => Some(TopologyProblem::Incompatible(
            topology.compatibility_error.clone().unwrap_or_default(),
        )),
        Err(PreconditionFailure::InvalidCriteria(error)) => {
            Some(TopologyProblem::InvalidCriteria(error.to_string()))
        }
        Ok(()) if topology.topology_type == TopologyType::Unknown => {
            Some(TopologyProblem::UnknownTopology)
        }
        Ok(()) => None,
    };
    let mut suitable = ServerList::new();
    let plan = find_suitable(topology, criteria, settings, deprioritized, &mut suitable);
    if let Some(filter) = criteria.filter() {
        suitable.retain(|server| filter.accepts(server));
    }
    let (window, _) = apply_latency_window(&mut suitable, settings.local_threshold);
    let servers = topology
        .servers
        .values()
        .map(|server| ServerVerdict {
            address: server.address.clone(),
            server_type: server.server_type,
            reason: match (&topology_problem, is_available(server)) {
                (_, false) => Reason::Unavailable {
                    error: server.error.clone(),
                    removed: server
                        .error
                        .is_none()
                        .then(|| topology.departures.get(&server.address).cloned())
                        .flatten(),
                },
                (Some(_), true) => Reason::TopologyProblem,
                (None, true) => reason(server, criteria, &plan, &window),
            },
        })
        .collect();
    SelectionExplanation {
        criteria: criteria.to_string(),
        topology_type: topology.topology_type,
        topology_problem,
        servers,
        departed: topology
            .departures
            .iter()
            .rev()
            .filter(|departure| !topology.servers.contains_key(&departure.address))
            .take(MAX_DEPARTED_IN_EXPLANATION)
            .cloned()
            .collect(),
    }
}

/// The first rule an available `server` fails under `plan`.
fn reason(
    server: &ServerDescription,
    criteria: &SelectionCriteria,
    plan: &Plan<'_>,
    window: &LatencyWindow,
) -> Reason {
    if plan.excluded.contains(&server.address) {
        return Reason::Deprioritized;
    }
    let tag_sets = criteria
        .read_preference()
        .map_or(&[][..], |read_preference| read_preference.tag_sets());
    if !plan.candidates.admits(server.server_type) {
        // secondaryPreferred fell back to the primary: a secondary failed the attempt with
        // mode secondary, for a reason of its own.
        if let (Some((staleness, tags)), ServerType::RsSecondary) =
            (&plan.secondary_attempt, server.server_type)
        {
            if let Some(reason) = eligibility_reason(server, staleness.as_ref(), tags, tag_sets) {
                return reason;
            }
        }
        return Reason::WrongType {
            requirement: requirement(criteria, plan.candidates, server.server_type),
        };
    }
    if let Some(reason) = eligibility_reason(server, plan.staleness.as_ref(), &plan.tags, tag_sets)
    {
        return reason;
    }
    if criteria
        .filter()
        .is_some_and(|filter| !filter.accepts(server))
    {
        return Reason::RejectedByFilter;
    }
    match (
        window.excess(server),
        server.round_trip_time,
        window.fastest,
    ) {
        (Some(_), Some(rtt), Some(fastest)) => Reason::OutsideLatencyWindow {
            rtt,
            fastest,
            local_threshold: window.local_threshold,
        },
        _ => Reason::InLatencyWindow,
    }
}

/// Why a candidate is not eligible (max staleness, then tag sets), if it is not.
fn eligibility_reason(
    server: &ServerDescription,
    staleness: Option<&StalenessCheck>,
    tags: &TagChoice<'_>,
    tag_sets: &[TagSet],
) -> Option<Reason> {
    if let Some(check) = staleness {
        match check.estimate(server) {
            Staleness::Unknown => return Some(Reason::StalenessUnknown),
            Staleness::EstimatedMillis(ms) if ms > check.max_millis() => {
                return Some(Reason::TooStale {
                    staleness_ms: ms,
                    max_ms: check.max_millis(),
                })
            }
            _ => {}
        }
    }
    if tags.admits(server) {
        return None;
    }
    let tried = match tags {
        TagChoice::Set { index, .. } => tag_sets.iter().take(index + 1).cloned().collect(),
        _ => tag_sets.to_vec(),
    };
    Some(Reason::TagsMismatch {
        tried,
        server_tags: server.tags.clone(),
    })
}

/// What the rules require, for a server whose type the plan's candidates exclude.
fn requirement(
    criteria: &SelectionCriteria,
    candidates: Candidates,
    server_type: ServerType,
) -> &'static str {
    use ReadPreferenceMode as Mode;
    let mode = criteria.read_preference().map(|rp| rp.mode());
    match (candidates, mode) {
        (Candidates::Nothing, _) => "no server is suitable in an Unknown topology",
        (Candidates::AnyAvailable, _) => "a Single topology requires an available server",
        (Candidates::Mongos, _) => "a Sharded topology selects mongos routers only",
        (Candidates::LoadBalancer, _) => "a LoadBalanced topology selects the load balancer only",
        (Candidates::Primary, None) => "a write requires the primary",
        (Candidates::Primary, Some(Mode::PrimaryPreferred))
            if server_type == ServerType::RsSecondary =>
        {
            "mode primaryPreferred reads from a secondary only when no primary is available"
        }
        (_, Some(Mode::PrimaryPreferred)) => {
            "mode primaryPreferred requires the primary or, without one, a secondary"
        }
        (Candidates::Secondaries, Some(Mode::SecondaryPreferred))
            if server_type == ServerType::RsPrimary =>
        {
            "mode secondaryPreferred reads from the primary only when no secondary is eligible"
        }
        (_, Some(Mode::SecondaryPreferred)) => {
            "mode secondaryPreferred requires a secondary or, when none is eligible, the primary"
        }
        (_, Some(Mode::Primary)) => "mode primary requires the primary",
        (_, Some(Mode::Secondary)) => "mode secondary requires a secondary",
        (_, Some(Mode::Nearest)) => "mode nearest requires the primary or a secondary",
        (_, None) => "a write requires the primary",
    }
}
