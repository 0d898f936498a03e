//! # mongo-topology
//!
//! A client-side MongoDB topology engine: it discovers the servers of a deployment from a
//! seed list, keeps a live picture of their roles and round-trip times, and selects a server
//! for each operation, following the MongoDB Server Discovery and Monitoring (SDAM), Server
//! Selection, Max Staleness and Connection String specifications.
//!
//! The crate is layered:
//! - a **pure core** with no I/O and no clock reads ([`options`], [`sdam`], [`selection`],
//!   [`wire`]): time is passed in as [`MonotonicTime`], so the spec test suites, property tests
//!   and the live engine all run exactly the same rules;
//! - the **engine** ([`engine`]): client connections and the handshake, the first piece of
//!   the live engine (tokio);
//! - the **simulator** ([`sim`]): MongoDB nodes on loopback speaking the real wire protocol,
//!   for tests, demos and benchmarks.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod engine;
pub mod options;
pub mod sdam;
pub mod selection;
pub mod sim;
pub mod time;
pub mod wire;

pub use address::{AddressError, ServerAddress, DEFAULT_PORT};
pub use time::MonotonicTime;
