//! The DNS cells: a `mongodb+srv` string over three mongos; while the fault is applied the
//! DNS server answers SERVFAIL to every SRV rescan (and its zone meanwhile lists another
//! mongos): the last good list must be kept. With `whole_dns`, A lookups fail too, so new
//! connections fail with typed DNS errors (a DNS outage); without, every call succeeds. Healed: the server answers again, with a new
//! list, which the view must reach.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mongo_topology::sdam::ServerType;
use mongo_topology::selection::{ReadPreference, ReadPreferenceMode, SelectionCriteria};
use mongo_topology::{Cluster, ClusterSettings, ServerAddress};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use tokio::time::Instant;

use super::callers::{Callers, PHASE_FAULT};
use super::cell::{check_common, converge, line, probe, CellReport};
use super::faults::Fault;
use super::{fault_window, options, Mode, Role};
use crate::dns_support::{Behaviour, DnsServer, DOMAIN};

/// The SRV rescan interval (test hook; the spec's minimum is 60 s).
pub const RESCAN: Duration = Duration::from_millis(100);

/// Makes the SRV records of `test1` list the mongos on `ports`.
pub fn set_records(dns: &DnsServer, ports: &[u16]) {
    let target = format!("localhost.{DOMAIN}");
    let records: Vec<(&str, u16)> = ports.iter().map(|p| (target.as_str(), *p)).collect();
    dns.set_srv("mongodb", "test1", &records);
}

/// Every SRV target on `ports` as a mongos.
pub fn view_of(ports: &[u16]) -> BTreeMap<ServerAddress, ServerType> {
    ports
        .iter()
        .map(|p| {
            let address =
                ServerAddress::parse(&format!("localhost.{DOMAIN}:{p}")).expect("address");
            (address, ServerType::Mongos)
        })
        .collect()
}

fn ports_of(cluster: &Cluster) -> BTreeSet<u16> {
    cluster
        .topology()
        .servers
        .keys()
        .filter_map(|a| a.port())
        .collect()
}

/// Runs the DNS failure cell.
pub async fn run_dns_cell(mode: Mode, whole_dns: bool) -> CellReport {
    let fault = Fault::DnsFailure;
    let dns = DnsServer::spec().await;
    let sim = Deployment::start(DeploymentSpec::sharded(3))
        .await
        .expect("start the simulator");
    let ports = sim.ports();
    set_records(&dns, &ports[..2]);
    let mut settings = dns.dns_settings();
    settings.rescan_interval = Some(RESCAN);
    // mongodb+srv implies tls=true; these mongos serve plain TCP (the TLS cell covers TLS).
    let uri = format!("mongodb+srv://test1.{DOMAIN}/?tls=false&{}", options(mode));
    let settings = ClusterSettings::resolve(&uri, settings)
        .await
        .expect("the SRV string resolves");
    let cluster = Cluster::new(settings).expect("cluster");
    let mut problems = Vec::new();
    if converge(&cluster, &view_of(&ports[..2])).await.is_none() {
        problems.push("the initial view never converged".into());
    }
    let last_good: BTreeSet<u16> = ports[..2].iter().copied().collect();
    let target = view_of(&ports[..1])
        .into_keys()
        .next()
        .expect("one address");
    let callers = Callers::start(&cluster, fault.calls(Role::Dns, &target));

    callers.set_phase(PHASE_FAULT);
    dns.set_behaviour(if whole_dns {
        Behaviour::ServFail
    } else {
        Behaviour::ServFailSrv
    });
    set_records(&dns, &ports[2..]);
    let queries = dns.queries();
    let until = Instant::now() + fault_window();
    let any = SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Nearest));
    let prober = tokio::spawn(probe(cluster.clone(), any, fault, target, until));
    while Instant::now() < until {
        if ports_of(&cluster) != last_good {
            problems.push(format!(
                "the list changed during the failure: {:?}",
                ports_of(&cluster)
            ));
            break;
        }
        tokio::time::sleep(RESCAN / 2).await;
    }
    let probes = prober.await.unwrap_or_default();
    let rescans = dns.queries() - queries;
    if rescans < 2 {
        problems.push(format!("only {rescans} DNS queries during the failure"));
    }

    // The callers stop before the heal: the new list closes the pool of the mongos it
    // drops, which fails the calls in flight there (pool closed), as CMAP says.
    let tally = callers.finish().await;
    dns.set_behaviour(Behaviour::Answer);
    set_records(&dns, &ports[1..]);
    let converged = converge(&cluster, &view_of(&ports[1..])).await;
    cluster.close().await;
    sim.shutdown().await;
    dns.stop().await;

    check_common(
        &tally,
        &probes,
        converged,
        mode.convergence_bound(),
        &mut problems,
    );
    if !whole_dns && !tally.errors.is_empty() {
        problems.push(format!(
            "calls failed during the DNS failure although every mongos was up: {tally}"
        ));
    }
    CellReport {
        line: line(
            &format!(
                "{} ({rescans} q)",
                if whole_dns {
                    "DNS all SERVFAIL"
                } else {
                    "DNS SRV SERVFAIL"
                }
            ),
            Role::Dns,
            mode,
            &tally,
            &probes,
            converged,
        ),
        problems,
    }
}
