//! The engine's measurements, published through the [`metrics`](https://docs.rs/metrics)
//! facade when the `metrics` feature is on, so that an application embedding the library
//! sees them in its own exporter (Prometheus, OpenTelemetry, StatsD: whatever recorder it
//! installs). Without the feature every function here compiles to nothing.
//!
//! The connection pool's metrics follow OpenTelemetry's database client semantic
//! conventions (`db.client.connection.*`, attribute `db.client.connection.pool.name` = the
//! server's address, `db.client.connection.state` = `idle` or `used`); the monitoring and
//! selection metrics, which those conventions do not cover, are named `mongo_topology.*`.
//! Durations are in seconds. Handles are registered when a pool or a monitor starts, with
//! the recorder installed at that moment: install the recorder before creating the
//! [`Cluster`](crate::Cluster). `docs/metrics.md` lists every metric.

use std::time::Duration;

use mongo_topology_core::cmap::CmapEventKind;

use crate::error::ClusterError;
use crate::{MonotonicTime, ServerAddress};

/// `db.client.connection.count` (gauge): connections by `db.client.connection.state`,
/// `idle` (available in the pool) or `used` (checked out).
pub const CONNECTION_COUNT: &str = "db.client.connection.count";
/// `db.client.connection.pending_requests` (gauge): check-outs waiting for a connection.
pub const CONNECTION_PENDING_REQUESTS: &str = "db.client.connection.pending_requests";
/// `db.client.connection.max` (gauge): the pool's maxPoolSize (0: unlimited).
pub const CONNECTION_MAX: &str = "db.client.connection.max";
/// `db.client.connection.idle.min` (gauge): the pool's minPoolSize.
pub const CONNECTION_IDLE_MIN: &str = "db.client.connection.idle.min";
/// `db.client.connection.wait_time` (histogram, s): how long each check-out waited, whether
/// it got a connection or failed.
pub const CONNECTION_WAIT_TIME: &str = "db.client.connection.wait_time";
/// `db.client.connection.create_time` (histogram, s): from a connection's creation to the
/// end of its handshake (authentication included).
pub const CONNECTION_CREATE_TIME: &str = "db.client.connection.create_time";
/// `db.client.connection.use_time` (histogram, s): from a check-out to its check-in.
pub const CONNECTION_USE_TIME: &str = "db.client.connection.use_time";
/// `db.client.connection.timeouts` (counter): check-outs that failed by waitQueueTimeoutMS.
pub const CONNECTION_TIMEOUTS: &str = "db.client.connection.timeouts";
/// `mongo_topology.heartbeat.duration` (histogram, s): each monitoring check, by
/// `server.address` and `outcome` (`success`, `failure`).
pub const HEARTBEAT_DURATION: &str = "mongo_topology.heartbeat.duration";
/// `mongo_topology.server_selection.failures` (counter): failed server selections, by
/// `reason` (`timeout`, `no_suitable_server`, `incompatible_topology`, `invalid_criteria`,
/// `closed`).
pub const SELECTION_FAILURES: &str = "mongo_topology.server_selection.failures";

/// The pool metrics' attribute naming the pool: the server's address (`host:port`).
pub const POOL_NAME: &str = "db.client.connection.pool.name";
/// The `db.client.connection.count` attribute: `idle` or `used`.
pub const STATE: &str = "db.client.connection.state";

/// The `reason` label under which [`SELECTION_FAILURES`] counts a failed selection.
pub fn selection_failure_reason(error: &ClusterError) -> &'static str {
    use crate::selection::SelectionError;
    match error {
        ClusterError::ServerSelectionTimeout { .. } => "timeout",
        ClusterError::Selection(SelectionError::NoSuitableServer(_)) => "no_suitable_server",
        ClusterError::Selection(SelectionError::IncompatibleTopology(_)) => "incompatible_topology",
        ClusterError::Selection(SelectionError::InvalidCriteria(_)) => "invalid_criteria",
        ClusterError::Closed => "closed",
        _ => "other",
    }
}

#[cfg(feature = "metrics")]
mod enabled {
    use metrics::{Counter, Gauge, Histogram};
    use mongo_topology_core::cmap::{CheckOutFailedReason, ConnectionId};

    use super::*;

    /// One pool's handles, and when each connection out of it was checked out.
    pub(crate) struct PoolMetrics {
        idle: Gauge,
        used: Gauge,
        pending_requests: Gauge,
        wait_time: Histogram,
        create_time: Histogram,
        use_time: Histogram,
        timeouts: Counter,
        /// The connections checked out and when (at most maxPoolSize: a list is quicker to
        /// search than a hash map is to hash).
        checked_out_at: Vec<(ConnectionId, MonotonicTime)>,
        /// The counts last set, so that a gauge is set only when its count changes.
        last_counts: Option<(usize, usize, usize)>,
    }

    impl PoolMetrics {
        pub(crate) fn new(address: &ServerAddress, max_pool_size: u32, min_pool_size: u32) -> Self {
            let pool = address.to_string();
            metrics::gauge!(CONNECTION_MAX, POOL_NAME => pool.clone()).set(max_pool_size);
            metrics::gauge!(CONNECTION_IDLE_MIN, POOL_NAME => pool.clone()).set(min_pool_size);
            PoolMetrics {
                idle: metrics::gauge!(CONNECTION_COUNT, POOL_NAME => pool.clone(), STATE => "idle"),
                used: metrics::gauge!(CONNECTION_COUNT, POOL_NAME => pool.clone(), STATE => "used"),
                pending_requests: metrics::gauge!(CONNECTION_PENDING_REQUESTS, POOL_NAME => pool.clone()),
                wait_time: metrics::histogram!(CONNECTION_WAIT_TIME, POOL_NAME => pool.clone()),
                create_time: metrics::histogram!(CONNECTION_CREATE_TIME, POOL_NAME => pool.clone()),
                use_time: metrics::histogram!(CONNECTION_USE_TIME, POOL_NAME => pool.clone()),
                timeouts: metrics::counter!(CONNECTION_TIMEOUTS, POOL_NAME => pool),
                checked_out_at: Vec::new(),
                last_counts: None,
            }
        }

        /// What one CMAP event of the pool, emitted `now` (the pool's clock), changes.
        pub(crate) fn on_event(&mut self, event: &CmapEventKind, now: MonotonicTime) {
            match event {
                CmapEventKind::ConnectionReady { duration, .. } => {
                    self.create_time.record(duration.as_secs_f64());
                }
                CmapEventKind::ConnectionCheckedOut {
                    connection_id,
                    duration,
                } => {
                    self.wait_time.record(duration.as_secs_f64());
                    self.checked_out_at.push((*connection_id, now));
                }
                CmapEventKind::ConnectionCheckOutFailed { reason, duration } => {
                    self.wait_time.record(duration.as_secs_f64());
                    if *reason == CheckOutFailedReason::Timeout {
                        self.timeouts.increment(1);
                    }
                }
                CmapEventKind::ConnectionCheckedIn { connection_id } => {
                    if let Some(at) = self.take_checked_out(*connection_id) {
                        self.use_time
                            .record(now.saturating_duration_since(at).as_secs_f64());
                    }
                }
                CmapEventKind::ConnectionClosed { connection_id, .. } => {
                    self.take_checked_out(*connection_id);
                }
                _ => {}
            }
        }

        fn take_checked_out(&mut self, connection: ConnectionId) -> Option<MonotonicTime> {
            let index = self
                .checked_out_at
                .iter()
                .position(|(id, _)| *id == connection)?;
            Some(self.checked_out_at.swap_remove(index).1)
        }

        /// The pool's counts after an input: connections available, checked out, and
        /// check-outs waiting.
        pub(crate) fn counts(&mut self, idle: usize, used: usize, pending_requests: usize) {
            let counts = (idle, used, pending_requests);
            let last = self.last_counts.replace(counts);
            if last.map(|last| last.0) != Some(idle) {
                self.idle.set(idle as f64);
            }
            if last.map(|last| last.1) != Some(used) {
                self.used.set(used as f64);
            }
            if last.map(|last| last.2) != Some(pending_requests) {
                self.pending_requests.set(pending_requests as f64);
            }
        }
    }

    /// One monitor's heartbeat histograms.
    pub(crate) struct HeartbeatMetrics {
        success: Histogram,
        failure: Histogram,
    }

    impl HeartbeatMetrics {
        pub(crate) fn new(address: &ServerAddress) -> Self {
            let server = address.to_string();
            HeartbeatMetrics {
                success: metrics::histogram!(HEARTBEAT_DURATION, "server.address" => server.clone(), "outcome" => "success"),
                failure: metrics::histogram!(HEARTBEAT_DURATION, "server.address" => server, "outcome" => "failure"),
            }
        }

        /// One check that ended after `duration`.
        pub(crate) fn record(&self, duration: Duration, succeeded: bool) {
            let histogram = if succeeded {
                &self.success
            } else {
                &self.failure
            };
            histogram.record(duration.as_secs_f64());
        }
    }

    /// A selection failed with `error`.
    pub(crate) fn selection_failed(error: &ClusterError) {
        metrics::counter!(SELECTION_FAILURES, "reason" => selection_failure_reason(error))
            .increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
mod enabled {
    use super::*;

    /// Without the `metrics` feature: nothing.
    pub(crate) struct PoolMetrics;

    impl PoolMetrics {
        #[inline(always)]
        pub(crate) fn new(_: &ServerAddress, _: u32, _: u32) -> Self {
            PoolMetrics
        }

        #[inline(always)]
        pub(crate) fn on_event(&mut self, _: &CmapEventKind, _: MonotonicTime) {}

        #[inline(always)]
        pub(crate) fn counts(&mut self, _: usize, _: usize, _: usize) {}
    }

    /// Without the `metrics` feature: nothing.
    pub(crate) struct HeartbeatMetrics;

    impl HeartbeatMetrics {
        #[inline(always)]
        pub(crate) fn new(_: &ServerAddress) -> Self {
            HeartbeatMetrics
        }

        #[inline(always)]
        pub(crate) fn record(&self, _: Duration, _: bool) {}
    }

    #[inline(always)]
    pub(crate) fn selection_failed(_: &ClusterError) {}
}

pub(crate) use enabled::{selection_failed, HeartbeatMetrics, PoolMetrics};
