//! `mongo-topology exporter` as a process: two simulated replica sets in one process, each
//! series labelled with its deployment, no credentials in the metrics, valid text for
//! `promtool check metrics` (when installed), SIGHUP removing a deployment's series and
//! adding another's, SIGTERM.

mod exporter_support;

use std::process::Stdio;

use exporter_support::prometheus::Prometheus;
use exporter_support::{config_text, on_path, sample, temp_dir, Exporter};
use mongo_topology_sim::{Deployment, DeploymentSpec};

const SECRET: &str = "s3cret-in-the-uri";

fn has_primary(body: &str, deployment: &str) -> bool {
    sample(
        body,
        &format!("mongo_topology_topology_has_primary{{deployment=\"{deployment}\"}}"),
    ) == Some("1")
}

/// `promtool check metrics` accepts `body` (lint advice allowed, no parse error).
fn check_with_promtool(body: &str) {
    let Some(promtool) = on_path("promtool") else {
        eprintln!("promtool check skipped: promtool is not installed (scripts/test installs it)");
        return;
    };
    use std::io::Write as _;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !report.contains("error") && matches!(output.status.code(), Some(0) | Some(3)),
        "{report}\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deployments_in_one_process_and_sighup_changes_the_set() {
    let orders = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let billing = Deployment::start(DeploymentSpec::replica_set("rs1", 2, 0, 0))
        .await
        .unwrap();
    let dir = temp_dir("cli-exporter");
    let config = dir.join("fleet.toml");
    let billing_file = dir.join("billing.uri");
    std::fs::write(&billing_file, billing.connection_string()).unwrap();
    std::fs::write(
        &config,
        format!(
            "[[deployment]]\nname = \"orders\"\nuri_env = \"ORDERS_URI\"\n\n\
             [[deployment]]\nname = \"billing\"\nuri_file = \"{}\"\n",
            billing_file.display()
        ),
    )
    .unwrap();
    // A password in the connection string: monitoring does not authenticate, and the
    // metrics and logs must not show it.
    // Orders is polled, twice a second: its checks are timed (a streaming server's are not).
    let orders_uri =
        orders
            .connection_string()
            .replacen("mongodb://", &format!("mongodb://user:{SECRET}@"), 1)
            + "&serverMonitoringMode=poll&heartbeatFrequencyMS=500";
    let exporter = Exporter::start(&config, &[("ORDERS_URI", &orders_uri)]).await;
    let body = exporter
        .scrape_until("both deployments with a primary", |body| {
            has_primary(body, "orders") && has_primary(body, "billing")
        })
        .await;
    assert!(!body.contains(SECRET));
    for address in orders.addresses() {
        let up = format!(
            "mongo_topology_server_up{{deployment=\"orders\",address=\"{address}\",set=\"rs0\"}}"
        );
        assert!(sample(&body, &up).is_some(), "{up} in {body}");
    }
    assert!(
        body.contains(
            "mongo_topology_topology_type{deployment=\"billing\",type=\"ReplicaSetWithPrimary\"} 1"
        ),
        "{body}"
    );
    // Heartbeats were observed, and the polled deployment's timed.
    let body = exporter
        .scrape_until("a heartbeat duration and check age", |body| {
            body.contains(
                "mongo_topology_server_heartbeat_duration_seconds_count{deployment=\"orders\"",
            ) && body.contains(
                "mongo_topology_server_last_successful_check_age_seconds{deployment=\"billing\"",
            )
        })
        .await;
    assert!(body.ends_with("# EOF\n"), "{body}");
    // Every series has the set name of the connection string, even a first heartbeat's.
    assert!(!body.contains("set=\"\""), "{body}");
    check_with_promtool(&body);

    // billing leaves and shipping arrives, without a restart.
    std::fs::write(
        &config,
        config_text(&[
            ("orders", &orders.connection_string()),
            ("shipping", &billing.connection_string()),
        ]),
    )
    .unwrap();
    exporter.signal("-HUP");
    let body = exporter
        .scrape_until("billing gone and shipping discovered", |body| {
            !body.contains("deployment=\"billing\"") && has_primary(body, "shipping")
        })
        .await;
    assert!(has_primary(&body, "orders"), "{body}");
    // A configuration that cannot be used keeps the running set.
    std::fs::write(&config, "[[deployment]]\nname = \"x\"\n").unwrap();
    exporter.signal("-HUP");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let body = exporter.scrape().await;
    assert!(
        has_primary(&body, "orders") && has_primary(&body, "shipping"),
        "{body}"
    );
    let (code, stderr) = exporter.terminate().await;
    assert_eq!(code, Some(143), "{stderr}");
    assert!(stderr.contains("configuration not reloaded"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    orders.shutdown().await;
    billing.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Without SIGHUP: a change of the file's contents is seen within a few seconds (the file is
/// polled), deployments come and go, and an unusable file keeps the running set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_the_configuration_file_is_applied_without_a_signal() {
    let first = Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0))
        .await
        .unwrap();
    let second = Deployment::start(DeploymentSpec::replica_set("rs1", 1, 0, 0))
        .await
        .unwrap();
    let dir = temp_dir("cli-exporter-file-change");
    let config = dir.join("fleet.toml");
    std::fs::write(
        &config,
        config_text(&[("first", &first.connection_string())]),
    )
    .unwrap();
    let exporter = Exporter::start(&config, &[]).await;
    exporter
        .scrape_until("first with a primary", |body| has_primary(body, "first"))
        .await;
    std::fs::write(
        &config,
        config_text(&[("second", &second.connection_string())]),
    )
    .unwrap();
    let body = exporter
        .scrape_until("first gone and second discovered", |body| {
            !body.contains("deployment=\"first\"") && has_primary(body, "second")
        })
        .await;
    assert!(body.ends_with("# EOF\n"), "{body}");
    std::fs::write(&config, "[[deployment]]\nname = \"x\"\n").unwrap();
    let stderr_wait = std::time::Instant::now();
    // Polled every 3 s: well past one poll, the running set is unchanged.
    tokio::time::sleep(std::time::Duration::from_secs(7)).await;
    let body = exporter.scrape().await;
    assert!(has_primary(&body, "second"), "{body}");
    let (code, stderr) = exporter.terminate().await;
    assert_eq!(code, Some(143), "{stderr}");
    assert!(
        stderr.contains("configuration reloaded: 1 deployments"),
        "{stderr}"
    );
    // Reported once, not at every poll.
    assert_eq!(
        stderr.matches("configuration not reloaded").count(),
        1,
        "after {:?}: {stderr}",
        stderr_wait.elapsed()
    );
    first.shutdown().await;
    second.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A configuration file whose read never ends (here a FIFO without a writer; in the field a
/// hung network filesystem) stalls neither the scrapes nor the monitors, which share the
/// exporter's one runtime thread: the read is given up after 5 s and reported, no other
/// starts while it is stuck, SIGHUP says so, and SIGTERM still ends the exporter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_read_that_never_ends_stalls_nothing() {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0))
        .await
        .unwrap();
    let dir = temp_dir("cli-exporter-stuck-read");
    let config = dir.join("fleet.toml");
    std::fs::write(&config, config_text(&[("only", &sim.connection_string())])).unwrap();
    let exporter = Exporter::start(&config, &[]).await;
    exporter
        .scrape_until("a primary", |body| has_primary(body, "only"))
        .await;
    let fifo = dir.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::rename(&fifo, &config).unwrap();
    // The next poll (every 3 s) opens the FIFO and blocks; scrapes go on meanwhile, each
    // answered within a second, through the read's 5 s timeout and after it.
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(9) {
        let body = tokio::time::timeout(std::time::Duration::from_secs(1), exporter.scrape())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no scrape answered within 1 s, {:?} after the file became a FIFO",
                    started.elapsed()
                )
            });
        assert!(has_primary(&body, "only"), "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    exporter.signal("-HUP");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let body = exporter.scrape().await;
    assert!(has_primary(&body, "only"), "{body}");
    let (code, stderr) = exporter.terminate().await;
    assert_eq!(code, Some(143), "{stderr}");
    assert_eq!(
        stderr.matches("has taken over 5 s").count(),
        1,
        "one stuck read, reported once: {stderr}"
    );
    assert!(
        stderr.contains("configuration not reloaded (the 1 running deployments go on): a read of the file has not finished"),
        "{stderr}"
    );
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_configuration_that_cannot_be_used_is_refused_at_the_start() {
    let dir = temp_dir("cli-exporter-bad");
    let config = dir.join("fleet.toml");
    std::fs::write(
        &config,
        format!(
            "[[deployment]]\nname = \"a\"\nuri = \"mongodb://u:{SECRET}@h/\"\nuri_env = \"X\"\n"
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .args(["exporter", "--metrics-addr", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("exactly one of"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

/// What one exporter process holds: `MONGO_TOPOLOGY_FLEET` three-member replica sets
/// (default 100), all discovered, then resident memory, CPU over 30 s
/// (`MONGO_TOPOLOGY_FLEET_WINDOW` seconds) while a real
/// Prometheus (when installed) scrapes it every 5 s, and the time to serve `/metrics`
/// (ours, and Prometheus's own `scrape_duration_seconds`). A measurement for
/// docs/fleet.md, not a check (`MONGO_TOPOLOGY_FLEET_OPTIONS` is appended to every
/// connection string, e.g. `&serverMonitoringMode=poll`):
/// `MONGO_TOPOLOGY_FLEET=1000 cargo test --release --test cli_exporter -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (docs/fleet.md), minutes at 1,000 deployments"]
async fn footprint_of_a_fleet() {
    let count: usize = std::env::var("MONGO_TOPOLOGY_FLEET")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(100);
    // The idle window in seconds (default 30).
    let window = std::time::Duration::from_secs(
        std::env::var("MONGO_TOPOLOGY_FLEET_WINDOW")
            .ok()
            .and_then(|seconds| seconds.parse().ok())
            .unwrap_or(30),
    );
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut sims = Vec::with_capacity(count);
    for index in 0..count {
        let spec = DeploymentSpec::replica_set(&format!("rs{index}"), 3, 0, 0);
        sims.push(Deployment::start(spec).await.unwrap());
    }
    let dir = temp_dir("cli-exporter-footprint");
    let config = dir.join("fleet.toml");
    let names: Vec<String> = (0..count).map(|index| format!("d{index}")).collect();
    // More URI options for every deployment, e.g. `&serverMonitoringMode=poll`.
    let options = std::env::var("MONGO_TOPOLOGY_FLEET_OPTIONS").unwrap_or_default();
    let uris: Vec<String> = sims
        .iter()
        .map(|sim| format!("{}{options}", sim.connection_string()))
        .collect();
    let entries: Vec<(&str, &str)> = names
        .iter()
        .zip(&uris)
        .map(|(name, uri)| (name.as_str(), uri.as_str()))
        .collect();
    std::fs::write(&config, config_text(&entries)).unwrap();
    let started = std::time::Instant::now();
    let exporter = Exporter::start(&config, &[]).await;
    let pid = exporter.child.id().unwrap();
    loop {
        let body = exporter.scrape().await;
        let with_primary = body
            .lines()
            .filter(|line| {
                line.starts_with("mongo_topology_topology_has_primary{") && line.ends_with(" 1")
            })
            .count();
        if with_primary == count {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 600,
            "{with_primary} of {count} discovered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let discovered = started.elapsed();
    let cpu = |pid: u32| -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    };
    // Prometheus as operators run it, scraping every 5 s through the idle window.
    let prometheus = match on_path("prometheus") {
        Some(binary) => {
            let every = std::time::Duration::from_secs(5);
            Some(Prometheus::start(&binary, &dir, exporter.port, every).await)
        }
        None => {
            eprintln!("the prometheus binary is absent: the idle window has no scrapes");
            None
        }
    };
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (cpu_before, at) = (cpu(pid), std::time::Instant::now());
    tokio::time::sleep(window).await;
    let idle = (cpu(pid) - cpu_before) / at.elapsed().as_secs_f64() * 100.0;
    let scraped = match &prometheus {
        Some(prometheus) => {
            // Proof that the window had scrapes: Prometheus stored every deployment.
            let stored = prometheus
                .query("count(mongo_topology_topology_has_primary == 1)")
                .await;
            let stored = stored.first().map_or(0.0, |(_, value)| *value);
            assert_eq!(
                stored, count as f64,
                "Prometheus stored {stored} deployments"
            );
            let took = prometheus
                .query("max_over_time(scrape_duration_seconds{job=\"mongo-topology\"}[1m])")
                .await;
            let took = took.first().map_or(f64::NAN, |(_, value)| *value);
            let scrapes = prometheus
                .query("count_over_time(up{job=\"mongo-topology\"}[1m])")
                .await;
            let scrapes = scrapes.first().map_or(0.0, |(_, value)| *value);
            format!(
                "while Prometheus scraped every 5 s ({scrapes} scrapes in the last minute, \
                 the slowest {:.1} ms)",
                took * 1000.0
            )
        }
        None => "without scrapes".to_owned(),
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap_or("VmRSS: ?")
        .to_string();
    let mut scrape_times = Vec::new();
    let mut body = String::new();
    for _ in 0..5 {
        let at = std::time::Instant::now();
        body = exporter.scrape().await;
        scrape_times.push(at.elapsed().as_secs_f64() * 1000.0);
    }
    scrape_times.sort_by(f64::total_cmp);
    let bytes = body.len();
    // Failed checks since the start: a reconnection in the window costs a handshake.
    let failed_checks: f64 = body
        .lines()
        .filter(|line| line.starts_with("mongo_topology_server_heartbeat_failures_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    println!(
        "fleet of {count} three-member replica sets: all with a primary in {:.2} s; {rss}; \
         CPU {idle:.2} % of a core over {} s {scraped}; /metrics {bytes} bytes in {:.1} ms \
         (median of 5); {failed_checks} failed checks",
        discovered.as_secs_f64(),
        window.as_secs(),
        scrape_times[2]
    );
    drop(prometheus);
    let _ = exporter.terminate().await;
    for sim in sims {
        sim.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_deployment_exports_when_its_certificates_expire() {
    use mongo_topology_sim::{SimTls, SimTlsOptions};
    let tls = SimTls::generate(SimTlsOptions::default()).unwrap();
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0).with_tls(tls.clone()))
        .await
        .unwrap();
    let dir = temp_dir("cli-exporter-tls");
    let ca = dir.join("ca.pem");
    tls.write_ca_file(&ca).unwrap();
    let config = dir.join("fleet.toml");
    let uri = format!("{}&tlsCAFile={}", sim.connection_string(), ca.display());
    std::fs::write(&config, config_text(&[("secure", &uri)])).unwrap();
    let exporter = Exporter::start(&config, &[]).await;
    let expiry = |address: &str| {
        format!(
            "mongo_topology_server_certificate_expiry_timestamp_seconds{{deployment=\"secure\",address=\"{address}\",set=\"rs0\"}}"
        )
    };
    let addresses = sim.addresses();
    let body = exporter
        .scrape_until("every member's certificate expiry", |body| {
            addresses
                .iter()
                .all(|address| sample(body, &expiry(address)).is_some())
        })
        .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for address in &addresses {
        let seconds: u64 = sample(&body, &expiry(address)).unwrap().parse().unwrap();
        // The simulator's certificates are valid for a while yet, and not for centuries.
        assert!(
            seconds > now && seconds < now + 200 * 365 * 86_400,
            "{seconds} vs {now}"
        );
    }
    let _ = exporter.terminate().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_srv_lookups_are_counted_and_the_others_go_on() {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0))
        .await
        .unwrap();
    // A name server that does not answer: a UDP port nobody listens on.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns_server = silent.local_addr().unwrap().to_string();
    drop(silent);
    let dir = temp_dir("cli-exporter-srv");
    let config = dir.join("fleet.toml");
    std::fs::write(
        &config,
        config_text(&[
            ("plain", &sim.connection_string()),
            ("srv", "mongodb+srv://cluster0.example.test/"),
        ]),
    )
    .unwrap();
    let exporter = Exporter::start_with(&config, &["--dns-server", &dns_server]).await;
    let body = exporter
        .scrape_until("a failed SRV lookup counted", |body| {
            sample(
                body,
                "mongo_topology_topology_srv_lookup_failures_total{deployment=\"srv\"}",
            )
            .is_some_and(|count| count != "0")
                && has_primary(body, "plain")
        })
        .await;
    // No servers for the deployment whose seed list is unknown.
    assert!(
        !body.contains("mongo_topology_server_up{deployment=\"srv\""),
        "{body}"
    );
    let (code, stderr) = exporter.terminate().await;
    assert_eq!(code, Some(143), "{stderr}");
    assert!(stderr.contains("seed list lookup"), "{stderr}");
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
