//! [`PooledConnection`]: a checked-out connection that goes back to its pool when dropped.

use std::ops::{Deref, DerefMut};
use std::sync::Weak;

use tokio::sync::watch;

use crate::connection::Connection;

use super::live::Shared;
use super::ConnectionId;

/// A checked-out connection: derefs to the [`Connection`], and goes back to its pool when
/// dropped (closed instead if [`PooledConnection::mark_broken`] was called, if the
/// connection broke or was left awaiting a reply, or if the pool was cleared or closed).
pub struct PooledConnection {
    pub(super) connection: Option<Connection>,
    pub(super) id: ConnectionId,
    pub(super) generation: u32,
    pub(super) healthy: bool,
    pub(super) interrupted: watch::Receiver<bool>,
    pub(super) pool: Weak<Shared>,
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConnection")
            .field("id", &self.id)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl PooledConnection {
    /// The pool's number for this connection (CMAP `connectionId`).
    pub fn pool_id(&self) -> ConnectionId {
        self.id
    }

    /// The pool generation this connection belongs to (for SDAM error handling).
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Closes the connection instead of reusing it when it is dropped.
    pub fn mark_broken(&mut self) {
        self.healthy = false;
    }

    /// Whether a clear with interruptInUseConnections interrupted this connection.
    pub fn is_interrupted(&self) -> bool {
        *self.interrupted.borrow()
    }

    /// A watch that turns `true` when a clear with interruptInUseConnections interrupts
    /// this connection, for `select!`ing against an operation that borrows the connection.
    pub fn interruption(&self) -> watch::Receiver<bool> {
        self.interrupted.clone()
    }

    /// Completes when a clear with interruptInUseConnections interrupts this connection;
    /// `select!` it against the operation to cancel the operation.
    pub async fn interrupted(&mut self) {
        if self.interrupted.wait_for(|flag| *flag).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Deref for PooledConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.connection
            .as_ref()
            .expect("a pooled connection holds its connection until dropped")
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        self.connection
            .as_mut()
            .expect("a pooled connection holds its connection until dropped")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let (Some(socket), Some(pool)) = (self.connection.take(), self.pool.upgrade()) else {
            return;
        };
        let healthy = self.healthy
            && !socket.is_broken()
            && !socket.awaiting_reply()
            && !self.is_interrupted();
        pool.check_in(self.id, socket, healthy);
    }
}
