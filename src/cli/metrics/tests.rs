//! The series of deployments: labels, what an unknown server exports, primary changes and
//! time without a primary, removal, and OpenMetrics validity (`promtool check metrics`).

use std::sync::Arc;
use std::time::Duration;

use mongo_topology::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
use mongo_topology::ServerAddress;
use tokio::time::Instant;

use super::{DeploymentSeries, Families};

fn address(port: u16) -> ServerAddress {
    ServerAddress::parse(&format!("db.example.net:{port}")).unwrap()
}

/// A replica set `rs0` of members on ports 1..=3; `primary` (if any) is the primary, the
/// others secondaries, except `unknown` ones.
fn replica_set(primary: Option<u16>, unknown: &[u16]) -> TopologyDescription {
    let addresses: Vec<ServerAddress> = (1..=3).map(address).collect();
    let topology_type = if primary.is_some() {
        TopologyType::ReplicaSetWithPrimary
    } else {
        TopologyType::ReplicaSetNoPrimary
    };
    let mut topology =
        TopologyDescription::with_seeds(topology_type, Some("rs0".to_string()), addresses.clone());
    for (port, address) in (1..=3).zip(addresses) {
        let mut server = ServerDescription::unknown(address.clone());
        if !unknown.contains(&port) {
            server.server_type = if primary == Some(port) {
                ServerType::RsPrimary
            } else {
                ServerType::RsSecondary
            };
            server.set_name = Some("rs0".to_string());
            server.round_trip_time = Some(Duration::from_millis(2));
        }
        topology.servers.insert(address, Arc::new(server));
    }
    topology
}

fn sample<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
}

fn deployment(families: &Arc<Families>, name: &str) -> DeploymentSeries {
    DeploymentSeries::new(families.clone(), vec![("deployment", name.to_string())])
}

#[test]
fn every_series_carries_its_deployment_and_an_unknown_server_has_no_rtt() {
    let families = Arc::new(Families::new());
    let orders = deployment(&families, "orders");
    let billing = deployment(&families, "billing");
    let now = Instant::now();
    orders.update(&replica_set(Some(1), &[3]), now);
    billing.update(&replica_set(None, &[]), now);
    let text = families.encode();
    assert_eq!(
        sample(
            &text,
            "mongo_topology_topology_has_primary{deployment=\"orders\"}"
        ),
        Some("1"),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "mongo_topology_topology_has_primary{deployment=\"billing\"}"
        ),
        Some("0"),
        "{text}"
    );
    let rtt = |port: u16| {
        format!("mongo_topology_server_rtt_seconds{{deployment=\"orders\",address=\"db.example.net:{port}\",set=\"rs0\"}}")
    };
    assert!(sample(&text, &rtt(1)).is_some(), "{text}");
    assert_eq!(
        sample(&text, &rtt(3)),
        None,
        "an unknown server exports no RTT: {text}"
    );
    assert_eq!(
        sample(
            &text,
            "mongo_topology_server_up{deployment=\"orders\",address=\"db.example.net:3\",set=\"rs0\"}"
        ),
        Some("0")
    );
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        assert!(
            line.starts_with("mongo_topology_") && line.contains("{deployment=\""),
            "{line}"
        );
    }
}

#[test]
fn a_new_primary_is_counted_and_time_without_one_adds_up() {
    let families = Arc::new(Families::new());
    let series = deployment(&families, "rs");
    let start = Instant::now();
    series.update(&replica_set(Some(1), &[]), start);
    series.update(&replica_set(None, &[1]), start + Duration::from_secs(1));
    series.update(&replica_set(None, &[1]), start + Duration::from_secs(4));
    let text = families.encode();
    assert_eq!(
        sample(&text, "mongo_topology_topology_no_primary_for_seconds{"),
        Some("3.0"),
        "{text}"
    );
    series.update(&replica_set(Some(2), &[1]), start + Duration::from_secs(6));
    let text = families.encode();
    assert_eq!(
        sample(&text, "mongo_topology_topology_no_primary_for_seconds{"),
        Some("0.0"),
        "{text}"
    );
    assert_eq!(
        sample(&text, "mongo_topology_topology_no_primary_seconds_total{"),
        Some("5.0"),
        "{text}"
    );
    assert_eq!(
        sample(&text, "mongo_topology_topology_primary_changes_total{"),
        Some("1"),
        "{text}"
    );
    // The same primary again is no change; first discovery was none either.
    series.update(&replica_set(Some(2), &[]), start + Duration::from_secs(7));
    let text = families.encode();
    assert_eq!(
        sample(&text, "mongo_topology_topology_primary_changes_total{"),
        Some("1"),
        "{text}"
    );
}

#[test]
fn a_removed_deployment_leaves_no_series_and_the_others_stay() {
    let families = Arc::new(Families::new());
    let kept = deployment(&families, "kept");
    let removed = deployment(&families, "removed");
    for series in [&kept, &removed] {
        series.update(&replica_set(Some(1), &[]), Instant::now());
        series.heartbeat_failed(&address(2), Duration::from_millis(5), false);
        series.heartbeat(&address(9), Duration::from_millis(5), false);
        series.srv_records(3);
        series.srv_lookup_failed();
    }
    assert!(families.encode().contains("deployment=\"removed\""));
    removed.remove_all();
    let text = families.encode();
    assert!(!text.contains("deployment=\"removed\""), "{text}");
    assert!(text.contains("deployment=\"kept\""), "{text}");
}

/// The `_count` of `address`'s heartbeat histogram in deployment "orders", if it has one.
fn timed_checks(families: &Families, address: &ServerAddress) -> Option<u64> {
    let prefix = format!(
        "mongo_topology_server_heartbeat_duration_seconds_count{{deployment=\"orders\",address=\"{address}\""
    );
    let text = families.encode();
    let line = text.lines().find(|line| line.starts_with(&prefix))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// Deployment "orders": a replica set with a primary, in families of its own.
fn orders_with_a_primary() -> (Arc<Families>, DeploymentSeries) {
    let families = Arc::new(Families::new());
    let series = deployment(&families, "orders");
    series.update(&replica_set(Some(1), &[]), Instant::now());
    (families, series)
}

#[test]
fn a_polled_server_has_its_checks_timed_from_the_first() {
    let (families, series) = orders_with_a_primary();
    series.heartbeat(&address(1), Duration::from_millis(3), false);
    // One check does not tell a polled server from one about to stream.
    assert_eq!(timed_checks(&families, &address(1)), None);
    series.heartbeat(&address(1), Duration::from_millis(4), false);
    assert_eq!(timed_checks(&families, &address(1)), Some(2));
    series.heartbeat(&address(1), Duration::from_millis(5), false);
    assert_eq!(timed_checks(&families, &address(1)), Some(3));
}

#[test]
fn a_streaming_server_has_no_histogram_until_a_check_fails() {
    let (families, series) = orders_with_a_primary();
    // The first check, then streamed replies (awaited), then a reconnection that streams.
    series.heartbeat(&address(1), Duration::from_millis(3), false);
    for _ in 0..3 {
        series.heartbeat(&address(1), Duration::from_secs(10), true);
    }
    series.heartbeat(&address(1), Duration::from_millis(3), false);
    series.heartbeat(&address(1), Duration::from_secs(10), true);
    assert_eq!(timed_checks(&families, &address(1)), None);
    // An awaited check that fails is counted, not timed.
    series.heartbeat_failed(&address(1), Duration::from_secs(20), true);
    assert_eq!(timed_checks(&families, &address(1)), None);
    // A check that fails (reconnecting) is timed, with the first check held back before it.
    series.heartbeat(&address(1), Duration::from_millis(3), false);
    series.heartbeat_failed(&address(1), Duration::from_millis(7), false);
    assert_eq!(timed_checks(&families, &address(1)), Some(2));
    // From then on its non-awaited checks are timed at once; awaited ones never.
    series.heartbeat(&address(1), Duration::from_millis(3), false);
    series.heartbeat(&address(1), Duration::from_secs(10), true);
    assert_eq!(timed_checks(&families, &address(1)), Some(3));
}

#[test]
fn a_server_that_fails_its_first_check_is_timed_at_once() {
    let (families, series) = orders_with_a_primary();
    series.heartbeat_failed(&address(2), Duration::from_millis(9), false);
    assert_eq!(timed_checks(&families, &address(2)), Some(1));
    let text = families.encode();
    let failures = format!(
        "mongo_topology_server_heartbeat_failures_total{{deployment=\"orders\",address=\"{}\"",
        address(2)
    );
    assert!(text.contains(&failures), "{text}");
}

#[test]
fn the_text_is_valid_openmetrics_for_promtool() {
    let Some(promtool) = crate::cli::metrics::tests::promtool() else {
        eprintln!("skipped: promtool is not installed (scripts/test installs it)");
        return;
    };
    let families = Arc::new(Families::new());
    let series = deployment(&families, "orders \"quoted\"\nline");
    let watch_like = DeploymentSeries::new(families.clone(), Vec::new());
    series.update(&replica_set(Some(1), &[3]), Instant::now());
    watch_like.update(&replica_set(None, &[]), Instant::now());
    // Two polled checks: a histogram in the text.
    series.heartbeat(&address(1), Duration::from_millis(3), false);
    series.heartbeat(&address(1), Duration::from_millis(4), false);
    series.heartbeat_failed(&address(2), Duration::from_secs(2), true);
    let text = families.encode();
    assert!(
        text.contains("mongo_topology_server_heartbeat_duration_seconds_bucket{"),
        "{text}"
    );
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    // promtool's lint findings (naming advice) exit 3; a parse error exits 1 with "error".
    assert!(
        !report.contains("error while linting") && !report.contains("text format parsing error"),
        "{report}\n{text}"
    );
    assert!(
        matches!(output.status.code(), Some(0) | Some(3)),
        "{report}\n{text}"
    );
}

/// `promtool` if on the PATH (Debian's `prometheus` package brings it).
pub(crate) fn promtool() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join("promtool"))
        .find(|path| path.is_file())
}

/// Every family with a series, each as (name, type) from the `# TYPE` lines.
fn exported_families() -> Vec<(String, String)> {
    let families = Arc::new(Families::new());
    let series = deployment(&families, "orders");
    series.update(&replica_set(None, &[]), Instant::now());
    series.heartbeat_failed(&address(1), Duration::from_millis(3), false);
    series.certificate_expiry(&address(1), std::time::SystemTime::now());
    series.srv_records(3);
    series.on_event(&mongo_topology::ClusterEvent {
        topology_id: bson::oid::ObjectId::new(),
        at: Instant::now(),
        kind: mongo_topology::EventKind::HeartbeatSucceeded {
            address: address(2),
            duration: Duration::from_millis(1),
            reply: mongo_topology::HelloReply::from_document(bson::Document::new()).unwrap(),
            awaited: false,
        },
    });
    // Secondaries with a last write: a staleness estimate each.
    let mut topology = replica_set(None, &[]);
    let addresses: Vec<_> = topology.servers.keys().cloned().collect();
    for address in addresses {
        if let Some(server) = topology.servers.get_mut(&address) {
            let mut written = (**server).clone();
            written.last_write_date = Some(bson::DateTime::from_millis(1_000_000));
            *server = Arc::new(written);
        }
    }
    series.update(&topology, Instant::now());
    families
        .encode()
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|line| line.split_once(' '))
        .map(|(name, kind)| (name.to_string(), kind.to_string()))
        .collect()
}

/// The sample names of a family of `kind`.
fn sample_names(name: &str, kind: &str) -> Vec<String> {
    match kind {
        "counter" => vec![format!("{name}_total")],
        "histogram" => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|suffix| format!("{name}{suffix}"))
            .collect(),
        _ => vec![name.to_string()],
    }
}

/// The metric names `text` mentions (`mongo_topology_…`).
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("mongo_topology_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

fn deploy_file(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_grafana_dashboard_has_a_panel_per_family_and_only_exported_metrics() {
    let families = exported_families();
    assert_eq!(families.len(), 16, "{families:?}");
    let text = deploy_file("deploy/grafana/mongo-topology-fleet.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(dashboard["title"].is_string() && dashboard["uid"].is_string());
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    let mut exprs = String::new();
    for panel in panels {
        assert!(ids.insert(panel["id"].as_u64().unwrap()), "{panel}");
        assert!(
            panel["title"].is_string() && panel["type"].is_string(),
            "{panel}"
        );
        for key in ["h", "w", "x", "y"] {
            assert!(panel["gridPos"][key].is_u64(), "{panel}");
        }
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{panel}");
        for target in targets {
            exprs.push_str(target["expr"].as_str().unwrap());
            exprs.push('\n');
        }
    }
    let known: Vec<String> = families
        .iter()
        .flat_map(|(name, kind)| sample_names(name, kind))
        .collect();
    for name in metric_names(&exprs) {
        assert!(
            known.contains(&name),
            "the dashboard uses {name}, which is not exported"
        );
    }
    let used = metric_names(&exprs);
    for (name, kind) in &families {
        assert!(
            sample_names(name, kind)
                .iter()
                .any(|sample| used.contains(sample)),
            "no panel for {name}"
        );
    }
}

#[test]
fn the_alert_rules_use_only_exported_metrics() {
    let known: Vec<String> = exported_families()
        .iter()
        .flat_map(|(name, kind)| sample_names(name, kind))
        .collect();
    let rules = deploy_file("deploy/prometheus/alerts.yml");
    let expressions: String = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("expr:"))
        .collect::<Vec<_>>()
        .join("\n");
    let used = metric_names(&expressions);
    assert_eq!(used.len(), 7, "{used:?}");
    for name in used {
        assert!(
            known.contains(&name),
            "alerts.yml uses {name}, which is not exported"
        );
    }
}

/// A secondary whose last write trails the primary's by 5 s exports a staleness of 5 s plus
/// heartbeatFrequencyMS (the Max Staleness spec's estimate); the primary and a member
/// without lastWriteDate export none, and a secondary that becomes primary loses its series.
#[test]
fn secondaries_export_their_estimated_staleness() {
    use mongo_topology::time::MonotonicTime;
    let families = Arc::new(Families::new());
    let orders = deployment(&families, "orders");
    orders.set_heartbeat_frequency(Duration::from_millis(500));
    let mut topology = replica_set(Some(1), &[]);
    let written = |port: u16, last_write_ms: i64| {
        let mut server = (*topology.servers[&address(port)]).clone();
        server.last_update_time = Some(MonotonicTime::from_millis(100_000));
        server.last_write_date = Some(bson::DateTime::from_millis(last_write_ms));
        Arc::new(server)
    };
    let primary = written(1, 1_000_000);
    let behind = written(2, 995_000);
    topology.servers.insert(address(1), primary);
    topology.servers.insert(address(2), behind);
    orders.update(&topology, Instant::now());
    let text = families.encode();
    let staleness = |port: u16| {
        format!("mongo_topology_server_staleness_seconds{{deployment=\"orders\",address=\"db.example.net:{port}\",set=\"rs0\"}}")
    };
    assert_eq!(sample(&text, &staleness(2)), Some("5.5"), "{text}");
    assert_eq!(sample(&text, &staleness(1)), None, "{text}");
    assert_eq!(sample(&text, &staleness(3)), None, "{text}");
    // The secondary becomes the primary (and the old one unknown): no staleness left.
    orders.update(&replica_set(Some(2), &[1]), Instant::now());
    let text = families.encode();
    assert!(
        !text.contains("mongo_topology_server_staleness_seconds{"),
        "{text}"
    );
}

/// A scrape's refresh sets the RTT that changed without a description change and the
/// check age, and leaves the series of servers to the next update (an unknown server gets
/// no RTT).
#[test]
fn a_refresh_sets_rtts_and_ages_but_adds_no_series() {
    let families = Arc::new(Families::new());
    let orders = deployment(&families, "orders");
    let start = Instant::now();
    orders.update(&replica_set(Some(1), &[3]), start);
    orders.on_event(&mongo_topology::ClusterEvent {
        topology_id: bson::oid::ObjectId::new(),
        at: start,
        kind: mongo_topology::EventKind::HeartbeatSucceeded {
            address: address(2),
            duration: Duration::from_millis(1),
            reply: mongo_topology::HelloReply::from_document(bson::Document::new()).unwrap(),
            awaited: true,
        },
    });
    let mut topology = replica_set(Some(1), &[]);
    let mut faster = (*topology.servers[&address(1)]).clone();
    faster.round_trip_time = Some(Duration::from_millis(7));
    topology.servers.insert(address(1), Arc::new(faster));
    orders.refresh(&topology, start + Duration::from_secs(4));
    let text = families.encode();
    let series = |name: &str, port: u16| {
        format!("mongo_topology_server_{name}{{deployment=\"orders\",address=\"db.example.net:{port}\",set=\"rs0\"}}")
    };
    assert_eq!(
        sample(&text, &series("rtt_seconds", 1)),
        Some("0.007"),
        "{text}"
    );
    assert_eq!(
        sample(&text, &series("last_successful_check_age_seconds", 2)),
        Some("4.0"),
        "{text}"
    );
    // Member 3 is known in the refreshed description only: its RTT waits for the update
    // its description change brings.
    assert_eq!(sample(&text, &series("rtt_seconds", 3)), None, "{text}");
}
