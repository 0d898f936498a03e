//! A node's listener task: accepts connections and owns their tasks, so stopping the
//! listener closes every connection of the node.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::connection::serve_connection;
use super::deployment::Shared;

/// Accepts connections on `listener` until `stop` fires (or its sender is dropped), then
/// closes the listening socket and every connection.
pub(crate) async fn run_listener(
    shared: Arc<Shared>,
    idx: usize,
    listener: TcpListener,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let id = shared.next_connection_id();
                    tracing::debug!(node = idx, connection = id, %peer, "accepted connection");
                    connections.spawn(serve_connection(Arc::clone(&shared), idx, stream, id));
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
