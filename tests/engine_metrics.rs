//! The engine's `metrics` feature (issue 19, Deliver 2: "the engine itself exposes the same
//! measurements to library users through the `metrics` facade"): an application installs
//! its own recorder — here the Prometheus recorder of `metrics-exporter-prometheus`, as an
//! application exporting to Prometheus would — and after real work against a simulated
//! replica set sees the pool's connections by state, its wait, creation and use times, a
//! check-out timeout, the heartbeats of every member and a failed selection, under the
//! names of `docs/metrics.md` (OpenTelemetry's `db.client.connection.*` for the pool).
//!
//! One test in this binary: a process has one global recorder.

use std::time::Duration;

use bson::doc;
use metrics_exporter_prometheus::PrometheusBuilder;
use mongo_topology::selection::{ReadPreference, ReadPreferenceMode, SelectionCriteria};
use mongo_topology::{Cluster, ClusterError, ClusterSettings};
use mongo_topology_sim::{Deployment, DeploymentSpec};

/// The value of the sample `name{labels…}` in Prometheus text, each of `labels` (`k="v"`)
/// among its labels; `None` if there is none.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((series_name, rest)) => (series_name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let matches = series_name == name
                && labels
                    .iter()
                    .all(|label| series_labels.split(',').any(|l| l == *label));
            matches.then(|| value.parse().ok()).flatten()
        })
        .next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_the_monitors_and_selection_publish_their_measurements() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let exported = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder of this test binary");

    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .expect("the simulator starts");
    let uri = format!(
        "mongodb://{}/?replicaSet=rs0&maxPoolSize=1&waitQueueTimeoutMS=300&heartbeatFrequencyMS=500&serverSelectionTimeoutMS=400",
        sim.addresses()[0]
    );
    let cluster = Cluster::new(ClusterSettings::parse(&uri).expect("the URI parses"))
        .expect("the cluster starts");
    let write = SelectionCriteria::write();
    for _ in 0..5 {
        cluster
            .run_command("test", doc! { "ping": 1 }, &write)
            .await
            .expect("a ping on the primary");
    }
    let primary = cluster
        .topology()
        .primary()
        .map(|primary| primary.address.to_string())
        .expect("a primary");
    let pool = format!("db_client_connection_pool_name=\"{primary}\"");

    // The one connection of the primary's pool held: a second check-out times out.
    let held = cluster
        .checkout(&write)
        .await
        .expect("the pool's connection");
    let second = cluster.checkout(&write).await;
    assert!(
        second.is_err(),
        "maxPoolSize=1: the second check-out waits and fails"
    );
    let text = exported.render();
    assert_eq!(
        sample(
            &text,
            "db_client_connection_count",
            &[&pool, "db_client_connection_state=\"used\""]
        ),
        Some(1.0),
        "one connection checked out\n{text}"
    );
    assert_eq!(
        sample(
            &text,
            "db_client_connection_count",
            &[&pool, "db_client_connection_state=\"idle\""]
        ),
        Some(0.0),
        "{text}"
    );
    drop(held);

    // A selection that cannot succeed: no member has this tag.
    let nowhere = [("dc".to_owned(), "nowhere".to_owned())].into();
    let tagged = ReadPreference::new(ReadPreferenceMode::Secondary, vec![nowhere], None)
        .expect("a valid read preference");
    let failed = cluster
        .run_command("test", doc! { "ping": 1 }, &SelectionCriteria::read(tagged))
        .await;
    assert!(
        matches!(failed, Err(ClusterError::ServerSelectionTimeout { .. })),
        "{failed:?}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await; // a few heartbeats of each member
    let text = exported.render();

    assert_eq!(
        sample(
            &text,
            "db_client_connection_count",
            &[&pool, "db_client_connection_state=\"idle\""]
        ),
        Some(1.0),
        "the connection is back\n{text}"
    );
    assert_eq!(
        sample(&text, "db_client_connection_max", &[&pool]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "db_client_connection_timeouts", &[&pool]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "db_client_connection_pending_requests", &[&pool]),
        Some(0.0),
        "{text}"
    );
    // Histograms are rendered as summaries: `_count` is the number of observations.
    let waits = sample(&text, "db_client_connection_wait_time_count", &[&pool]);
    assert!(
        waits >= Some(7.0),
        "5 pings, the held one and the timeout: {waits:?}\n{text}"
    );
    let uses = sample(&text, "db_client_connection_use_time_count", &[&pool]);
    assert!(uses >= Some(6.0), "{uses:?}\n{text}");
    let created = sample(&text, "db_client_connection_create_time_count", &[&pool]);
    assert!(created >= Some(1.0), "{created:?}\n{text}");
    assert_eq!(
        sample(
            &text,
            "mongo_topology_server_selection_failures",
            &["reason=\"timeout\""]
        ),
        Some(1.0),
        "{text}"
    );
    for member in sim.addresses() {
        let server = format!("server_address=\"{member}\"");
        let heartbeats = sample(
            &text,
            "mongo_topology_heartbeat_duration_count",
            &[&server, "outcome=\"success\""],
        );
        assert!(heartbeats >= Some(2.0), "{member}: {heartbeats:?}\n{text}");
    }
    cluster.close().await;
    sim.shutdown().await;
}
