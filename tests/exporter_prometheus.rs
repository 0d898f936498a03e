//! A real Prometheus (Debian's `prometheus` package; `scripts/test` installs it) scrapes
//! `mongo-topology exporter` every second while the exporter monitors two simulated
//! replica sets: its HTTP API sees both deployments, a stepdown shows as `has_primary`
//! going to 0 and back with a primary change counted, and the shipped alert rules
//! (deploy/prometheus/alerts.yml) go pending on the faults: no primary, a member down.
//!
//! Skipped, with the reason printed, only when the `prometheus` binary is absent and
//! `MONGO_TOPOLOGY_REQUIRE_PROMETHEUS` is unset.

mod exporter_support;

use std::time::Duration;

use exporter_support::prometheus::Prometheus;
use exporter_support::{config_text, on_path, temp_dir, Exporter};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use serde_json::Value;

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
    let prometheus = Prometheus::start(&binary, &dir, exporter.port, Duration::from_secs(1)).await;

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
