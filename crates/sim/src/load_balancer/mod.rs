//! A load balancer in front of the mongos nodes of a deployment, and what a mongos behind
//! it answers to the handshake.
//!
//! The front is a layer-4 proxy, as the load balancers of the Load Balancer spec are: it
//! listens on its own port and forwards each client connection, whole, to one mongos
//! (round robin over the running ones). When either side closes, it closes the other, so
//! killing a mongos closes every client connection that went to it.
//!
//! A real mongos knows the connections of its balancer by their port (`loadBalancerPort`,
//! spoken with the PROXY protocol). The simulator knows them by address: the front
//! registers the local address of each connection it opens to a mongos before it forwards
//! a byte, and the mongos looks the peer of a connection up when it answers a handshake.
//!
//! What a mongos does with a connection's handshake (as `mongos`' `load_balancer_support`
//! does, and as its jstest `load_balanced_hello` checks):
//!
//! | connection       | `loadBalanced: true` | reply to the first handshake                 |
//! |------------------|----------------------|----------------------------------------------|
//! | from the balancer | yes                 | the usual reply plus `serviceId`             |
//! | from the balancer | no                  | error `LoadBalancerSupportMismatch`, closed  |
//! | direct           | either               | the usual reply (the option is ignored)      |
//!
//! Later handshakes on a connection never carry `serviceId`.
//!
//! The balancer may also stand in front of the members of a replica set (or a standalone),
//! a mistake seen in the field: a mongod ignores `loadBalanced` and never answers with a
//! `serviceId`, and each new connection through the one address reaches the next member,
//! so successive handshakes flip between primary and secondaries (`me`, `electionId`).

mod front;
mod hello;
mod state;

pub(crate) use front::start;
pub use hello::LOAD_BALANCER_SUPPORT_MISMATCH;
pub(crate) use hello::{on_hello, AfterHello};
pub use state::LoadBalancerCounts;
pub(crate) use state::LoadBalancerState;
