//! The live engine's network layer: client connections to servers and the connection
//! handshake.
//!
//! - [`Connection`]: one TCP stream speaking OP_MSG, opened by resolving the server's host
//!   (IPv4 and IPv6) and trying each address in turn, with connect and socket timeouts;
//!   it supports exhaust streaming (`moreToCome`) for the streaming monitors.
//! - [`handshake()`]: the initial hello with the client metadata, timed for the first RTT
//!   sample; [`hello_command`] builds the hellos of later checks.
//! - [`ConnectionError`]: every failure classified, convertible to the SDAM core's
//!   [`crate::sdam::ServerError`].

mod connection;
mod error;
pub mod handshake;
mod reply;
mod resolve;

pub use connection::{ConnectOptions, Connection};
pub use error::ConnectionError;
pub use handshake::{client_metadata, handshake, hello_command, Handshake, HandshakeOptions};
pub use reply::Reply;
