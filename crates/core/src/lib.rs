//! # mongo-topology-core
//!
//! The pure core of mongo-topology. Library users normally depend on the `mongo-topology`
//! crate, which re-exports everything here and adds the live engine.
//!
//! Everything here is pure: no I/O, no clock reads, no tasks ([`options`], [`sdam`], [`cmap`],
//! [`selection`], [`wire`], [`auth`], and [`reply`], the one reader of a reply's status
//! fields). Time is passed in as [`MonotonicTime`], so the spec test suites,
//! the property tests and the live engine all run exactly the same rules. The one exception
//! is `wire::framing`, a thin async wrapper over the codec, compiled only with the `tokio`
//! feature.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod auth;
pub mod cmap;
pub mod options;
pub mod recording;
pub mod reply;
pub mod sdam;
pub mod selection;
pub mod time;
pub mod wire;

pub use address::{AddressError, ServerAddress, DEFAULT_PORT};
pub use time::MonotonicTime;
