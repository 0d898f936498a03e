//! `discover` and `watch` with `mongodb+srv://` strings, as processes, against the
//! in-process DNS server (tests/dns_support) and simulated mongos: the SRV records shown,
//! and a failed lookup as one line with exit status 2.

#[path = "../crates/engine/tests/dns_support/mod.rs"]
mod dns_support;

use std::process::Output;
use std::time::Duration;

use dns_support::{Behaviour, DnsServer, DOMAIN};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use serde_json::Value;
use tokio::process::Command;

async fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(20), command.output())
        .await
        .expect("the command exits in time")
        .expect("run the binary")
}

/// Two simulated mongos listed by `_mongodb._tcp.test1.<DOMAIN>`.
async fn two_mongos(dns: &DnsServer) -> Deployment {
    let deployment = Deployment::start(DeploymentSpec::sharded(2)).await.unwrap();
    let ports = deployment.ports();
    let target = format!("localhost.{DOMAIN}");
    dns.set_srv(
        "mongodb",
        "test1",
        &[(&target, ports[0]), (&target, ports[1])],
    );
    deployment
}

/// mongodb+srv turns TLS on by default; the simulated mongos serve plain TCP.
fn srv_uri() -> String {
    format!("mongodb+srv://test1.{DOMAIN}/?tls=false")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_shows_the_srv_records_and_the_mongos_they_name() {
    let dns = DnsServer::spec().await;
    let deployment = two_mongos(&dns).await;
    let server = dns.address().to_string();
    let uri = srv_uri();

    let output = run(&["discover", &uri, "--dns-server", &server, "--json"]).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["srv"]["query"],
        format!("_mongodb._tcp.test1.{DOMAIN}")
    );
    let mut ports: Vec<u64> = report["srv"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["port"].as_u64().unwrap())
        .collect();
    ports.sort_unstable();
    let mut expected: Vec<u64> = deployment.ports().iter().map(|&p| u64::from(p)).collect();
    expected.sort_unstable();
    assert_eq!(ports, expected);
    let servers = report["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "{report}");
    assert!(servers.iter().all(|s| s["type"] == "Mongos"), "{report}");

    let output = run(&["discover", &uri, "--dns-server", &server]).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|line| line.starts_with("SRV records of _mongodb._tcp.test1."))
        .unwrap_or_else(|| panic!("no SRV line in:\n{text}"));
    for port in deployment.ports() {
        assert!(
            line.contains(&format!("localhost.{DOMAIN}:{port}")),
            "{line}"
        );
    }
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_srv_lookup_is_one_line_and_exit_status_2() {
    let dns = DnsServer::spec().await;
    dns.set_behaviour(Behaviour::ServFail);
    let server = dns.address().to_string();
    let output = run(&["discover", &srv_uri(), "--dns-server", &server]).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: cannot resolve the seed list"),
        "{stderr}"
    );
    assert!(lines[0].contains("SRV"), "{stderr}");
    assert!(output.stdout.is_empty());

    let output = run(&["watch", &srv_uri(), "--dns-server", &server, "--json"]).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_names_the_srv_records_and_streams_the_mongos() {
    let dns = DnsServer::spec().await;
    let deployment = two_mongos(&dns).await;
    let server = dns.address().to_string();
    let output = run(&[
        "watch",
        &srv_uri(),
        "--dns-server",
        &server,
        "--json",
        "--duration",
        "1",
    ])
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("SRV records of _mongodb._tcp.test1.{DOMAIN}: ")),
        "{stderr}"
    );
    let mongos_lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| {
            event["event"] == "server_description_changed" && event["new_type"] == "Mongos"
        })
        .count();
    assert_eq!(mongos_lines, 2);
    deployment.shutdown().await;
}

/// `--timeout-ms` bounds the mongodb+srv lookups too: with a name server that never
/// answers, `discover --timeout-ms 1500` took 10 s (the resolver's own timeout); it now
/// ends at the timeout, exit status 2, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_ms_bounds_the_srv_lookups() {
    // A name server that receives every query and never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    let started = std::time::Instant::now();
    let output = run(&[
        "discover",
        &srv_uri(),
        "--dns-server",
        &server,
        "--timeout-ms",
        "1500",
    ])
    .await;
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("did not finish within --timeout-ms (1500 ms)"),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}: {stderr}");
    drop(silent);
}

/// `watch` bounds its mongodb+srv lookups like `discover`: with a name server that never
/// answers, `watch --timeout-ms 1500` ends at the timeout, exit status 2, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_timeout_ms_bounds_the_srv_lookups() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    let started = std::time::Instant::now();
    let output = run(&[
        "watch",
        &srv_uri(),
        "--json",
        "--dns-server",
        &server,
        "--timeout-ms",
        "1500",
    ])
    .await;
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("did not finish within --timeout-ms (1500 ms)"),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}: {stderr}");
    assert!(output.stdout.is_empty());
    drop(silent);
}
