//! The connection layer: one client connection to one server and everything it is made of.
//!
//! - `stream`, `tcp`, [`tls`]: the byte stream (TCP, optionally TLS with rustls) and its
//!   timeouts;
//! - `dns`: host and SRV lookups (`hickory-resolver`), a leaf;
//! - `channel`: the [`Connection`] speaking OP_MSG over the stream, with its `reply` reader;
//! - [`handshake`]: the initial handshake and the hello commands of monitoring;
//! - [`auth`]: authentication conversations over a handshaken connection;
//! - `error`: what a connection can fail with ([`ConnectionError`], [`AuthError`]).
//!
//! Nothing here knows about pools, monitors or the cluster: those layers build on this one.

pub(crate) mod auth;
pub(crate) mod channel;
pub(crate) mod dns;
pub(crate) mod error;
pub(crate) mod handshake;
pub(crate) mod reply;
pub(crate) mod stream;
pub(crate) mod tcp;
pub(crate) mod tls;
pub(crate) mod tls_verify;

pub use auth::{AuthError, AuthErrorKind};
pub use channel::{ConnectOptions, Connection, MAX_HELLO_REPLY_SIZE};
pub use error::ConnectionError;
pub use reply::Reply;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod tests;
