//! The churn soak (issue 12, item 3): clusters opened and closed again and again while the
//! deployments under them change: a spare member added to and removed from a replica set
//! (reconfig), a secondary killed and restarted, mongos added to and removed from a
//! `mongodb+srv` string's SRV records, a mongos killed and restarted.
//!
//! After every close, the process's open file descriptors (`/proc/self/fd`) and the tokio
//! tasks alive (the simulator's included: it runs in the same runtime) must come back to
//! the baseline measured [`SETTLE`] after the first, warm-up cycle, within [`SETTLE`]
//! (tolerance: 0).
//! `SOAK_MINUTES=N` (scripts/soak) runs N minutes, printing the resident set size
//! (`VmRSS` of `/proc/self/status`), descriptors, tasks and cycles every minute, and asserts
//! that the RSS grows less than 1 MB from the end of the first (warm-up) minute to the end.
//! Without it, the test runs [`SHORT_RUN`] and only prints the RSS.

#[path = "../crates/engine/tests/dns_support/mod.rs"]
mod dns_support;
mod reliability_support;

use std::collections::BTreeMap;
use std::time::Duration;

use bson::doc;
use dns_support::{DnsServer, DOMAIN};
use mongo_topology::sdam::ServerType;
use mongo_topology::selection::{ReadPreference, ReadPreferenceMode, SelectionCriteria};
use mongo_topology::{Cluster, ClusterSettings, ServerAddress};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef, MemberSpec, TopologySpec};
use reliability_support::cell::{converge, expected_view};
use reliability_support::dns_cell::{set_records, view_of, RESCAN};
use reliability_support::{options, Mode};
use tokio::time::Instant;

/// The run without `SOAK_MINUTES`.
const SHORT_RUN: Duration = Duration::from_secs(8);
/// How long descriptors and tasks may take to come back after a close.
const SETTLE: Duration = Duration::from_secs(3);
/// Allowed RSS growth after the warm-up minute.
const RSS_GROWTH_LIMIT_KB: u64 = 1024;

/// The process's resources at one moment.
#[derive(Clone, Copy, Debug)]
struct Resources {
    rss_kb: u64,
    fds: usize,
    tasks: usize,
}

fn resources() -> Resources {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count());
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    Resources { rss_kb, fds, tasks }
}

/// Waits until descriptors and tasks are back to `baseline` (or [`SETTLE`] passes).
async fn settle(baseline: Resources) -> Resources {
    let deadline = Instant::now() + SETTLE;
    loop {
        let now = resources();
        if (now.fds <= baseline.fds && now.tasks <= baseline.tasks) || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The deployments that live through the whole soak.
struct World {
    set: Deployment,
    /// The set's spare member (not in the config at first) and a secondary.
    spare: usize,
    secondary: usize,
    mongos: Deployment,
    dns: DnsServer,
}

async fn start_world() -> World {
    let mut members: Vec<MemberSpec> = (0..3).map(|_| MemberSpec::data()).collect();
    members.push(MemberSpec::data().spare());
    let set = Deployment::start(DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs".into(),
        members,
    }))
    .await
    .expect("start the replica set");
    let mongos = Deployment::start(DeploymentSpec::sharded(3))
        .await
        .expect("start the mongos");
    let dns = DnsServer::spec().await;
    set_records(&dns, &mongos.ports()[..2]);
    World {
        set,
        spare: 3,
        secondary: 1,
        mongos,
        dns,
    }
}

async fn wait_view(
    cluster: &Cluster,
    view: &BTreeMap<ServerAddress, ServerType>,
    what: &str,
) -> Result<(), String> {
    match converge(cluster, view).await {
        Some(_) => Ok(()),
        None => Err(format!(
            "{what}: the view never showed {view:?}; it is {:#?}",
            cluster.topology()
        )),
    }
}

fn address(deployment: &Deployment, index: usize) -> ServerAddress {
    ServerAddress::parse(&deployment.addresses()[index]).expect("sim address")
}

/// One cycle: open both clusters, churn both deployments, close both.
async fn cycle(world: &World, n: u64) -> Result<(), String> {
    let mode = if n % 2 == 0 { Mode::Stream } else { Mode::Poll };
    let uri = format!("{}&{}", world.set.connection_string(), options(mode));
    let set = Cluster::new(ClusterSettings::parse(&uri).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let mut dns = world.dns.dns_settings();
    dns.rescan_interval = Some(RESCAN);
    // mongodb+srv implies tls=true; these mongos serve plain TCP.
    let srv_uri = format!("mongodb+srv://test1.{DOMAIN}/?tls=false&{}", options(mode));
    let routers = Cluster::new(
        ClusterSettings::resolve(&srv_uri, dns)
            .await
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let ports = world.mongos.ports();

    wait_view(&set, &expected_view(&world.set.snapshot()), "set opened").await?;
    wait_view(&routers, &view_of(&ports[..2]), "srv opened").await?;
    let nearest = SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Nearest));
    for cluster in [&set, &routers] {
        let write = doc! { "insert": "things", "documents": [{ "n": n as i64 }] };
        let read = doc! { "find": "things", "filter": {} };
        cluster
            .run_command("test", write, &SelectionCriteria::write())
            .await
            .map_err(|e| format!("write: {e}"))?;
        cluster
            .run_command("test", read, &nearest)
            .await
            .map_err(|e| format!("read: {e}"))?;
    }

    // Members: a spare added then removed; a secondary killed then restarted.
    let spare = MemberRef::Index(world.spare);
    for add in [true, false] {
        world.set.reconfig(add, &spare).map_err(|e| e.to_string())?;
        wait_view(&set, &expected_view(&world.set.snapshot()), "reconfig").await?;
    }
    let secondary = MemberRef::Index(world.secondary);
    world
        .set
        .kill(&secondary)
        .await
        .map_err(|e| e.to_string())?;
    let mut down = expected_view(&world.set.snapshot());
    down.insert(address(&world.set, world.secondary), ServerType::Unknown);
    wait_view(&set, &down, "secondary killed").await?;
    world
        .set
        .restart(&secondary)
        .await
        .map_err(|e| e.to_string())?;
    wait_view(
        &set,
        &expected_view(&world.set.snapshot()),
        "secondary restarted",
    )
    .await?;

    // Mongos: one added to the SRV records and removed again; one killed and restarted.
    set_records(&world.dns, &ports);
    wait_view(&routers, &view_of(&ports), "mongos added").await?;
    set_records(&world.dns, &ports[..2]);
    wait_view(&routers, &view_of(&ports[..2]), "mongos removed").await?;
    let router = MemberRef::Index(1);
    world
        .mongos
        .kill(&router)
        .await
        .map_err(|e| e.to_string())?;
    let mut down = view_of(&ports[..2]);
    down.extend(
        view_of(&ports[1..2])
            .into_keys()
            .map(|a| (a, ServerType::Unknown)),
    );
    wait_view(&routers, &down, "mongos killed").await?;
    world
        .mongos
        .restart(&router)
        .await
        .map_err(|e| e.to_string())?;
    wait_view(&routers, &view_of(&ports[..2]), "mongos restarted").await?;

    set.close().await;
    routers.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_returns_descriptors_and_tasks_and_keeps_memory_flat() {
    let minutes: Option<u64> = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok());
    let run = minutes.map_or(SHORT_RUN, |m| Duration::from_secs(60 * m));
    let world = start_world().await;
    let start = Instant::now();
    let mut problems = Vec::new();

    cycle(&world, 0).await.expect("the warm-up cycle");
    // The warm-up cycle's connections close in the background: let them.
    tokio::time::sleep(SETTLE).await;
    let baseline = resources();
    println!(
        "baseline after the warm-up cycle: rss {} kB, fds {}, tasks {}",
        baseline.rss_kb, baseline.fds, baseline.tasks
    );
    let mut cycles = 1u64;
    let mut warm_rss: Option<u64> = None;
    let mut minute = 1u64;
    let mut last = baseline;
    while start.elapsed() < run {
        if let Err(error) = cycle(&world, cycles).await {
            problems.push(format!("cycle {cycles}: {error}"));
            break;
        }
        cycles += 1;
        last = settle(baseline).await;
        if last.fds > baseline.fds || last.tasks > baseline.tasks {
            problems.push(format!(
                "after cycle {cycles}: {} fds and {} tasks, baseline {} and {}",
                last.fds, last.tasks, baseline.fds, baseline.tasks
            ));
            break;
        }
        if start.elapsed() >= Duration::from_secs(60 * minute) {
            println!(
                "minute {minute}: rss {} kB, fds {}, tasks {}, cycles {cycles}",
                last.rss_kb, last.fds, last.tasks
            );
            if minute == 1 {
                warm_rss = Some(last.rss_kb);
            }
            minute += 1;
        }
    }
    println!(
        "end after {} s: rss {} kB, fds {}, tasks {}, cycles {cycles}",
        start.elapsed().as_secs(),
        last.rss_kb,
        last.fds,
        last.tasks
    );
    match (minutes, warm_rss) {
        (Some(_), Some(warm)) => {
            let growth = last.rss_kb.saturating_sub(warm);
            println!("rss growth after the warm-up minute: {growth} kB");
            if growth >= RSS_GROWTH_LIMIT_KB {
                problems.push(format!("rss grew {growth} kB after the warm-up minute"));
            }
        }
        (Some(_), None) => problems.push("the soak ended before its warm-up minute".into()),
        (None, _) => println!("short run: no RSS assertion (SOAK_MINUTES=N for one)"),
    }
    world.set.shutdown().await;
    world.mongos.shutdown().await;
    world.dns.stop().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
