//! A real Prometheus (Debian's `prometheus` package; `scripts/test` installs it) scrapes
//! `mongo-topology exporter` every second while the exporter monitors two simulated
//! replica sets: its HTTP API sees both deployments, a stepdown shows as `has_primary`
//! going to 0 and back with a primary change counted, and the shipped alert rules
//! (deploy/prometheus/alerts.yml) go pending on the faults: no primary, a member down.
//!
//! Skipped, with the reason printed, only when the `prometheus` binary is absent and
//! `MONGO_TOPOLOGY_REQUIRE_PROMETHEUS` is unset.

mod exporter_support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use exporter_support::{config_text, on_path, temp_dir, Exporter};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long Prometheus may take to see a change (scrapes every second, evaluates rules every
/// second; generous for a loaded machine).
const SEEN: Duration = Duration::from_secs(20);

/// A Prometheus server run by the test.
struct Prometheus {
    _child: Child,
    port: u16,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Prometheus {
    /// Starts Prometheus scraping `target` every second, with the shipped alert rules,
    /// its storage in `dir`; waits until it is ready.
    async fn start(binary: &Path, dir: &Path, target: u16) -> Prometheus {
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/alerts.yml");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: mongo-topology\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n",
                rules.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            _child: child,
            port,
        };
        let started = Instant::now();
        while !exporter_support::try_http_get(port, "/-/ready")
            .await
            .is_some_and(|response| response.starts_with("HTTP/1.1 200"))
        {
            assert!(started.elapsed() < SEEN, "prometheus never became ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        prometheus
    }

    /// The instant vector of `query`: each result's labels and value.
    async fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let encoded: String = query
            .bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (byte as char).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect();
        let response =
            exporter_support::http_get(self.port, &format!("/api/v1/query?query={encoded}")).await;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .unwrap_or("");
        // Prometheus answers HTTP/1.1 with chunked encoding or a length; take the JSON object.
        let json = body
            .find('{')
            .and_then(|start| body.rfind('}').map(|end| &body[start..=end]))
            .unwrap_or("{}");
        let value: Value = serde_json::from_str(json).unwrap_or_else(|_| panic!("{response}"));
        assert_eq!(value["status"], "success", "{query}: {response}");
        value["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|result| {
                let sample = result["value"][1]
                    .as_str()
                    .and_then(|text| text.parse().ok());
                (result["metric"].clone(), sample.unwrap_or(f64::NAN))
            })
            .collect()
    }

    /// Queries until `ready` holds for the results (at most [`SEEN`]).
    async fn query_until(
        &self,
        query: &str,
        what: &str,
        ready: impl Fn(&[(Value, f64)]) -> bool,
    ) -> Vec<(Value, f64)> {
        let started = Instant::now();
        loop {
            let results = self.query(query).await;
            if ready(&results) {
                return results;
            }
            assert!(
                started.elapsed() < SEEN,
                "never {what}: {query} gave {results:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn value_of(results: &[(Value, f64)], deployment: &str) -> Option<f64> {
    results
        .iter()
        .find(|(labels, _)| labels["deployment"] == deployment)
        .map(|(_, value)| *value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_both_deployments_a_stepdown_and_the_alerts() {
    let Some(binary) = on_path("prometheus") else {
        assert!(
            std::env::var_os("MONGO_TOPOLOGY_REQUIRE_PROMETHEUS").is_none(),
            "MONGO_TOPOLOGY_REQUIRE_PROMETHEUS is set but no prometheus binary is on the PATH"
        );
        eprintln!(
            "skipped: the prometheus binary is absent (scripts/test installs Debian's package)"
        );
        return;
    };
    let orders = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let billing = Deployment::start(DeploymentSpec::replica_set("rs1", 3, 0, 0))
        .await
        .unwrap();
    let dir = temp_dir("exporter-prometheus");
    let config = dir.join("fleet.toml");
    // Frequent checks, so that a killed member is noticed within the test's time.
    let fast = |uri: String| format!("{uri}&heartbeatFrequencyMS=500");
    std::fs::write(
        &config,
        config_text(&[
            ("orders", &fast(orders.connection_string())),
            ("billing", &fast(billing.connection_string())),
        ]),
    )
    .unwrap();
    let exporter = Exporter::start(&config, &[]).await;
    let prometheus = Prometheus::start(&binary, &dir, exporter.port).await;

    let has_primary = "mongo_topology_topology_has_primary";
    prometheus
        .query_until(has_primary, "both deployments with a primary", |results| {
            value_of(results, "orders") == Some(1.0) && value_of(results, "billing") == Some(1.0)
        })
        .await;

    // A stepdown: no primary (has_primary 0, the alert pending), then an election.
    orders.stepdown().unwrap();
    prometheus
        .query_until(has_primary, "orders without a primary", |results| {
            value_of(results, "orders") == Some(0.0)
        })
        .await;
    let pending = "ALERTS{alertname=\"MongoTopologyNoPrimary\",alertstate=\"pending\"}";
    prometheus
        .query_until(pending, "the no-primary alert pending", |results| {
            value_of(results, "orders").is_some()
        })
        .await;
    orders.elect(&MemberRef::Index(2)).unwrap();
    prometheus
        .query_until(has_primary, "orders with its new primary", |results| {
            value_of(results, "orders") == Some(1.0)
        })
        .await;
    prometheus
        .query_until(
            "mongo_topology_topology_primary_changes_total",
            "the primary change counted",
            |results| value_of(results, "orders") == Some(1.0),
        )
        .await;
    // billing never lost its primary.
    let billing_min = prometheus
        .query("min_over_time(mongo_topology_topology_has_primary{deployment=\"billing\"}[5m])")
        .await;
    assert_eq!(
        value_of(&billing_min, "billing"),
        Some(1.0),
        "{billing_min:?}"
    );

    // A member of billing killed: down for the client, its alert pending, checks failing.
    let victim = billing.addresses()[1].clone();
    billing.kill(&MemberRef::Index(1)).await.unwrap();
    let down = format!("mongo_topology_server_up{{address=\"{victim}\"}}");
    prometheus
        .query_until(&down, "the killed member down", |results| {
            value_of(results, "billing") == Some(0.0)
        })
        .await;
    prometheus
        .query_until(
            "ALERTS{alertname=\"MongoTopologyMemberDown\"}",
            "the member-down alert pending",
            |results| {
                results
                    .iter()
                    .any(|(labels, _)| labels["address"] == victim.as_str())
            },
        )
        .await;
    let (code, stderr) = exporter.terminate().await;
    assert_eq!(code, Some(143), "{stderr}");
    orders.shutdown().await;
    billing.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
