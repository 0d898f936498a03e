//! The cluster task's side of one server monitor ([`crate::monitor::server_monitor`]): it
//! starts the monitor's task, wakes it (a check requested, a retry, a cancel) and stops it.
//! Stopping a monitor is dropping its handle: the task is aborted, which closes both its
//! sockets.

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::address::ServerAddress;
use crate::monitor::server_monitor::Monitor;
use crate::monitor::shared::MonitorShared;

/// The cluster task's side of one monitor. Dropping it stops the monitor.
#[derive(Debug)]
pub(crate) struct MonitorHandle {
    id: u64,
    request: watch::Sender<()>,
    retry: watch::Sender<()>,
    cancel: watch::Sender<()>,
    /// Lets the monitor begin its first check; taken by [`MonitorHandle::release`].
    go: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl MonitorHandle {
    /// Creates the monitor of `address`, held until [`MonitorHandle::release`]: the cluster
    /// task first logs and emits the events that announce the server (SDAM orders
    /// ServerOpening and its log message before any heartbeat of that server).
    pub(crate) fn start(address: ServerAddress, id: u64, shared: MonitorShared) -> Self {
        let (request, request_rx) = watch::channel(());
        let (retry, retry_rx) = watch::channel(());
        let (cancel, cancel_rx) = watch::channel(());
        let monitor = Monitor::new(address, id, shared, request_rx, retry_rx);
        let (go, go_rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            // A handle dropped before its release stops the monitor before its first check.
            if go_rx.await.is_ok() {
                monitor.run(cancel_rx).await;
            }
        });
        MonitorHandle {
            id,
            request,
            retry,
            cancel,
            go: Some(go),
            task,
        }
    }

    /// Lets the monitor begin checking (once; later calls do nothing).
    pub(crate) fn release(&mut self) {
        if let Some(go) = self.go.take() {
            let _ = go.send(());
        }
    }

    /// This monitor's id.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// SDAM "Requesting an immediate check": check soon, respecting minHeartbeatFrequencyMS.
    pub(crate) fn request_check(&self) {
        self.request.send_replace(());
    }

    /// A known server failed with a network error: check again at once.
    pub(crate) fn retry_now(&self) {
        self.retry.send_replace(());
    }

    /// Abandon the check in progress and its connection (after the pool was cleared for a
    /// network error on an application connection).
    pub(crate) fn cancel_check(&self) {
        self.cancel.send_replace(());
    }

    /// Stops the task and waits until it is gone (its sockets are closed by then).
    pub(crate) async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for MonitorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
