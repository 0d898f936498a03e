//! Prometheus metrics of what a client sees of a deployment, shared by `watch
//! --metrics-addr` (one deployment, no `deployment` label) and `exporter` (many, each series
//! labelled with its `deployment`). Encoded by `prometheus-client` (OpenMetrics text) and
//! served by [`http`].
//!
//! Per server (labels `address`, `set`): `mongo_topology_server_up`,
//! `_server_type` (info style: 1 with a `type` label), `_server_rtt_seconds` (only while
//! the server is known: an unknown server has no RTT, not 0), `_server_heartbeat_failures_total`,
//! `_server_heartbeat_duration_seconds` (histogram of a polled server's checks, or of a
//! streaming one's once a check of it fails),
//! `_server_last_successful_check_age_seconds`,
//! `_server_certificate_expiry_timestamp_seconds` (exporter, TLS only),
//! `_server_staleness_seconds` (secondaries with an estimate: the Max Staleness spec's).
//! Per topology: `mongo_topology_topology_type` (1 with a `type` label), `_topology_has_primary`,
//! `_topology_changes_total`, `_topology_primary_changes_total`,
//! `_topology_no_primary_for_seconds` (current), `_topology_no_primary_seconds_total`,
//! `_topology_srv_records`, `_topology_srv_lookup_failures_total`.

pub mod http;
mod series;
mod shape;

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub use self::series::DeploymentSeries;

/// The labels of one series: the deployment's own (none for `watch`) then the metric's.
pub type Labels = Vec<(&'static str, String)>;

/// A gauge of seconds.
type SecondsGauge = Gauge<f64, AtomicU64>;
/// A counter of seconds.
type SecondsCounter = Counter<f64, AtomicU64>;
/// The histogram family of heartbeat durations.
type DurationFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// Bucket bounds of the heartbeat duration histogram (polling checks), in seconds: from a
/// loopback round trip to a check near its timeout; few, since a fleet has many servers.
const HEARTBEAT_BUCKETS: [f64; 9] = [0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

fn heartbeat_histogram() -> Histogram {
    Histogram::new(HEARTBEAT_BUCKETS)
}

/// Every metric family, registered once; the series in them belong to
/// [`DeploymentSeries`] values, which add and remove their own.
pub struct Families {
    registry: Registry,
    pub(crate) server_up: Family<Labels, Gauge>,
    pub(crate) server_type: Family<Labels, Gauge>,
    pub(crate) server_rtt: Family<Labels, SecondsGauge>,
    pub(crate) heartbeat_failures: Family<Labels, Counter>,
    pub(crate) heartbeat_duration: DurationFamily,
    pub(crate) last_success_age: Family<Labels, SecondsGauge>,
    pub(crate) certificate_expiry: Family<Labels, Gauge>,
    pub(crate) staleness: Family<Labels, SecondsGauge>,
    pub(crate) topology_type: Family<Labels, Gauge>,
    pub(crate) has_primary: Family<Labels, Gauge>,
    pub(crate) changes: Family<Labels, Counter>,
    pub(crate) primary_changes: Family<Labels, Counter>,
    pub(crate) without_primary: Family<Labels, SecondsGauge>,
    pub(crate) without_primary_total: Family<Labels, SecondsCounter>,
    pub(crate) srv_records: Family<Labels, Gauge>,
    pub(crate) srv_lookup_failures: Family<Labels, Counter>,
}

impl Families {
    /// Every family registered, with no series yet.
    pub fn new() -> Families {
        let families = Families {
            registry: Registry::with_prefix("mongo_topology"),
            server_up: Family::default(),
            server_type: Family::default(),
            server_rtt: Family::default(),
            heartbeat_failures: Family::default(),
            heartbeat_duration: Family::new_with_constructor(heartbeat_histogram),
            last_success_age: Family::default(),
            certificate_expiry: Family::default(),
            staleness: Family::default(),
            topology_type: Family::default(),
            has_primary: Family::default(),
            changes: Family::default(),
            primary_changes: Family::default(),
            without_primary: Family::default(),
            without_primary_total: Family::default(),
            srv_records: Family::default(),
            srv_lookup_failures: Family::default(),
        };
        families.register()
    }

    fn register(mut self) -> Families {
        let registry = &mut self.registry;
        registry.register(
            "server_up",
            "1 when the client knows the server (its type is not Unknown), else 0",
            self.server_up.clone(),
        );
        registry.register(
            "server_type",
            "1 for the server's SDAM type in the type label",
            self.server_type.clone(),
        );
        registry.register_with_unit(
            "server_rtt",
            "the server's average round-trip time as the client measures it; absent while the \
             server is not known",
            Unit::Seconds,
            self.server_rtt.clone(),
        );
        registry.register(
            "server_heartbeat_failures",
            "failed checks of the server since monitoring started",
            self.heartbeat_failures.clone(),
        );
        registry.register_with_unit(
            "server_heartbeat_duration",
            "how long polling checks of the server took (streaming checks, which wait for \
             news, are not observed)",
            Unit::Seconds,
            self.heartbeat_duration.clone(),
        );
        registry.register_with_unit(
            "server_last_successful_check_age",
            "time since the last successful check of the server",
            Unit::Seconds,
            self.last_success_age.clone(),
        );
        registry.register_with_unit(
            "server_certificate_expiry_timestamp",
            "when the server's TLS certificate expires (Unix time; TLS connections only, \
             probed by the exporter at the start and hourly)",
            Unit::Seconds,
            self.certificate_expiry.clone(),
        );
        registry.register_with_unit(
            "server_staleness",
            "the secondary's estimated staleness (Max Staleness spec: how far its last write \
             trails the primary's, or the freshest secondary's, plus heartbeatFrequencyMS), as \
             maxStalenessSeconds selection compares it; secondaries with an estimate only",
            Unit::Seconds,
            self.staleness.clone(),
        );
        registry.register(
            "topology_type",
            "1 for the topology type in the type label",
            self.topology_type.clone(),
        );
        registry.register(
            "topology_has_primary",
            "1 when the client knows a primary, else 0",
            self.has_primary.clone(),
        );
        registry.register(
            "topology_changes",
            "changes of the topology description since monitoring started",
            self.changes.clone(),
        );
        registry.register(
            "topology_primary_changes",
            "times another server became the primary (first discovery not counted)",
            self.primary_changes.clone(),
        );
        registry.register_with_unit(
            "topology_no_primary_for",
            "how long the replica set has been without a known primary (0 with one)",
            Unit::Seconds,
            self.without_primary.clone(),
        );
        registry.register_with_unit(
            "topology_no_primary",
            "time the replica set spent without a known primary since monitoring started",
            Unit::Seconds,
            self.without_primary_total.clone(),
        );
        registry.register(
            "topology_srv_records",
            "SRV records the seed list came from (mongodb+srv only)",
            self.srv_records.clone(),
        );
        registry.register(
            "topology_srv_lookup_failures",
            "failed SRV lookups of the seed list (mongodb+srv only)",
            self.srv_lookup_failures.clone(),
        );
        self
    }

    /// The OpenMetrics text of every series.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests;
