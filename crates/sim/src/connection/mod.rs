//! One client connection to a node: read a message, run the command, write the reply;
//! awaitable hello and exhaust streaming. A malformed message closes this connection with
//! a log line and nothing else.
//!
//! - [`serve`]: the request loop (run the command, apply the hello rules, send the reply);
//! - [`accept`]: the TCP or TLS streams of a new connection (and the `stall-tls-handshake`
//!   fault);
//! - [`awaitable`]: awaitable hello, waiting for a topology change;
//! - [`io`]: the read and write sides, why a connection ends, simulated latency.

mod accept;
mod awaitable;
mod io;
mod serve;

pub(crate) use serve::serve_connection;
