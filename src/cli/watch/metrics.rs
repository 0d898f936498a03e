//! `watch --metrics-addr`: the shared metrics of [`crate::cli::metrics`] for the one
//! deployment watched (no `deployment` label), fed from the watch's records and served at
//! `/metrics`.

use std::sync::Arc;

use mongo_topology::sdam::TopologyDescription;
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::timeline::{Record, What};
use crate::cli::metrics::http::{self, Scrape};
use crate::cli::metrics::{DeploymentSeries, Families};

/// The metrics of the watched deployment.
pub struct Metrics {
    families: Arc<Families>,
    series: DeploymentSeries,
}

impl Metrics {
    /// Every metric registered, with only the topology's series yet.
    pub fn new() -> Metrics {
        let families = Arc::new(Families::new());
        let series = DeploymentSeries::new(families.clone(), Vec::new());
        Metrics { families, series }
    }

    /// Sets every gauge from `topology`; removes the series of servers that left it or
    /// whose labels changed.
    pub fn update(&self, topology: &TopologyDescription) {
        self.series.update(topology, Instant::now());
    }

    /// Counts the failures and changes `record` reports.
    pub fn count(&self, record: &Record) {
        match &record.what {
            What::HeartbeatFailed {
                address,
                duration,
                awaited,
                ..
            } => self.series.heartbeat_failed(address, *duration, *awaited),
            What::TopologyDescriptionChanged { .. } => self.series.topology_changed(),
            _ => {}
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        self.families.encode()
    }
}

impl Scrape for Metrics {
    fn scrape(&self) -> String {
        self.encode()
    }

    fn command(&self) -> &'static str {
        "watch"
    }
}

/// Answers HTTP requests on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    http::serve(listener, metrics).await;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mongo_topology::sdam::{ServerDescription, ServerType, TopologyType};
    use mongo_topology::ServerAddress;

    use super::*;

    /// A set name a hostile server reported: it tries to close the label, end the line and
    /// forge a series of its own.
    const HOSTILE_SET: &str = "rs0\"} 1\nforged_metric{a=\"b\\";

    #[test]
    fn label_values_from_servers_are_escaped_per_the_text_format() {
        let address = ServerAddress::parse("db.example.net:27017").unwrap();
        let mut server = ServerDescription::unknown(address.clone());
        server.server_type = ServerType::RsSecondary;
        server.set_name = Some(HOSTILE_SET.to_string());
        let mut topology = TopologyDescription::with_seeds(
            TopologyType::ReplicaSetNoPrimary,
            Some(HOSTILE_SET.to_string()),
            [address.clone()],
        );
        topology.servers.insert(address, Arc::new(server));
        let metrics = Metrics::new();
        metrics.update(&topology);
        let text = metrics.encode();
        // Backslash, double quote and newline escaped, in that order of the value.
        let escaped = "set=\"rs0\\\"} 1\\nforged_metric{a=\\\"b\\\\\"";
        assert!(text.contains(escaped), "{text}");
        // Every line is a comment or one sample of this exporter: nothing forged.
        for line in text.lines() {
            assert!(
                line.starts_with('#') || line.starts_with("mongo_topology_"),
                "{line:?} in {text}"
            );
        }
        assert_eq!(
            text.lines()
                .filter(|line| line.starts_with("mongo_topology_server_up{"))
                .count(),
            1,
            "{text}"
        );
    }
}
