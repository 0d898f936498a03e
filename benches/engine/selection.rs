//! `selection`: selections per second through `Cluster::select_server` on a discovered
//! 7-member set, on one thread (a current-thread runtime; the simulator runs on its own),
//! next to the pure core's `selection::select_server` on the same snapshot, for comparison
//! with `cargo bench --bench selection`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mongo_topology::selection::{
    select_server, ReadPreference, ReadPreferenceMode, SelectionCriteria,
};
use mongo_topology_sim::DeploymentSpec;

use crate::report::{Row, Unit};
use crate::support::{all_known, connect, runtime, start_sim, stop_sim, wait_until};
use crate::Options;

/// Selections between two reads of the clock.
const BATCH: u32 = 256;

pub fn run(options: &Options) -> Vec<Row> {
    let (repetitions, window) = if options.quick {
        (3, Duration::from_millis(200))
    } else {
        (5, Duration::from_secs(1))
    };
    let sim_runtime = runtime("sim", 1);
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a tokio runtime");
    let sim = start_sim(&sim_runtime, DeploymentSpec::replica_set("rs0", 7, 0, 0));
    let uri = sim.connection_string();
    let modes = [
        ("primary", SelectionCriteria::write()),
        (
            "nearest",
            SelectionCriteria::read(ReadPreference::with_mode(ReadPreferenceMode::Nearest)),
        ),
    ];
    let mut rows = Vec::new();
    client_runtime.block_on(async {
        let cluster = connect(&uri);
        wait_until(&cluster, "7 known members", |t| all_known(t, 7)).await;
        let settings = cluster.settings().selection();
        for (mode, criteria) in &modes {
            let mut engine = Row::new(
                "selection",
                &format!("Cluster::select_server, {mode}"),
                Unit::PerSecond,
            );
            let mut core = Row::new(
                "selection",
                &format!("core selection::select_server, {mode} (same snapshot)"),
                Unit::PerSecond,
            );
            for _ in 0..repetitions {
                engine.push(
                    rate(window, || async {
                        let chosen = cluster.select_server(criteria).await;
                        drop(black_box(chosen.expect("a server is selected")));
                    })
                    .await,
                );
                let topology = cluster.topology();
                let mut rng = rand::rng();
                core.push(
                    rate(window, || {
                        let chosen =
                            select_server(&topology, criteria, &settings, &[], &mut rng, |_| 0);
                        black_box(chosen.is_ok());
                        std::future::ready(())
                    })
                    .await,
                );
            }
            rows.push(engine);
            rows.push(core);
        }
        cluster.close().await;
    });
    stop_sim(&sim_runtime, sim);
    rows
}

/// How many times per second `operation` completes, over at least `window`.
async fn rate<F, Fut>(window: Duration, mut operation: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let mut done: u64 = 0;
    while started.elapsed() < window {
        for _ in 0..BATCH {
            operation().await;
        }
        done += u64::from(BATCH);
    }
    done as f64 / started.elapsed().as_secs_f64()
}
