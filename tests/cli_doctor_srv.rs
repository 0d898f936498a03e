//! `mongo-topology doctor --json` with `mongodb+srv://` strings against the in-process DNS
//! server and simulated deployments: the parent-domain rule, a single SRV target, low TTLs,
//! options from the TXT record, and `srvMaxHosts` with a replica set.

#[path = "../crates/engine/tests/dns_support/mod.rs"]
mod dns_support;
mod doctor_support;

use dns_support::{DnsServer, DOMAIN};
use doctor_support::{assert_fires, fired, run};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use serde_json::Value;

/// `doctor --json URI --dns-server DNS`.
async fn doctor_srv(uri: &str, dns: &DnsServer) -> (i32, Value) {
    let server = dns.address().to_string();
    let output = run(&["doctor", "--json", uri, "--dns-server", &server]).await;
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_outside_the_parent_domain() {
    let dns = DnsServer::spec().await;
    // The spec's zone: test19 has a target under evil.build.10gen.cc.
    let (code, report) =
        doctor_srv(&format!("mongodb+srv://test19.{DOMAIN}/?tls=false"), &dns).await;
    assert_eq!(code, 2);
    assert_fires(&report, "srv.parent-domain", "error", &[]);
    assert!(
        findings_without(&report, "srv.parent-domain").is_empty(),
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_srv_string_has_no_error_or_warning() {
    let dns = DnsServer::spec().await;
    let sim = Deployment::start(DeploymentSpec::sharded(2)).await.unwrap();
    let target = format!("localhost.{DOMAIN}");
    let ports = sim.ports();
    dns.set_srv(
        "mongodb",
        "test1",
        &[(&target, ports[0]), (&target, ports[1])],
    );
    let (code, report) =
        doctor_srv(&format!("mongodb+srv://test1.{DOMAIN}/?tls=false"), &dns).await;
    let loud: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    assert_eq!(code, 0);
    assert_eq!(report["verdicts"]["write"]["ok"], true, "{report:#}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_without_srv_records() {
    let dns = DnsServer::spec().await;
    let (code, report) = doctor_srv(
        &format!("mongodb+srv://no-such-cluster.{DOMAIN}/?tls=false"),
        &dns,
    )
    .await;
    assert_eq!(code, 2);
    assert_fires(&report, "srv.lookup-failed", "error", &[]);
}

fn findings_without<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] != rule)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_srv_target_and_options_from_the_txt_record() {
    let dns = DnsServer::spec().await;
    let sim = Deployment::start(DeploymentSpec::sharded(2)).await.unwrap();
    let target = format!("localhost.{DOMAIN}");
    dns.set_srv("mongodb", "test1", &[(&target, sim.ports()[0])]);
    dns.set_txt("test1", vec![vec![b"authSource=admin".to_vec()]]);
    dns.edit(|zone| zone.ttl = Some(30));
    let (code, report) =
        doctor_srv(&format!("mongodb+srv://test1.{DOMAIN}/?tls=false"), &dns).await;
    assert_eq!(code, 0, "{report:#}");
    let seed = format!("{target}:{}", sim.ports()[0]);
    assert_fires(&report, "srv.single-target", "warning", &[&seed]);
    let ttl = fired(&report, "srv.low-ttl")[0];
    assert_eq!(ttl["severity"], "info");
    assert!(
        ttl["evidence"].as_str().unwrap().contains("(TTL 30 s)"),
        "{ttl}"
    );
    let txt = fired(&report, "srv.txt-options")[0];
    assert_eq!(txt["severity"], "info");
    assert!(
        txt["evidence"]
            .as_str()
            .unwrap()
            .contains("authSource=admin"),
        "{txt}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_max_hosts_with_a_replica_set() {
    let dns = DnsServer::spec().await;
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let target = format!("localhost.{DOMAIN}");
    let ports = sim.ports();
    dns.set_srv(
        "mongodb",
        "test1",
        &[
            (&target, ports[0]),
            (&target, ports[1]),
            (&target, ports[2]),
        ],
    );
    let uri = format!("mongodb+srv://test1.{DOMAIN}/?tls=false&srvMaxHosts=1");
    let (_, report) = doctor_srv(&uri, &dns).await;
    assert_fires(&report, "srv.max-hosts-with-replica-set", "warning", &[]);
    sim.shutdown().await;
}
