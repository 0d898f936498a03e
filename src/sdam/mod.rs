//! Server Discovery and Monitoring, pure: descriptions of servers and of the topology, and
//! the rules (SDAM's transition tables) that turn a hello outcome or an application error
//! into the next description plus the actions it requires.
//!
//! Nothing here performs I/O or reads a clock; time is passed in as [`crate::MonotonicTime`].

pub mod server;
pub mod topology;

pub use server::{ServerDescription, ServerError, ServerErrorKind, ServerType, TopologyVersion};
pub use topology::{TopologyDescription, TopologyType};
