//! A node's listener task: accepts connections and owns their tasks, so stopping the
//! listener (`Shared::stop_listener`) closes every connection of the node; its
//! `drop_connections` signal closes them while it keeps listening.

use std::sync::Arc;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinSet;

use super::connection::serve_connection;
use super::shared::{Listener, Shared};
use super::SimError;

/// Idle time before the first keepalive probe, as the MongoDB production notes advise
/// for mongod hosts: a peer that vanished without closing is found in minutes, not hours.
const KEEPALIVE_TIME: Duration = Duration::from_secs(120);

/// Interval between keepalive probes once they started.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Binds node `idx`'s port again (after a kill) and starts its listener task.
pub(crate) async fn start_listener(shared: &Arc<Shared>, idx: usize) -> Result<(), SimError> {
    let node = shared
        .nodes
        .get(idx)
        .ok_or(SimError::NoSuchMember(idx.to_string()))?;
    let listener = TcpListener::bind((node.host.as_str(), node.port))
        .await
        .map_err(|source| SimError::Bind {
            address: format!("{}:{}", node.host, node.port),
            source,
        })?;
    spawn_listener(shared, idx, listener);
    Ok(())
}

/// Starts node `idx`'s listener task on a bound `listener`.
pub(crate) fn spawn_listener(shared: &Arc<Shared>, idx: usize, listener: TcpListener) {
    let (stop, stopped) = oneshot::channel();
    let drop_connections = Arc::new(Notify::new());
    let task = tokio::spawn(run_listener(
        Arc::clone(shared),
        idx,
        listener,
        stopped,
        Arc::clone(&drop_connections),
    ));
    if let Some(node) = shared.nodes.get(idx) {
        node.set_listener(Listener {
            stop,
            task,
            drop_connections,
        });
    }
}

/// Accepts connections on `listener` until `stop` fires (or its sender is dropped), then
/// closes the listening socket and every connection. `drop_connections` closes the
/// connections accepted so far, and accepting goes on.
async fn run_listener(
    shared: Arc<Shared>,
    idx: usize,
    listener: TcpListener,
    mut stop: oneshot::Receiver<()>,
    drop_connections: Arc<Notify>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = drop_connections.notified() => {
                tracing::debug!(node = idx, count = connections.len(), "dropping connections");
                connections.shutdown().await;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    configure(&stream);
                    let id = shared.next_connection_id();
                    tracing::debug!(node = idx, connection = id, %peer, "accepted connection");
                    connections.spawn(serve_connection(Arc::clone(&shared), idx, stream, id, peer));
                }
                Err(e) => {
                    // E.g. too many open files: back off instead of spinning.
                    tracing::warn!(node = idx, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// No Nagle delay, and TCP keepalive so that a connection whose peer vanished (no FIN, no
/// reset) is eventually closed by the kernel, ending its task.
fn configure(stream: &TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("cannot set TCP_NODELAY: {e}");
    }
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_TIME)
        .with_interval(KEEPALIVE_INTERVAL);
    if let Err(e) = SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!("cannot enable TCP keepalive: {e}");
    }
}
