//! The load balancer's state shared with the nodes: the addresses of its connections to
//! the mongos nodes, its round-robin position and its counters. A leaf: the nodes (through
//! the deployment's shared state) and the front both read it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// What went through the load balancer so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadBalancerCounts {
    /// Client connections forwarded to a mongos.
    pub connections: u64,
    /// Handshakes (`hello`/`isMaster`) the mongos answered on those connections.
    pub handshakes: u64,
}

/// The load balancer's state shared with the nodes.
#[derive(Debug, Default)]
pub(crate) struct LoadBalancerState {
    /// "host:port" the balancer listens on, once started.
    address: OnceLock<String>,
    /// Local addresses of the balancer's open connections to mongos nodes.
    peers: Mutex<HashSet<SocketAddr>>,
    /// Round-robin position.
    next: AtomicUsize,
    connections: AtomicU64,
    handshakes: AtomicU64,
}

impl LoadBalancerState {
    /// The balancer's "host:port", when the deployment has one.
    pub(crate) fn address(&self) -> Option<&str> {
        self.address.get().map(String::as_str)
    }

    /// The counters so far.
    pub(crate) fn counts(&self) -> LoadBalancerCounts {
        LoadBalancerCounts {
            connections: self.connections.load(Ordering::Relaxed),
            handshakes: self.handshakes.load(Ordering::Relaxed),
        }
    }

    /// Records the balancer's "host:port" once it listens.
    pub(super) fn set_address(&self, address: String) {
        let _ = self.address.set(address);
    }

    fn peers(&self) -> MutexGuard<'_, HashSet<SocketAddr>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers the local address of a connection the balancer opened to a mongos, and
    /// counts it.
    pub(super) fn register(&self, local: SocketAddr) {
        self.peers().insert(local);
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets a connection registered by [`Self::register`] once it ends.
    pub(super) fn unregister(&self, local: SocketAddr) {
        self.peers().remove(&local);
    }

    /// Whether a connection whose peer is `peer` came through the balancer.
    pub(super) fn forwarded(&self, peer: SocketAddr) -> bool {
        self.peers().contains(&peer)
    }

    /// Counts a handshake a mongos answered on a forwarded connection.
    pub(super) fn count_handshake(&self) {
        self.handshakes.fetch_add(1, Ordering::Relaxed);
    }

    /// The round-robin position for the next connection (increasing).
    pub(super) fn next_position(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}
