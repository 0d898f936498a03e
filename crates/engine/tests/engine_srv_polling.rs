//! SRV polling (Polling SRV Records for mongos Discovery spec, prose tests) against the DNS
//! server of tests/dns_support and simulated mongos: records changed while the engine runs
//! add and remove mongos; DNS failures keep the last good list; srvMaxHosts holds; polling
//! stops for a replica set. The rescan interval is shortened with the test hook
//! `DnsSettings::rescan_interval`.

mod dns_support;

use std::collections::BTreeSet;
use std::time::Duration;

use dns_support::{Behaviour, DnsServer, DOMAIN};
use mongo_topology::sdam::TopologyType;
use mongo_topology::{Cluster, ClusterSettings};
use mongo_topology_sim::{Deployment, DeploymentSpec};

const PATIENCE: Duration = Duration::from_secs(10);
const RESCAN: Duration = Duration::from_millis(100);

struct Setup {
    dns: DnsServer,
    deployment: Deployment,
    cluster: Cluster,
    /// The simulated mongos ports, in order.
    ports: Vec<u16>,
}

fn target() -> String {
    format!("localhost.{DOMAIN}")
}

/// `count` mongos; test1 lists the ports at `initial` (indexes into the mongos).
async fn setup(count: usize, initial: &[usize], options: &str) -> Setup {
    let dns = DnsServer::spec().await;
    let deployment = Deployment::start(DeploymentSpec::sharded(count))
        .await
        .unwrap();
    let ports = deployment.ports();
    set_records(&dns, &ports, initial);
    let mut settings = dns.dns_settings();
    settings.rescan_interval = Some(RESCAN);
    // mongodb+srv turns TLS on by default; these simulated mongos serve plain TCP.
    let options = match options {
        "" => "?tls=false".to_string(),
        options => format!("{options}&tls=false"),
    };
    let uri = format!("mongodb+srv://test1.{DOMAIN}/{options}");
    let settings = ClusterSettings::resolve(&uri, settings).await.unwrap();
    let cluster = Cluster::new(settings).unwrap();
    Setup {
        dns,
        deployment,
        cluster,
        ports,
    }
}

fn set_records(dns: &DnsServer, ports: &[u16], indexes: &[usize]) {
    let target = target();
    let records: Vec<(&str, u16)> = indexes
        .iter()
        .map(|i| (target.as_str(), ports[*i]))
        .collect();
    dns.set_srv("mongodb", "test1", &records);
}

fn server_ports(cluster: &Cluster) -> BTreeSet<u16> {
    let topology = cluster.topology();
    topology.servers.keys().filter_map(|a| a.port()).collect()
}

fn expected(ports: &[u16], indexes: &[usize]) -> BTreeSet<u16> {
    indexes.iter().map(|i| ports[*i]).collect()
}

async fn wait_for_ports(setup: &Setup, indexes: &[usize]) {
    let want = expected(&setup.ports, indexes);
    let result = setup
        .cluster
        .wait_for(
            |t| {
                t.servers
                    .keys()
                    .filter_map(|a| a.port())
                    .collect::<BTreeSet<_>>()
                    == want
            },
            PATIENCE,
        )
        .await;
    assert!(
        result.is_ok(),
        "wanted {want:?}, have {:?}",
        server_ports(&setup.cluster)
    );
}

/// Waits until the DNS server has answered `rescans` more queries: proof that the poller
/// ran that many times.
async fn wait_for_rescans(dns: &DnsServer, rescans: usize) {
    let start = dns.queries();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while dns.queries() < start + rescans {
        assert!(tokio::time::Instant::now() < deadline, "the poller stopped");
        tokio::time::sleep(RESCAN / 4).await;
    }
}

async fn finish(setup: Setup) {
    setup.cluster.close().await;
    setup.deployment.shutdown().await;
}

#[tokio::test]
async fn records_added_replaced_and_removed_change_the_mongos() {
    let setup = setup(4, &[0, 1], "").await;
    wait_for_ports(&setup, &[0, 1]).await;
    // 1. Addition of a new record.
    set_records(&setup.dns, &setup.ports, &[0, 1, 2]);
    wait_for_ports(&setup, &[0, 1, 2]).await;
    // 2. Removal of an existing record.
    set_records(&setup.dns, &setup.ports, &[0, 2]);
    wait_for_ports(&setup, &[0, 2]).await;
    // 4. Replacement of both with one new record.
    set_records(&setup.dns, &setup.ports, &[3]);
    wait_for_ports(&setup, &[3]).await;
    // 5. Replacement with two new records.
    set_records(&setup.dns, &setup.ports, &[0, 1]);
    wait_for_ports(&setup, &[0, 1]).await;
    assert_eq!(
        setup.cluster.topology().topology_type,
        TopologyType::Sharded
    );
    finish(setup).await;
}

#[tokio::test]
async fn dns_failures_keep_the_last_good_list() {
    let setup = setup(3, &[0, 1], "").await;
    wait_for_ports(&setup, &[0, 1]).await;
    // 7. Lookup failure (SERVFAIL).
    setup.dns.set_behaviour(Behaviour::ServFail);
    set_records(&setup.dns, &setup.ports, &[2]);
    wait_for_rescans(&setup.dns, 3).await;
    assert_eq!(
        server_ports(&setup.cluster),
        expected(&setup.ports, &[0, 1])
    );
    // 8. No SRV records at all.
    setup.dns.set_behaviour(Behaviour::Answer);
    set_records(&setup.dns, &setup.ports, &[]);
    wait_for_rescans(&setup.dns, 3).await;
    assert_eq!(
        server_ports(&setup.cluster),
        expected(&setup.ports, &[0, 1])
    );
    // Only records outside the parent domain: ignored, nothing changes.
    setup.dns.set_srv(
        "mongodb",
        "test1",
        &[("localhost.evil.build.10gen.cc", 27017)],
    );
    wait_for_rescans(&setup.dns, 3).await;
    assert_eq!(
        server_ports(&setup.cluster),
        expected(&setup.ports, &[0, 1])
    );
    // Recovery: the next good answer applies.
    set_records(&setup.dns, &setup.ports, &[1, 2]);
    wait_for_ports(&setup, &[1, 2]).await;
    finish(setup).await;
}

#[tokio::test]
async fn a_timed_out_rescan_keeps_the_list() {
    // 6. DNS record lookup timeout.
    let setup = setup(3, &[0, 1], "").await;
    wait_for_ports(&setup, &[0, 1]).await;
    setup.dns.set_behaviour(Behaviour::Silent);
    set_records(&setup.dns, &setup.ports, &[2]);
    wait_for_rescans(&setup.dns, 2).await;
    assert_eq!(
        server_ports(&setup.cluster),
        expected(&setup.ports, &[0, 1])
    );
    setup.dns.set_behaviour(Behaviour::Answer);
    wait_for_ports(&setup, &[2]).await;
    finish(setup).await;
}

#[tokio::test]
async fn srv_max_hosts_caps_the_mongos_added() {
    // 11. srvMaxHosts less than the number of valid hosts.
    let setup = setup(4, &[0, 1], "?srvMaxHosts=2").await;
    wait_for_ports(&setup, &[0, 1]).await;
    set_records(&setup.dns, &setup.ports, &[0, 2, 3]);
    let first = setup.ports[0];
    let others = expected(&setup.ports, &[2, 3]);
    let result = setup
        .cluster
        .wait_for(
            |t| {
                let ports: BTreeSet<u16> = t.servers.keys().filter_map(|a| a.port()).collect();
                ports.len() == 2
                    && ports.contains(&first)
                    && ports.iter().filter(|p| others.contains(p)).count() == 1
            },
            PATIENCE,
        )
        .await;
    assert!(result.is_ok(), "{:?}", server_ports(&setup.cluster));
    // Later rescans keep two: the existing hosts stay.
    let before = server_ports(&setup.cluster);
    wait_for_rescans(&setup.dns, 3).await;
    assert_eq!(server_ports(&setup.cluster), before);
    finish(setup).await;
}

#[tokio::test]
async fn srv_max_hosts_zero_takes_every_record() {
    // 10. srvMaxHosts = 0.
    let setup = setup(4, &[0, 1], "?srvMaxHosts=0").await;
    wait_for_ports(&setup, &[0, 1]).await;
    set_records(&setup.dns, &setup.ports, &[0, 2, 3]);
    wait_for_ports(&setup, &[0, 2, 3]).await;
    finish(setup).await;
}

#[tokio::test]
async fn polling_stops_for_a_replica_set() {
    let dns = DnsServer::spec().await;
    let deployment = Deployment::start(DeploymentSpec::replica_set("repl0", 1, 0, 0))
        .await
        .unwrap();
    let port = deployment.ports()[0];
    dns.set_srv("mongodb", "test1", &[(&target(), port)]);
    let mut settings = dns.dns_settings();
    settings.rescan_interval = Some(RESCAN);
    let uri = format!("mongodb+srv://test1.{DOMAIN}/?directConnection=false&tls=false");
    let settings = ClusterSettings::resolve(&uri, settings).await.unwrap();
    let cluster = Cluster::new(settings).unwrap();
    cluster
        .wait_for(
            |t| t.topology_type == TopologyType::ReplicaSetWithPrimary,
            PATIENCE,
        )
        .await
        .unwrap();
    // At most one rescan may be in flight when the type changes; then none.
    tokio::time::sleep(RESCAN * 3).await;
    let queries = dns.queries();
    tokio::time::sleep(RESCAN * 5).await;
    assert_eq!(
        dns.queries(),
        queries,
        "the poller kept polling a replica set"
    );
    cluster.close().await;
    deployment.shutdown().await;
}

#[tokio::test]
async fn closing_the_cluster_stops_the_poller() {
    let setup = setup(2, &[0, 1], "").await;
    wait_for_ports(&setup, &[0, 1]).await;
    wait_for_rescans(&setup.dns, 1).await;
    setup.cluster.close().await;
    tokio::time::sleep(RESCAN).await;
    let queries = setup.dns.queries();
    tokio::time::sleep(RESCAN * 5).await;
    assert_eq!(setup.dns.queries(), queries);
    setup.deployment.shutdown().await;
}

#[tokio::test]
async fn no_polling_for_a_load_balanced_cluster() {
    // 9. SRV polling is not done for load-balanced clusters.
    let dns = DnsServer::spec().await;
    let mut settings = dns.dns_settings();
    settings.rescan_interval = Some(RESCAN);
    let uri = format!("mongodb+srv://test3.{DOMAIN}/?loadBalanced=true&tls=false");
    let settings = ClusterSettings::resolve(&uri, settings).await.unwrap();
    let cluster = Cluster::new(settings).unwrap();
    let queries = dns.queries();
    dns.set_srv(
        "mongodb",
        "test3",
        &[(&target(), 27017), (&target(), 27018)],
    );
    tokio::time::sleep(RESCAN * 3).await;
    assert_eq!(
        dns.queries(),
        queries,
        "a load-balanced cluster polled SRV records"
    );
    let ports: Vec<u16> = server_ports(&cluster).into_iter().collect();
    assert_eq!(ports, [27017]);
    assert_eq!(cluster.topology().topology_type, TopologyType::LoadBalanced);
    cluster.close().await;
}
