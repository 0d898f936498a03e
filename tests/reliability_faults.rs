//! The fault matrix (issue 12, item 1): every simulator fault × the role it hits (primary,
//! secondary, mongos) × the monitoring mode (streaming, polling) where it matters.
//!
//! Each cell starts a deployment and a cluster, runs callers (writes, and reads with
//! secondaryPreferred and nearest, or secondary with maxStalenessSeconds) in a loop, applies
//! the fault for a window while a probe selects a server only the faulty member satisfies,
//! heals it, and measures how long the client's view takes to converge. It asserts: no
//! panic; every call answers Ok or a typed error within serverSelectionTimeoutMS +
//! connectTimeoutMS + socketTimeoutMS (+1 s scheduling margin), and calls started == results
//! received; every selection answers within serverSelectionTimeoutMS (+ margin) and, when
//! it fails, its explanation names the fault (the faulty server's last error kind, its
//! staleness, or its absence from the view); once healed, the view shows the expected
//! members and types within heartbeatFrequencyMS + 1 s (polling) or 1 s (streaming).
//!
//! One line per cell is printed (`cargo test --test reliability_faults -- --nocapture`).
//! `RELIABILITY_LONG=1` (scripts/soak) applies every fault for 10 s with 6 callers instead
//! of 1.2 s with 3.

#[path = "../crates/engine/tests/dns_support/mod.rs"]
mod dns_support;
mod reliability_support;

use reliability_support::cell::{run_cell, CellReport};
use reliability_support::dns_cell::run_dns_cell;
use reliability_support::faults::Fault;
use reliability_support::tls_cell::run_tls_cell;
use reliability_support::{Mode, Role};
use tokio::task::JoinSet;

use Mode::{Poll, Stream};
use Role::{Mongos, Primary, PrimaryAndSecondary, Secondary};

/// Cells run at the same time within one test.
const CONCURRENT_CELLS: usize = 4;

/// Runs `cells` (a few at a time), prints their lines, and fails with every problem.
async fn run_all(cells: &[(Fault, Role, Mode)]) {
    let mut problems = Vec::new();
    for chunk in cells.chunks(CONCURRENT_CELLS) {
        let mut running = JoinSet::new();
        for (index, &(fault, role, mode)) in chunk.iter().enumerate() {
            running.spawn(async move { (index, run_cell(fault, role, mode).await) });
        }
        let mut reports: Vec<(usize, CellReport)> = Vec::new();
        while let Some(joined) = running.join_next().await {
            match joined {
                Ok(report) => reports.push(report),
                Err(error) => problems.push(format!("a cell panicked: {error}")),
            }
        }
        reports.sort_by_key(|(index, _)| *index);
        for (_, report) in reports {
            report_cell(report, &mut problems);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn report_cell(report: CellReport, problems: &mut Vec<String>) {
    println!("{}", report.line);
    for problem in report.problems {
        problems.push(format!("{}: {problem}", report.line));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangs_and_partitions() {
    run_all(&[
        (Fault::Hang, Primary, Stream),
        (Fault::Hang, Primary, Poll),
        (Fault::Hang, Secondary, Stream),
        (Fault::Hang, Secondary, Poll),
        (Fault::Hang, Mongos, Stream),
        (Fault::Partition, PrimaryAndSecondary, Stream),
        (Fault::Partition, PrimaryAndSecondary, Poll),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_replies() {
    let mut cells = Vec::new();
    for fault in [
        Fault::ResetAfterBytes,
        Fault::GarbageReply,
        Fault::OversizedLength,
    ] {
        cells.extend([
            (fault, Primary, Stream),
            (fault, Primary, Poll),
            (fault, Secondary, Stream),
            (fault, Mongos, Stream),
        ]);
    }
    run_all(&cells).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_errors_and_wrong_set_name() {
    let nwp = |topology_version| Fault::NotWritablePrimary { topology_version };
    let nir = |topology_version| Fault::NodeIsRecovering { topology_version };
    run_all(&[
        (Fault::WrongSetName, Primary, Stream),
        (Fault::WrongSetName, Secondary, Stream),
        (Fault::WrongSetName, Secondary, Poll),
        (nwp(true), Primary, Stream),
        (nwp(true), Primary, Poll),
        // 4.2 servers: no topologyVersion, and no streaming.
        (nwp(false), Primary, Poll),
        (nir(true), Primary, Stream),
        (nir(true), Secondary, Stream),
        (nir(false), Primary, Poll),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_latency_lag_and_reconfigs() {
    run_all(&[
        (Fault::KillRestart, Primary, Stream),
        (Fault::KillRestart, Primary, Poll),
        (Fault::KillRestart, Secondary, Stream),
        (Fault::KillRestart, Mongos, Poll),
        (Fault::Latency, Primary, Stream),
        (Fault::Latency, Secondary, Poll),
        (Fault::Latency, Mongos, Stream),
        (Fault::Lag, Secondary, Stream),
        (Fault::Lag, Secondary, Poll),
        (Fault::ReconfigAdd, Secondary, Stream),
        (Fault::ReconfigAdd, Secondary, Poll),
        (Fault::ReconfigRemove, Secondary, Stream),
        (Fault::ReconfigRemove, Secondary, Poll),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failure_keeps_the_last_good_list() {
    let mut problems = Vec::new();
    report_cell(run_dns_cell(Mode::Stream, false).await, &mut problems);
    report_cell(run_dns_cell(Mode::Stream, true).await, &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_peer_stopping_mid_handshake() {
    let cells = [(Primary, Stream), (Secondary, Stream), (Secondary, Poll)];
    let mut running = JoinSet::new();
    for (index, (role, mode)) in cells.into_iter().enumerate() {
        running.spawn(async move { (index, run_tls_cell(role, mode).await) });
    }
    let mut problems = Vec::new();
    let mut reports = Vec::new();
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(error) => problems.push(format!("a cell panicked: {error}")),
        }
    }
    reports.sort_by_key(|(index, _)| *index);
    for (_, report) in reports {
        report_cell(report, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
