//! `watch --metrics-addr`: Prometheus metrics of the client's view, encoded by
//! `prometheus-client` and served at `/metrics` by a tiny HTTP/1.1 responder (one request
//! per connection, `Connection: close`).
//!
//! Per server (labels `address`, `set`): `mongo_topology_server_up`,
//! `mongo_topology_server_type` (info style: 1 with a `type` label),
//! `mongo_topology_server_rtt_seconds`, `mongo_topology_server_heartbeat_failures_total`.
//! Per topology: `mongo_topology_topology_type` (1 with a `type` label),
//! `mongo_topology_topology_has_primary`, `mongo_topology_topology_changes_total`.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::ServerAddress;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::timeline::{Record, What};

/// The largest request head read; longer requests get 431.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of the OpenMetrics text format `prometheus-client` writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    address: String,
    set: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerTypeLabels {
    address: String,
    set: String,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    r#type: String,
}

/// The metrics and the label sets last used, so that stale series can be removed.
pub struct Metrics {
    registry: Registry,
    up: Family<ServerLabels, Gauge>,
    server_type: Family<ServerTypeLabels, Gauge>,
    rtt: Family<ServerLabels, Gauge<f64, AtomicU64>>,
    heartbeat_failures: Family<ServerLabels, Counter>,
    topology_type: Family<TypeLabels, Gauge>,
    has_primary: Gauge,
    changes: Counter,
    last: Mutex<Last>,
}

/// The label sets of the latest update.
#[derive(Default)]
struct Last {
    set: String,
    servers: HashMap<ServerAddress, ServerTypeLabels>,
    topology_type: Option<TypeLabels>,
}

fn server_labels(labels: &ServerTypeLabels) -> ServerLabels {
    ServerLabels {
        address: labels.address.clone(),
        set: labels.set.clone(),
    }
}

impl Metrics {
    /// Every metric registered, with no series yet.
    pub fn new() -> Metrics {
        let up = Family::<ServerLabels, Gauge>::default();
        let server_type = Family::<ServerTypeLabels, Gauge>::default();
        let rtt = Family::<ServerLabels, Gauge<f64, AtomicU64>>::default();
        let heartbeat_failures = Family::<ServerLabels, Counter>::default();
        let topology_type = Family::<TypeLabels, Gauge>::default();
        let has_primary = Gauge::default();
        let changes = Counter::default();
        let mut registry = Registry::with_prefix("mongo_topology");
        registry.register(
            "server_up",
            "1 when the client knows the server (its type is not Unknown), else 0",
            up.clone(),
        );
        registry.register(
            "server_type",
            "1 for the server's SDAM type in the type label",
            server_type.clone(),
        );
        registry.register_with_unit(
            "server_rtt",
            "the server's average round-trip time as the client measures it",
            Unit::Seconds,
            rtt.clone(),
        );
        registry.register(
            "server_heartbeat_failures",
            "failed checks of the server since the watch started",
            heartbeat_failures.clone(),
        );
        registry.register(
            "topology_type",
            "1 for the topology type in the type label",
            topology_type.clone(),
        );
        registry.register(
            "topology_has_primary",
            "1 when the client knows a primary, else 0",
            has_primary.clone(),
        );
        registry.register(
            "topology_changes",
            "changes of the topology description since the watch started",
            changes.clone(),
        );
        Metrics {
            registry,
            up,
            server_type,
            rtt,
            heartbeat_failures,
            topology_type,
            has_primary,
            changes,
            last: Mutex::new(Last::default()),
        }
    }

    /// Sets every gauge from `topology`; removes the series of servers that left it or
    /// whose labels changed.
    pub fn update(&self, topology: &TopologyDescription) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let set = topology.set_name.clone().unwrap_or_default();
        let mut current = HashMap::new();
        for (address, server) in &topology.servers {
            let labels = ServerTypeLabels {
                address: address.to_string(),
                set: set.clone(),
                r#type: server.server_type.to_string(),
            };
            let plain = server_labels(&labels);
            self.up
                .get_or_create(&plain)
                .set(i64::from(server.server_type != ServerType::Unknown));
            self.server_type.get_or_create(&labels).set(1);
            let rtt = server.round_trip_time.map_or(0.0, |rtt| rtt.as_secs_f64());
            self.rtt.get_or_create(&plain).set(rtt);
            // A server without failures has the series too, at 0.
            let _ = self.heartbeat_failures.get_or_create(&plain);
            current.insert(address.clone(), labels);
        }
        for (address, old) in &last.servers {
            match current.get(address) {
                Some(new) if new == old => {}
                Some(new) => {
                    self.server_type.remove(old);
                    if new.set != old.set {
                        self.remove_server(old);
                    }
                }
                None => self.remove_server(old),
            }
        }
        let topology_type = TypeLabels {
            r#type: topology.topology_type.to_string(),
        };
        if let Some(old) = &last.topology_type {
            if *old != topology_type {
                self.topology_type.remove(old);
            }
        }
        self.topology_type.get_or_create(&topology_type).set(1);
        self.has_primary
            .set(i64::from(topology.primary().is_some()));
        *last = Last {
            set,
            servers: current,
            topology_type: Some(topology_type),
        };
    }

    fn remove_server(&self, labels: &ServerTypeLabels) {
        let plain = server_labels(labels);
        self.up.remove(&plain);
        self.server_type.remove(labels);
        self.rtt.remove(&plain);
        self.heartbeat_failures.remove(&plain);
    }

    /// Counts the failures and changes `record` reports.
    pub fn count(&self, record: &Record) {
        match &record.what {
            What::HeartbeatFailed { address, .. } => {
                let set = self
                    .last
                    .lock()
                    .map(|last| last.set.clone())
                    .unwrap_or_default();
                let labels = ServerLabels {
                    address: address.to_string(),
                    set,
                };
                self.heartbeat_failures.get_or_create(&labels).inc();
            }
            What::TopologyDescriptionChanged { .. } => {
                self.changes.inc();
            }
            _ => {}
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Answers HTTP requests on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream, metrics.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "metrics: accept failed");
                // Out of file descriptors, say: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads the request head (or gives up on a slow or oversized one) and answers it.
async fn answer(mut stream: TcpStream, metrics: Arc<Metrics>) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        while !head.windows(4).any(|window| window == b"\r\n\r\n") {
            if head.len() > MAX_REQUEST_HEAD {
                return false;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
        true
    })
    .await;
    let (status, body) = match read {
        Ok(true) => route(&head, &metrics),
        Ok(false) if head.len() > MAX_REQUEST_HEAD => {
            ("431 Request Header Fields Too Large", String::new())
        }
        _ => return,
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        if status.starts_with("200") && body.starts_with('#') {
            CONTENT_TYPE
        } else {
            "text/plain; charset=utf-8"
        },
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The status line and body for a request head.
fn route(head: &[u8], metrics: &Metrics) -> (&'static str, String) {
    let head = String::from_utf8_lossy(head);
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => ("200 OK", metrics.encode()),
        ("GET", "/") => ("200 OK", "mongo-topology watch: see /metrics\n".to_string()),
        ("GET", _) => ("404 Not Found", "not found; see /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "only GET\n".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mongo_topology::sdam::{ServerDescription, TopologyType};

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
