//! `failover-streaming` and `failover-polling`: a 3-member set on loopback; after the
//! client has seen the primary step down, the time from the simulator's `elect` of member 2
//! until the client has it as primary.
//!
//! - Streaming (default heartbeat, 10 s, so only streaming can show it): until a task
//!   already waiting on the cluster's watch sees the snapshot. Target 0.5 ms.
//! - Polling: the caller reports the NotWritablePrimary its command on the old primary met,
//!   then selects a server for a write; until that selection returns. Target 3 ms.

use std::time::{Duration, Instant};

use mongo_topology::sdam::{ApplicationError, ApplicationErrorKind, CommandFailure, ErrorPhase};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{Cluster, ServerAddress};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

use crate::report::{Row, Unit};
use crate::support::{
    all_known, connect, member, primary_is, runtime, start_sim, stop_sim, wait_until, PATIENCE,
};
use crate::Options;

/// The member elected in every repetition.
pub(crate) const NEW_PRIMARY: usize = 2;
/// The NotWritablePrimary error code.
const NOT_WRITABLE_PRIMARY: i32 = 10107;

pub(crate) fn repetitions(options: &Options) -> usize {
    if options.quick {
        5
    } else {
        20
    }
}

/// A deployment, and a cluster on it that knows all three members and the primary.
pub(crate) struct Setup {
    pub(crate) sim_runtime: Runtime,
    pub(crate) client_runtime: Runtime,
    pub(crate) sim: Deployment,
    pub(crate) cluster: Cluster,
    pub(crate) new_primary: ServerAddress,
}

impl Setup {
    pub(crate) fn start(options: &str) -> Setup {
        let sim_runtime = runtime("sim", 1);
        let client_runtime = runtime("client", 1);
        let sim = start_sim(&sim_runtime, DeploymentSpec::replica_set("rs0", 3, 0, 0));
        let uri = format!("{}&{options}", sim.connection_string());
        let cluster = client_runtime.block_on(async {
            let cluster = connect(&uri);
            wait_until(&cluster, "all known, with a primary", |t| {
                all_known(t, 3) && t.primary().is_some()
            })
            .await;
            cluster
        });
        let new_primary = member(&sim, NEW_PRIMARY);
        Setup {
            sim_runtime,
            client_runtime,
            sim,
            cluster,
            new_primary,
        }
    }

    /// The primary steps down; returns once the client has seen it.
    fn step_down_and_see_it(&self, poke: bool) {
        self.sim.stepdown().expect("stepdown");
        self.client_runtime.block_on(async {
            if poke {
                // Polling sees nothing for 10 s unless asked.
                self.cluster.request_check();
            }
            wait_until(&self.cluster, "no primary", |t| t.primary().is_none()).await;
        });
    }

    pub(crate) fn elect(&self) {
        self.sim
            .elect(&MemberRef::Index(NEW_PRIMARY))
            .expect("elect");
    }

    pub(crate) fn stop(self) {
        self.client_runtime.block_on(self.cluster.close());
        stop_sim(&self.sim_runtime, self.sim);
    }
}

pub fn streaming(options: &Options) -> Row {
    let setup = Setup::start("heartbeatFrequencyMS=10000");
    let mut row = Row::new(
        "failover-streaming",
        "elect → snapshot in a waiter",
        Unit::Millis,
    )
    .target(0.5);
    for repetition in 0..=repetitions(options) {
        setup.step_down_and_see_it(false);
        let (ready, is_ready) = oneshot::channel();
        let mut watcher = setup.cluster.watch();
        let new_primary = setup.new_primary.clone();
        let waiter = setup.client_runtime.spawn(async move {
            watcher.current();
            let _ = ready.send(());
            loop {
                watcher.changed().await.ok()?;
                if primary_is(&watcher.current(), &new_primary) {
                    return Some(Instant::now());
                }
            }
        });
        setup.client_runtime.block_on(async {
            let _ = is_ready.await;
            // Let the waiter park in `changed()`.
            tokio::time::sleep(Duration::from_millis(2)).await;
        });
        let started = Instant::now();
        setup.elect();
        let seen = setup
            .client_runtime
            .block_on(async { tokio::time::timeout(PATIENCE, waiter).await });
        let Ok(Ok(Some(seen))) = seen else {
            panic!("the waiter never saw the new primary");
        };
        if repetition > 0 {
            row.push_duration(seen.duration_since(started));
        }
    }
    setup.stop();
    row
}

pub fn polling(options: &Options) -> Row {
    let setup = Setup::start("serverMonitoringMode=poll");
    let pause = setup.cluster.settings().min_heartbeat_frequency + Duration::from_millis(50);
    let mut row = Row::new(
        "failover-polling",
        "elect → NotWritablePrimary reported → select_server(write)",
        Unit::Millis,
    )
    .target(3.0)
    .note(format!(
        "each repetition starts {pause:?} after the client's last check, so that \
         minHeartbeatFrequencyMS (500 ms between checks of a server) does not hold it back"
    ));
    for repetition in 0..=repetitions(options) {
        let old_primary = setup
            .cluster
            .topology()
            .primary()
            .map(|primary| primary.address.clone())
            .expect("a primary before the stepdown");
        setup.step_down_and_see_it(true);
        setup
            .client_runtime
            .block_on(async { tokio::time::sleep(pause).await });
        let started = Instant::now();
        setup.elect();
        let (chosen, elapsed) = setup.client_runtime.block_on(async {
            let error = not_writable_primary(old_primary);
            setup.cluster.report_application_error(error).await;
            let chosen = tokio::time::timeout(
                PATIENCE,
                setup.cluster.select_server(&SelectionCriteria::write()),
            )
            .await;
            let elapsed = started.elapsed();
            let Ok(Ok(chosen)) = chosen else {
                panic!("no server selected for a write: {chosen:?}");
            };
            (chosen.address().clone(), elapsed)
        });
        assert_eq!(
            chosen, setup.new_primary,
            "the write goes to the new primary"
        );
        if repetition > 0 {
            row.push_duration(elapsed);
        }
    }
    setup.stop();
    row
}

/// What a driver reports when a command on `address` (no longer primary) failed.
fn not_writable_primary(address: ServerAddress) -> ApplicationError {
    ApplicationError {
        address,
        // The engine does not expose pool generations; no pool was cleared in this run.
        generation: 0,
        service_id: None,
        phase: ErrorPhase::AfterHandshake,
        kind: ApplicationErrorKind::Command(CommandFailure {
            code: Some(NOT_WRITABLE_PRIMARY),
            message: "not primary".to_owned(),
            ..CommandFailure::default()
        }),
        system_overloaded: false,
    }
}
