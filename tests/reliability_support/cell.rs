//! One cell of the matrix: a deployment, callers running commands while the fault is
//! applied, a selection probe during the fault, then the heal and the time the client's
//! view takes to converge. Problems are collected, not panicked on, so that every cell's
//! line is printed before the test fails.

use std::collections::BTreeMap;
use std::time::Duration;

use mongo_topology::sdam::{ServerDescription, ServerType, TopologyDescription};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{Cluster, ClusterError, ClusterSettings, ServerAddress};
use mongo_topology_sim::state::{NodeKind, World};
use mongo_topology_sim::Deployment;
use tokio::time::Instant;

use super::callers::{Callers, Tally, PHASE_FAULT, PHASE_FAULT_SEEN, PHASE_HEALED};
use super::faults::{Fault, MAX_STALENESS};
use super::{fault_window, options, Mode, Role, MARGIN, PATIENCE, SELECTION_TIMEOUT};

/// Pause between two selection probes.
const PROBE_PACE: Duration = Duration::from_millis(100);
/// Calls run before the fault and after convergence.
const STEADY: Duration = Duration::from_millis(200);

/// What a cell measured, and what went wrong.
#[derive(Debug)]
pub struct CellReport {
    /// `fault  role  mode  outcome  converged in X ms`.
    pub line: String,
    /// Broken assertions (empty: the cell passed).
    pub problems: Vec<String>,
}

/// The selection probe's results.
#[derive(Debug, Default)]
pub struct Probes {
    /// Selections that succeeded.
    pub ok: u64,
    /// Failed selections whose explanation names the fault.
    pub named: u64,
    /// Failed selections that do not (their explanations).
    pub unnamed: Vec<String>,
    /// Selections that did not answer within serverSelectionTimeoutMS + margin.
    pub hung: u64,
    /// The slowest answer.
    pub slowest: Duration,
}

/// The expected view of `world`: every member in the config with its type, or every mongos.
pub fn expected_view(world: &World) -> BTreeMap<ServerAddress, ServerType> {
    world
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == NodeKind::Mongos || n.in_config)
        .map(|(i, n)| {
            let server_type = match n.kind {
                NodeKind::Mongos => ServerType::Mongos,
                _ if world.is_primary(i) => ServerType::RsPrimary,
                _ => ServerType::RsSecondary,
            };
            (
                ServerAddress::parse(&n.address).expect("sim address"),
                server_type,
            )
        })
        .collect()
}

/// Whether `topology` shows exactly `expected`.
pub fn shows(
    topology: &TopologyDescription,
    expected: &BTreeMap<ServerAddress, ServerType>,
) -> bool {
    topology.servers.len() == expected.len()
        && expected.iter().all(|(address, server_type)| {
            topology
                .server(address)
                .is_some_and(|s| s.server_type == *server_type)
        })
}

/// Waits until the view shows `expected`; the time it took, or `None` after [`PATIENCE`].
pub async fn converge(
    cluster: &Cluster,
    expected: &BTreeMap<ServerAddress, ServerType>,
) -> Option<Duration> {
    let start = Instant::now();
    cluster
        .wait_for(|t| shows(t, expected), PATIENCE)
        .await
        .ok()
        .map(|_| start.elapsed())
}

/// Probes selection with `criteria` until `until`.
pub async fn probe(
    cluster: Cluster,
    criteria: SelectionCriteria,
    fault: Fault,
    target: ServerAddress,
    until: Instant,
) -> Probes {
    let mut probes = Probes::default();
    while Instant::now() < until {
        let start = Instant::now();
        let answer =
            tokio::time::timeout(SELECTION_TIMEOUT + MARGIN, cluster.select_server(&criteria))
                .await;
        probes.slowest = probes.slowest.max(start.elapsed());
        match answer {
            Err(_) => probes.hung += 1,
            Ok(Ok(_)) => probes.ok += 1,
            Ok(Err(ClusterError::ServerSelectionTimeout { explanation, .. })) => {
                if fault.named_in(&explanation, &target) {
                    probes.named += 1;
                } else {
                    probes.unnamed.push(explanation.to_string());
                }
            }
            Ok(Err(other)) => probes.unnamed.push(other.to_string()),
        }
        tokio::time::sleep(PROBE_PACE).await;
    }
    probes
}

/// Checks what every cell must satisfy, adding broken rules to `problems`.
pub fn check_common(
    tally: &Tally,
    probes: &Probes,
    converged: Option<Duration>,
    bound: Duration,
    problems: &mut Vec<String>,
) {
    if !tally.hung.is_empty() {
        problems.push(format!("{} calls hung: {:?}", tally.hung.len(), tally.hung));
    }
    if tally.panicked > 0 {
        problems.push(format!("{} caller tasks panicked", tally.panicked));
    }
    if tally.started != tally.received() + tally.hung.len() as u64 {
        problems.push(format!(
            "calls lost: {} started, {} results",
            tally.started,
            tally.received()
        ));
    }
    if tally.ok == 0 {
        problems.push("no call succeeded".into());
    }
    for kind in tally.errors.keys() {
        if kind == "closed" || kind.starts_with("other(") {
            problems.push(format!("unexpected error kind {kind}"));
        }
    }
    if probes.hung > 0 {
        problems.push(format!("{} selections did not answer in time", probes.hung));
    }
    if let Some(first) = probes.unnamed.first() {
        problems.push(format!(
            "{} selection errors do not name the fault, e.g. {first}",
            probes.unnamed.len()
        ));
    }
    match converged {
        None => problems.push(format!("no convergence within {} s", PATIENCE.as_secs())),
        Some(took) if took > bound => problems.push(format!(
            "converged in {} ms, more than {} ms",
            took.as_millis(),
            bound.as_millis()
        )),
        Some(_) => {}
    }
}

/// The printed line.
pub fn line(
    fault: &str,
    role: Role,
    mode: Mode,
    tally: &Tally,
    probes: &Probes,
    converged: Option<Duration>,
) -> String {
    let converged = converged.map_or("never".to_string(), |d| format!("{} ms", d.as_millis()));
    format!(
        "{fault:<22} {:<9} {:<6} calls({tally}) selections(ok={} err={} slowest {} ms)  converged in {converged}",
        role.name(),
        mode.option(),
        probes.ok,
        probes.named + probes.unnamed.len() as u64,
        probes.slowest.as_millis(),
    )
}

/// Runs one replica set or mongos cell.
pub async fn run_cell(fault: Fault, role: Role, mode: Mode) -> CellReport {
    let sim = Deployment::start(fault.deployment(role))
        .await
        .expect("start the simulator");
    let targets = fault.targets(role, &sim.snapshot());
    let addresses: Vec<ServerAddress> = sim
        .addresses()
        .iter()
        .map(|a| ServerAddress::parse(a).expect("sim address"))
        .collect();
    let target = addresses[targets[0]].clone();
    let uri = sim.connection_string();
    let separator = if uri.contains('?') { '&' } else { '?' };
    let uri = format!("{uri}{separator}{}", options(mode));
    let cluster = Cluster::new(ClusterSettings::parse(&uri).expect("valid URI")).expect("cluster");
    let mut problems = Vec::new();
    if converge(&cluster, &expected_view(&sim.snapshot()))
        .await
        .is_none()
    {
        problems.push("the initial view never converged".into());
    }
    let callers = Callers::start(&cluster, fault.calls(role, &target));
    tokio::time::sleep(STEADY).await;

    callers.set_phase(PHASE_FAULT);
    for idx in &targets {
        fault.set(&sim, *idx, true).await;
    }
    let until = Instant::now() + fault_window();
    let prober = tokio::spawn(probe(
        cluster.clone(),
        fault.probe(role, &target),
        fault,
        target.clone(),
        until,
    ));
    if fault == Fault::Lag {
        let seen = cluster.wait_for(|t| lag_seen(t, &target), PATIENCE).await;
        match seen {
            Ok(_) => callers.set_phase(PHASE_FAULT_SEEN),
            Err(_) => problems.push("the lag never showed in the view".into()),
        }
    }
    tokio::time::sleep_until(until).await;
    let probes = prober.await.unwrap_or_default();

    for idx in &targets {
        fault.set(&sim, *idx, false).await;
    }
    callers.set_phase(PHASE_HEALED);
    let converged = converge(&cluster, &expected_view(&sim.snapshot())).await;
    tokio::time::sleep(STEADY).await;
    let tally = callers.finish().await;
    cluster.close().await;
    sim.shutdown().await;

    check_common(
        &tally,
        &probes,
        converged,
        mode.convergence_bound(),
        &mut problems,
    );
    let must_meet = fault.must_meet();
    if !must_meet.is_empty()
        && !must_meet
            .iter()
            .any(|kind| tally.errors.contains_key(*kind))
    {
        problems.push(format!("no caller met the fault ({must_meet:?})"));
    }
    if fault == Fault::Lag && tally.served(PHASE_FAULT_SEEN, &target) > 0 {
        problems.push(format!(
            "{} reads went to the stale secondary after the view showed its lag",
            tally.served(PHASE_FAULT_SEEN, &target)
        ));
    }
    CellReport {
        line: line(&fault.name(), role, mode, &tally, &probes, converged),
        problems,
    }
}

/// Whether the view shows `lagging` more than maxStalenessSeconds behind the primary.
fn lag_seen(topology: &TopologyDescription, lagging: &ServerAddress) -> bool {
    let written = |server: Option<&ServerDescription>| {
        server
            .and_then(|s| s.last_write_date)
            .map(|d| d.timestamp_millis())
    };
    match (
        written(topology.primary()),
        written(topology.server(lagging)),
    ) {
        (Some(primary), Some(secondary)) => {
            primary - secondary > i64::try_from(MAX_STALENESS.as_millis()).unwrap_or(i64::MAX)
        }
        _ => false,
    }
}
