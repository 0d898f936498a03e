//! Server Discovery and Monitoring, pure: descriptions of servers and of the topology, and
//! the rules (SDAM's transition tables) that turn a hello outcome or an application error
//! into the next description plus the actions it requires.
//!
//! Nothing here performs I/O or reads a clock; time is passed in as [`crate::MonotonicTime`].
//!
//! - [`hello`]: a hello reply becomes a [`ServerDescription`];
//! - `transition` (private): the TopologyType table and its subroutines;
//! - [`departures`]: why a server was removed ([`RemovalReason`]), kept after it left;
//! - [`errors`]: classification of application errors;
//! - [`events`]: the [`Action`]s and [`SdamEvent`]s produced;
//! - [`refresh`]: when a heartbeat that changes nothing SDAM compares is still published;
//! - [`Topology`]: the state machine tying them together, with the re-seed rule (mgo's
//!   "dynamic seeds", [`Topology::reseed`]);
//! - [`warm_up`]: which servers get a pool connection early, and when;
//! - [`stream_pace`]: when a streaming check's server replies faster than the spec allows;
//! - SRV polling ([`Topology::apply_srv_records`], [`rescan_interval`]): the Polling SRV
//!   Records spec.

pub mod compatibility;
pub mod departures;
mod diff;
pub mod errors;
pub mod events;
pub mod hello;
mod machine;
pub mod refresh;
pub mod server;
pub mod settings;
pub mod stream_pace;
pub mod topology;
mod topology_type;
mod transition;
pub mod warm_up;

#[cfg(test)]
mod tests_departures;
#[cfg(test)]
mod tests_derived;
#[cfg(test)]
mod tests_fast_path;
#[cfg(test)]
mod tests_growth;
#[cfg(test)]
mod tests_hello;
#[cfg(test)]
mod tests_reseed;
#[cfg(test)]
mod tests_topology;
#[cfg(test)]
mod tests_warm_up;

pub use compatibility::{CLIENT_MAX_WIRE_VERSION, CLIENT_MIN_WIRE_VERSION};
pub use departures::{Departure, Departures, RemovalReason, MAX_DEPARTURES};
pub use errors::{ApplicationError, ApplicationErrorKind, CommandFailure, ErrorPhase};
pub use events::{Action, Changes, SdamEvent};
pub use hello::CheckTiming;
pub use machine::srv_polling::{polled_hosts, rescan_interval, MIN_RESCAN_INTERVAL};
pub use machine::{Topology, DEFAULT_RESEED_INTERVAL};
pub use refresh::RepublishReason;
pub use server::{ServerDescription, ServerError, ServerErrorKind, ServerType, TopologyVersion};
pub use settings::{SettingsError, TopologySettings};
pub use stream_pace::{StreamPace, StreamVerdict, EARLY_REPLY_BUDGET, FAST_CHANGE_BUDGET};
pub use topology::{
    ServerMap, ServersInOrder, TopologyDescription, TopologyType, MAX_SERVERS_ADDED_BY_REPLIES,
};
pub use warm_up::{WarmUpAfterCheck, WarmUpPolicy, WARM_UP_LIMIT};
