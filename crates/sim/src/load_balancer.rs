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

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bson::{Bson, Document};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::reply::error_reply;
use super::shared::Shared;
use super::state::NodeKind;

/// The server's error code `LoadBalancerSupportMismatch`.
pub const LOAD_BALANCER_SUPPORT_MISMATCH: i32 = 354;

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

    fn peers(&self) -> std::sync::MutexGuard<'_, HashSet<SocketAddr>> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a connection whose peer is `peer` came through the balancer.
    fn forwarded(&self, peer: SocketAddr) -> bool {
        self.peers().contains(&peer)
    }
}

/// What the connection does after a handshake reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterHello {
    /// Goes on serving.
    KeepOpen,
    /// Closes once the reply is sent.
    Close,
}

/// Applies the table of the module documentation to the `reply` of node `idx` to a
/// handshake `command` arriving from `peer`; `first`: the connection's first handshake.
pub(crate) fn on_hello(
    shared: &Shared,
    idx: usize,
    peer: SocketAddr,
    first: bool,
    command: &Document,
    reply: &mut Document,
) -> AfterHello {
    if !shared.load_balancer.forwarded(peer) {
        return AfterHello::KeepOpen;
    }
    shared
        .load_balancer
        .handshakes
        .fetch_add(1, Ordering::Relaxed);
    let service_id = match shared.world().node(idx) {
        Some(node) if node.kind == NodeKind::Mongos => node.service_id,
        _ => return AfterHello::KeepOpen,
    };
    if !first || reply.get_f64("ok").ok() != Some(1.0) {
        return AfterHello::KeepOpen;
    }
    if matches!(command.get("loadBalanced"), Some(Bson::Boolean(true))) {
        reply.insert("serviceId", service_id);
        AfterHello::KeepOpen
    } else {
        *reply = error_reply(
            LOAD_BALANCER_SUPPORT_MISMATCH,
            "LoadBalancerSupportMismatch",
            "The server is being accessed through a load balancer, but this driver does not \
             have load balancing enabled",
        );
        AfterHello::Close
    }
}

/// Binds the balancer on `host:port` (0: a free port) and starts forwarding.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    host: &str,
    port: u16,
) -> Result<JoinHandle<()>, super::SimError> {
    let bind_error = |source| super::SimError::Bind {
        address: format!("{host}:{port}"),
        source,
    };
    let listener = TcpListener::bind((host, port)).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    let _ = shared
        .load_balancer
        .address
        .set(format!("{host}:{}", bound.port()));
    Ok(tokio::spawn(run(Arc::clone(shared), listener)))
}

/// Accepts client connections and forwards each on its own task; aborting this task
/// closes them all.
async fn run(shared: Arc<Shared>, listener: TcpListener) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    let _ = client.set_nodelay(true);
                    connections.spawn(forward(Arc::clone(&shared), client));
                }
                Err(e) => {
                    tracing::warn!("load balancer: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Removes a forwarded connection's address from the registry when it ends, however.
struct Registered<'a> {
    shared: &'a Shared,
    local: SocketAddr,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared.load_balancer.peers().remove(&self.local);
    }
}

/// Forwards one client connection to the next running mongos until either side closes.
async fn forward(shared: Arc<Shared>, client: TcpStream) {
    let Some(backend) = connect_backend(&shared).await else {
        tracing::debug!("load balancer: no mongos running, closing the client connection");
        return;
    };
    let Ok(local) = backend.local_addr() else {
        return;
    };
    shared.load_balancer.peers().insert(local);
    let _registered = Registered {
        shared: &shared,
        local,
    };
    shared
        .load_balancer
        .connections
        .fetch_add(1, Ordering::Relaxed);
    let _ = backend.set_nodelay(true);
    let (client_rd, client_wr) = client.into_split();
    let (backend_rd, backend_wr) = backend.into_split();
    // The first direction to end (a close, a reset) ends both: no half-open connections.
    tokio::select! {
        _ = pipe(client_rd, backend_wr) => {}
        _ = pipe(backend_rd, client_wr) => {}
    }
}

async fn pipe<R, W>(mut from: R, mut to: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let _ = tokio::io::copy(&mut from, &mut to).await;
}

/// Connects to the running mongos nodes in round-robin order, skipping those that refuse
/// (as a balancer's health checks would).
async fn connect_backend(shared: &Shared) -> Option<TcpStream> {
    let running: Vec<usize> = {
        let world = shared.world();
        (0..world.nodes.len())
            .filter(|i| {
                world
                    .node(*i)
                    .is_some_and(|n| n.kind == NodeKind::Mongos && n.alive)
            })
            .collect()
    };
    if running.is_empty() {
        return None;
    }
    let start = shared.load_balancer.next.fetch_add(1, Ordering::Relaxed);
    for offset in 0..running.len() {
        let idx = running[(start + offset) % running.len()];
        let Some(node) = shared.nodes.get(idx) else {
            continue;
        };
        match TcpStream::connect((node.host.as_str(), node.port)).await {
            Ok(stream) => return Some(stream),
            Err(e) => tracing::debug!(port = node.port, "load balancer: backend refused: {e}"),
        }
    }
    None
}
