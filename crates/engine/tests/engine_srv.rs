//! `mongodb+srv://` seed lists resolved by the engine against a real DNS server on loopback
//! (tests/dns_support), including the bad answers of issue 10: no records, records outside
//! the parent domain, malformed targets, a huge TXT record, SERVFAIL and a silent server.

mod dns_support;

use std::time::Duration;

use dns_support::{Behaviour, DnsServer, DOMAIN};
use mongo_topology::options::srv::SrvError;
use mongo_topology::sdam::ServerType;
use mongo_topology::DnsError;
use mongo_topology::{Cluster, ClusterError, ClusterSettings, ServerAddress};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use tokio::time::Instant;

const PATIENCE: Duration = Duration::from_secs(10);

async fn resolve(
    dns: &DnsServer,
    host: &str,
    options: &str,
) -> Result<ClusterSettings, ClusterError> {
    let uri = format!("mongodb+srv://{host}.{DOMAIN}/{options}");
    ClusterSettings::resolve(&uri, dns.dns_settings()).await
}

fn local(port: u16) -> ServerAddress {
    ServerAddress::tcp(format!("localhost.{DOMAIN}"), port)
}

#[tokio::test]
async fn the_seed_list_and_txt_options_come_from_dns() {
    let dns = DnsServer::spec().await;
    let settings = resolve(&dns, "test1", "").await.unwrap();
    assert_eq!(settings.topology.seeds, [local(27017), local(27018)]);
    let srv = settings
        .srv
        .as_ref()
        .expect("srv settings kept for polling");
    assert_eq!(srv.hostname, format!("test1.{DOMAIN}"));
    assert_eq!(srv.initial_records.len(), 2);
    assert_eq!(srv.initial_records[0].ttl, Some(Duration::from_secs(86400)));

    let settings = resolve(&dns, "test5", "").await.unwrap();
    assert_eq!(settings.topology.seeds, [local(27017)]);
    assert_eq!(settings.topology.replica_set_name.as_deref(), Some("repl0"));

    // Several strings in one TXT record are concatenated.
    let settings = resolve(&dns, "test11", "").await.unwrap();
    assert_eq!(settings.topology.replica_set_name.as_deref(), Some("repl0"));

    let settings = resolve(&dns, "test22", "?srvServiceName=customname")
        .await
        .unwrap();
    assert_eq!(settings.topology.seeds, [local(27017), local(27018)]);
    let error = resolve(&dns, "test22", "").await.unwrap_err();
    assert!(
        matches!(error, ClusterError::Srv(SrvError::NoRecords { .. })),
        "{error}"
    );
}

#[tokio::test]
async fn a_plain_connection_string_needs_no_dns() {
    let dns = DnsServer::spec().await;
    let settings = ClusterSettings::resolve("mongodb://a.example.com/", dns.dns_settings())
        .await
        .unwrap();
    assert_eq!(settings.srv, None);
    assert_eq!(dns.queries(), 0);
    // The synchronous path says what to do for mongodb+srv.
    let error = ClusterSettings::parse(&format!("mongodb+srv://test1.{DOMAIN}/")).unwrap_err();
    assert!(
        error.to_string().contains("ClusterSettings::resolve"),
        "{error}"
    );
}

#[tokio::test]
async fn bad_answers_are_clear_errors() {
    let dns = DnsServer::spec().await;
    let cases: &[(&str, &str, &str)] = &[
        ("test4", "", "returned no records"),
        ("test6", "", "2 TXT records"),
        ("test7", "", "\"ssl\""),
        ("test8", "", "misformatted"),
        ("test10", "", "\"socketTimeoutMS\""),
        ("test12", "", "parent domain"),
        ("test13", "", "parent domain"),
        ("test19", "", "parent domain"),
        ("test1", "?loadBalanced=true", "multiple hosts"),
        ("test5", "?srvMaxHosts=1", "srvMaxHosts"),
    ];
    for (host, options, expected) in cases {
        let error = resolve(&dns, host, options).await.unwrap_err();
        let shown = error.to_string();
        assert!(shown.contains(expected), "{host}{options}: {shown}");
    }
}

#[tokio::test]
async fn malformed_srv_targets_are_rejected() {
    let dns = DnsServer::spec().await;
    dns.set_srv(
        "mongodb",
        "test1",
        &[("bad!name.test.build.10gen.cc", 27017)],
    );
    let error = resolve(&dns, "test1", "").await.unwrap_err();
    assert!(
        matches!(error, ClusterError::Srv(SrvError::MalformedTarget { .. })),
        "{error}"
    );
    dns.set_srv("mongodb", "test1", &[("localhost.test.build.10gen.cc", 0)]);
    let error = resolve(&dns, "test1", "").await.unwrap_err();
    assert!(error.to_string().contains("port 0"), "{error}");
}

#[tokio::test]
async fn a_huge_txt_record_comes_over_tcp_and_is_refused() {
    let dns = DnsServer::spec().await;
    let chunk = vec![b'a'; 255];
    dns.set_txt("test1", vec![vec![chunk; 40]]);
    let error = resolve(&dns, "test1", "").await.unwrap_err();
    assert!(
        matches!(error, ClusterError::Srv(SrvError::TxtTooLong(10200))),
        "{error}"
    );
}

#[tokio::test]
async fn a_failing_name_server_is_an_error_naming_the_lookup() {
    let dns = DnsServer::spec().await;
    dns.set_behaviour(Behaviour::ServFail);
    let error = resolve(&dns, "test1", "").await.unwrap_err();
    assert!(
        matches!(error, ClusterError::Dns(DnsError::Failed { .. })),
        "{error}"
    );
    let shown = error.to_string();
    assert!(shown.contains(&format!("test1.{DOMAIN}")), "{shown}");
    assert!(shown.contains("lookup"), "{shown}");
}

#[tokio::test]
async fn a_silent_name_server_times_out_without_hanging() {
    let dns = DnsServer::spec().await;
    dns.set_behaviour(Behaviour::Silent);
    let mut settings = dns.dns_settings();
    settings.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let uri = format!("mongodb+srv://test1.{DOMAIN}/");
    let error = ClusterSettings::resolve(&uri, settings).await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(error, ClusterError::Dns(DnsError::Timeout { .. })),
        "{error}"
    );
    assert!(
        error.to_string().contains("timed out after 300 ms"),
        "{error}"
    );
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < PATIENCE, "the lookup hung for {waited:?}");
}

#[tokio::test]
async fn a_cluster_reaches_mongos_found_through_srv() {
    let dns = DnsServer::spec().await;
    let deployment = Deployment::start(DeploymentSpec::sharded(2)).await.unwrap();
    let ports = deployment.ports();
    let target = format!("localhost.{DOMAIN}");
    dns.set_srv(
        "mongodb",
        "test1",
        &[(&target, ports[0]), (&target, ports[1])],
    );
    // mongodb+srv turns TLS on by default; these simulated mongos serve plain TCP.
    let settings = resolve(&dns, "test1", "?tls=false").await.unwrap();
    let cluster = Cluster::new(settings).unwrap();
    let topology = cluster
        .wait_for(
            |t| {
                t.servers
                    .values()
                    .filter(|s| s.server_type == ServerType::Mongos)
                    .count()
                    == 2
            },
            PATIENCE,
        )
        .await
        .unwrap();
    assert!(topology.servers.contains_key(&local(ports[0])));
    assert!(topology.servers.contains_key(&local(ports[1])));
    cluster.close().await;
    deployment.shutdown().await;
}
