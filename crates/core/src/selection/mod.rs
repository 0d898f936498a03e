//! Server selection, pure: read preferences, tag sets, max staleness, the latency window,
//! the final choice, RTT tracking, and explanations of failures.
//!
//! Follows the Server Selection spec, the Max Staleness spec and the RTT parts of the Server
//! Monitoring spec. Nothing here performs I/O, reads a clock or draws its own randomness:
//! the topology description, settings, random number generator and operation counts are
//! all passed in.
//!
//! ```
//! use mongo_topology_core::selection::{
//!     select_suitable, ReadPreference, ReadPreferenceMode, SelectionCriteria, SelectionSettings,
//! };
//! use mongo_topology_core::sdam::{TopologyDescription, TopologyType};
//!
//! let topology = TopologyDescription::with_seeds(TopologyType::Unknown, None, []);
//! let criteria = SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Nearest));
//! let error = select_suitable(&topology, &criteria, &SelectionSettings::default()).unwrap_err();
//! assert!(error.may_succeed_later());
//! assert!(error.to_string().contains("no server is suitable for read with mode nearest"));
//! ```
//!
//! Layout: [`read_preference`] (building and validating read preferences), [`criteria`]
//! (criteria and settings), `suitable` (entry points), `select` (the rules by topology type),
//! `staleness`, `tags`,
//! [`window`] (latency window, power of two choices), [`rtt`], [`explain`].

pub mod command_argument;
pub mod criteria;
pub mod explain;
mod from_uri;
pub mod read_preference;
pub mod rtt;
mod select;
mod server_list;
mod staleness;
mod suitable;
mod tags;
pub mod window;

pub use command_argument::{read_preference_argument, read_preference_document};
pub use criteria::{
    Operation, SelectionCriteria, SelectionSettings, ServerFilter, DEFAULT_HEARTBEAT_FREQUENCY,
    DEFAULT_LOCAL_THRESHOLD,
};
pub use explain::{
    explain_selection, Reason, SelectionExplanation, ServerVerdict, TopologyProblem,
    MAX_DEPARTED_IN_EXPLANATION,
};
pub use read_preference::{
    ReadPreference, ReadPreferenceError, ReadPreferenceMode, TagSet, IDLE_WRITE_PERIOD,
    SMALLEST_MAX_STALENESS,
};
pub use rtt::RttTracker;
pub use select::is_available;
pub use server_list::INLINE_CAPACITY;
pub use staleness::secondary_staleness_millis;
pub use suitable::{
    select_server, select_suitable, select_suitable_with_deprioritized, try_select_server,
    SelectionError, SelectionFailure, SuitableServers,
};
pub use window::LatencyWindow;
