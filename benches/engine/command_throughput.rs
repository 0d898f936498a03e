//! `command-throughput`: `ping` commands per second through one pool (a standalone on
//! loopback, no latency) with 1, 16 and 64 concurrent callers, and the CPU time per
//! command, over 5 windows of 1 s each (0.3 s with `--quick`).
//!
//! The simulator runs in this process: the whole process's CPU time (utime + stime) per
//! command counts both ends; the client's own share is that of the client runtime's threads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::doc;
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::Cluster;
use mongo_topology_sim::DeploymentSpec;
use tokio::runtime::Runtime;

use crate::report::{Row, Unit};
use crate::support::{all_known, connect, process, runtime, start_sim, stop_sim, wait_until};
use crate::Options;

/// The client runtime's thread name, by which its CPU time is told from the simulator's.
const CLIENT_THREADS: &str = "cmd-client";
/// The concurrent callers of each configuration.
const CALLERS: [usize; 3] = [1, 16, 64];
/// Measured windows per configuration.
const WINDOWS: usize = 5;
/// Running before the first window, not measured: the pool grows to the callers' number.
const WARM_UP: Duration = Duration::from_millis(200);

/// The figures of one window.
struct Window {
    commands: u64,
    elapsed: Duration,
    process_ticks: u64,
    client_ticks: u64,
}

/// Commands completed and failed so far by all callers.
#[derive(Default)]
struct Counters {
    done: AtomicU64,
    failed: AtomicU64,
    stop: AtomicBool,
}

pub fn run(options: &Options) -> Vec<Row> {
    let window = if options.quick {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(1)
    };
    let sim_runtime = runtime("cmd-sim", 1);
    let client_runtime = runtime(CLIENT_THREADS, 1);
    let sim = start_sim(&sim_runtime, DeploymentSpec::standalone());
    let uri = sim.connection_string();
    let cluster = client_runtime.block_on(async {
        let cluster = connect(&uri);
        wait_until(&cluster, "the standalone known", |t| all_known(t, 1)).await;
        cluster
    });
    let ticks_per_second = process::ticks_per_second();
    let mut rows = Vec::new();
    for callers in CALLERS {
        let (windows, failed) = measure(&client_runtime, &cluster, callers, window);
        let name = if callers == 1 { "caller" } else { "callers" };
        let mut rate = Row::new(
            "command-throughput",
            &format!("{callers} {name}: ping commands per second"),
            Unit::PerSecond,
        );
        if failed > 0 {
            rate = rate.note(format!("{failed} commands failed (not counted)"));
        }
        let mut whole = Row::new(
            "command-throughput",
            &format!("{callers} {name}: CPU per command, whole process (client + simulator)"),
            Unit::Micros,
        );
        if callers == CALLERS[0] {
            let tick_ms = 1e3 / ticks_per_second;
            whole = whole.note(format!(
                "CPU times are utime + stime from /proc, {tick_ms:.0} ms resolution per \
                 {window:?} window; the client runtime has one worker thread and the \
                 simulator another, on cores that other processes share"
            ));
        }
        let mut client = Row::new(
            "command-throughput",
            &format!("{callers} {name}: CPU per command, client runtime threads"),
            Unit::Micros,
        );
        for w in &windows {
            let commands = w.commands.max(1) as f64;
            rate.push(w.commands as f64 / w.elapsed.as_secs_f64());
            whole.push(w.process_ticks as f64 / ticks_per_second / commands * 1e6);
            client.push(w.client_ticks as f64 / ticks_per_second / commands * 1e6);
        }
        rows.extend([rate, whole, client]);
    }
    client_runtime.block_on(cluster.close());
    stop_sim(&sim_runtime, sim);
    rows
}

/// `callers` tasks running `ping` in a loop, measured over [`WINDOWS`] windows; the
/// windows, and how many commands failed.
fn measure(
    client_runtime: &Runtime,
    cluster: &Cluster,
    callers: usize,
    window: Duration,
) -> (Vec<Window>, u64) {
    let counters = Arc::new(Counters::default());
    let tasks: Vec<_> = (0..callers)
        .map(|_| client_runtime.spawn(ping_until_stopped(cluster.clone(), counters.clone())))
        .collect();
    std::thread::sleep(WARM_UP);
    let mut windows = Vec::with_capacity(WINDOWS);
    for _ in 0..WINDOWS {
        let commands = counters.done.load(Ordering::Relaxed);
        let process_ticks = process::cpu_ticks().unwrap_or(0);
        let client_ticks = process::thread_cpu_ticks(CLIENT_THREADS).unwrap_or(0);
        let started = Instant::now();
        std::thread::sleep(window);
        windows.push(Window {
            commands: counters.done.load(Ordering::Relaxed) - commands,
            elapsed: started.elapsed(),
            process_ticks: process::cpu_ticks()
                .unwrap_or(0)
                .saturating_sub(process_ticks),
            client_ticks: process::thread_cpu_ticks(CLIENT_THREADS)
                .unwrap_or(0)
                .saturating_sub(client_ticks),
        });
    }
    // Stop between commands (not by aborting one in flight) so the pool stays clean.
    counters.stop.store(true, Ordering::Relaxed);
    client_runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    (windows, counters.failed.load(Ordering::Relaxed))
}

async fn ping_until_stopped(cluster: Cluster, counters: Arc<Counters>) {
    let criteria = SelectionCriteria::write();
    while !counters.stop.load(Ordering::Relaxed) {
        let counter = match cluster
            .run_command("admin", doc! { "ping": 1 }, &criteria)
            .await
        {
            Ok(_) => &counters.done,
            Err(_) => &counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
