//! The balancer's front: a layer-4 proxy forwarding each client connection, whole, to one
//! running node (round robin): the mongos routers, or, staging a common mistake, the
//! members of a replica set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::shared::Shared;
use crate::SimError;

/// Binds the balancer on `host:port` (0: a free port) and starts forwarding.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    host: &str,
    port: u16,
) -> Result<JoinHandle<()>, SimError> {
    let bind_error = |source| SimError::Bind {
        address: format!("{host}:{port}"),
        source,
    };
    let listener = TcpListener::bind((host, port)).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    shared
        .load_balancer
        .set_address(format!("{host}:{}", bound.port()));
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
        self.shared.load_balancer.unregister(self.local);
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
    shared.load_balancer.register(local);
    let _registered = Registered {
        shared: &shared,
        local,
    };
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

/// Connects to the running nodes in round-robin order, skipping those that refuse (as a
/// balancer's health checks would).
async fn connect_backend(shared: &Shared) -> Option<TcpStream> {
    let running: Vec<usize> = {
        let world = shared.world();
        (0..world.nodes.len())
            .filter(|i| world.node(*i).is_some_and(|n| n.alive))
            .collect()
    };
    if running.is_empty() {
        return None;
    }
    let start = shared.load_balancer.next_position();
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
