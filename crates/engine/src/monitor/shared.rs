//! What the monitors of one cluster share ([`MonitorShared`]) and what they tell the cluster
//! task ([`MonitorReport`]): the server monitor and the RTT monitor both build on this file,
//! so neither imports the other's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::address::ServerAddress;
use crate::events::EventEmitter;
use crate::monitor::monitoring_connection::MonitorConnector;
use crate::monitor::schedule::CheckClock;
use crate::sdam::{ServerDescription, ServerError};
use crate::settings::cluster_settings::ClusterSettings;
use crate::time::MonotonicTime;

/// What a monitor tells the cluster task.
#[derive(Debug)]
pub(crate) enum MonitorReport {
    /// A check finished: a hello reply, or why there is none.
    Checked {
        /// The server.
        address: ServerAddress,
        /// Which monitor (a server removed and added again gets a new one).
        monitor_id: u64,
        /// The outcome.
        outcome: CheckOutcome,
    },
}

impl MonitorReport {
    /// The server and the monitor the report comes from.
    pub(crate) fn source(&self) -> (&ServerAddress, u64) {
        match self {
            MonitorReport::Checked {
                address,
                monitor_id,
                ..
            } => (address, *monitor_id),
        }
    }
}

/// The round trips an RTT monitor measured since its server monitor's last report
/// (streaming): handed to the cluster task with the next streamed reply.
#[derive(Clone, Debug, Default)]
pub(crate) struct RttSamples(Arc<Mutex<Vec<Duration>>>);

impl RttSamples {
    /// Adds one sample.
    pub(crate) fn push(&self, sample: Duration) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(sample);
    }

    /// The samples added since the last call, oldest first.
    pub(crate) fn take(&self) -> Vec<Duration> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// The outcome of one check.
#[derive(Debug)]
pub(crate) enum CheckOutcome {
    /// The server answered hello.
    Hello {
        /// The server's description as the core read it from the reply
        /// ([`crate::sdam::ServerDescription::from_hello`], in the monitor's task, once per
        /// reply), without its round trip times: the cluster task adds them.
        description: Box<ServerDescription>,
        /// The round trip of a non-awaited check (`None` for streamed replies).
        round_trip: Option<Duration>,
        /// The RTT monitor's samples since the previous report (streaming; oldest first).
        rtt_samples: Vec<Duration>,
    },
    /// The check failed.
    Failed(ServerError),
}

/// What every monitor shares: settings, how to open monitoring connections, where to
/// report, events.
#[derive(Clone, Debug)]
pub(crate) struct MonitorShared {
    pub(crate) settings: Arc<ClusterSettings>,
    /// Opens the monitoring connections (handshake and TLS included).
    pub(crate) connector: Arc<MonitorConnector>,
    pub(crate) reports: mpsc::Sender<MonitorReport>,
    pub(crate) events: EventEmitter,
    /// Bumped by `Cluster::request_check`: every polling monitor checks soon.
    pub(crate) check_all: watch::Receiver<u64>,
    /// When timed checks and RTT pings are due (aligned across the cluster's monitors).
    pub(crate) clock: CheckClock,
    /// The cluster's epoch: the instant of its [`MonotonicTime::ZERO`].
    pub(crate) epoch: Instant,
}

impl MonitorShared {
    /// Now, on the cluster's clock (the SDAM core's time, passed in).
    pub(crate) fn now(&self) -> MonotonicTime {
        MonotonicTime::from_offset(Instant::now().saturating_duration_since(self.epoch))
    }
}
