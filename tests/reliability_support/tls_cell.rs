//! The TLS cells: a three-member replica set serving TLS, clients with `tls=true` and the
//! simulator's CA. The fault is `stall-tls-handshake` on one member: it accepts TCP, reads
//! nothing past the client's first bytes and never answers. Connections established before
//! the fault would keep working (monitors' streaming connections never reconnect), so
//! arming it also drops the member's established connections (`drop-connections`, the
//! listener stays up): a kill and restart would instead leave the set without its primary
//! and change the processId, testing something else. Every reconnection then times out
//! under connectTimeoutMS "during TLS handshake". Selection's explanation must name the
//! fault: that TLS handshake timeout, or, before the first reconnection timed out, the
//! network error of the dropped connection; the view must show the TLS handshake timeout
//! as the member's error before the fault heals (the line gives when: `TLS error seen`).
//! Healed: the fault is cleared; stalled handshakes resume and the view converges.

use std::path::PathBuf;

use mongo_topology::sdam::{ServerErrorKind, TopologyDescription};
use mongo_topology::{Cluster, ClusterSettings, ServerAddress};
use mongo_topology_sim::{Deployment, SimTls, SimTlsOptions};
use tokio::time::{sleep, sleep_until, Instant};

use super::callers::{Callers, PHASE_FAULT, PHASE_HEALED};
use super::cell::{check_common, converge, expected_view, line, probe, CellReport};
use super::faults::Fault;
use super::{fault_window, options, Mode, Role, CONNECT_TIMEOUT, HEARTBEAT};

/// Calls run before the fault and after convergence.
const STEADY: std::time::Duration = std::time::Duration::from_millis(200);

/// How long the fault stays armed: the matrix's window, plus a heartbeat and a connect
/// timeout, since a polling monitor meets the dropped connection only at its next check
/// (then reconnects, and its handshake stalls for connectTimeoutMS).
fn window() -> std::time::Duration {
    fault_window() + HEARTBEAT + CONNECT_TIMEOUT
}

/// Writes the CA certificate of `tls` to a fresh file and returns its path.
fn ca_file(tls: &SimTls) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mongo-topology-tls-cell-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let path = dir.join("ca.pem");
    tls.write_ca_file(&path).expect("write the CA file");
    path
}

/// Runs the TLS stall cell with the fault on `role`'s member.
pub async fn run_tls_cell(role: Role, mode: Mode) -> CellReport {
    let fault = Fault::TlsStall;
    let tls = SimTls::generate(SimTlsOptions::default()).expect("generate certificates");
    let ca = ca_file(&tls);
    let sim = Deployment::start(fault.deployment(role).with_tls(tls))
        .await
        .expect("start the simulator");
    let targets = fault.targets(role, &sim.snapshot());
    let target = ServerAddress::parse(&sim.addresses()[targets[0]]).expect("sim address");
    // The simulator's string already carries `?replicaSet=rs&tls=true`.
    let uri = format!(
        "{}&tlsCAFile={}&{}",
        sim.connection_string(),
        ca.display(),
        options(mode)
    );
    let cluster = Cluster::new(ClusterSettings::parse(&uri).expect("valid URI")).expect("cluster");
    let mut problems = Vec::new();
    if converge(&cluster, &expected_view(&sim.snapshot()))
        .await
        .is_none()
    {
        problems.push("the initial view never converged".into());
    }
    let callers = Callers::start(&cluster, fault.calls(role, &target));
    sleep(STEADY).await;

    callers.set_phase(PHASE_FAULT);
    for idx in &targets {
        fault.set(&sim, *idx, true).await;
    }
    let until = Instant::now() + window();
    let prober = tokio::spawn(probe(
        cluster.clone(),
        fault.probe(role, &target),
        fault,
        target.clone(),
        until,
    ));
    let armed = Instant::now();
    let stall_seen = cluster
        .wait_for(|t| shows_tls_timeout(t, &target), window())
        .await
        .ok()
        .map(|_| armed.elapsed());
    sleep_until(until).await;
    let probes = prober.await.unwrap_or_default();

    for idx in &targets {
        fault.set(&sim, *idx, false).await;
    }
    callers.set_phase(PHASE_HEALED);
    let converged = converge(&cluster, &expected_view(&sim.snapshot())).await;
    sleep(STEADY).await;
    let tally = callers.finish().await;
    cluster.close().await;
    sim.shutdown().await;
    if let Some(dir) = ca.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }

    check_common(
        &tally,
        &probes,
        converged,
        mode.convergence_bound(),
        &mut problems,
    );
    if stall_seen.is_none() {
        problems
            .push("the view never showed the TLS handshake timeout: the fault never bit".into());
    }
    let seen = stall_seen.map_or("never".to_string(), |d| format!("{} ms", d.as_millis()));
    CellReport {
        line: format!(
            "{}  TLS error seen after {seen}",
            line(&fault.name(), role, mode, &tally, &probes, converged)
        ),
        problems,
    }
}

/// Whether the view's last error for `target` is a timeout during the TLS handshake.
fn shows_tls_timeout(topology: &TopologyDescription, target: &ServerAddress) -> bool {
    topology
        .server(target)
        .and_then(|s| s.error.as_ref())
        .is_some_and(|e| e.kind == ServerErrorKind::Timeout && e.message.contains("TLS handshake"))
}
