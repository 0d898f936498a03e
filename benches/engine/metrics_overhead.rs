//! `metrics-overhead`: what the engine's `metrics` feature costs at the pool's highest
//! command rate (issue 19: at most 1 %). 16 callers run `ping` through one pool against a
//! standalone on loopback in this process (as `command-throughput`), alternately with the
//! measurements going nowhere (no recorder installed when the cluster starts: the facade's
//! no-op handles, what an application without a recorder pays) and recorded by the
//! Prometheus recorder of `metrics-exporter-prometheus` (what an application exporting them
//! pays, scraped every 500 ms by a thread of its own). Each round starts a fresh cluster
//! for each variant, the order alternating; the measure is the client runtime's CPU per
//! command, the variants' difference in percent.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bson::doc;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::Cluster;
use mongo_topology_sim::DeploymentSpec;
use tokio::runtime::Runtime;

use crate::report::{self, Row};
use crate::support::{all_known, connect, process, runtime, start_sim, stop_sim, wait_until};
use crate::Options;

/// The client runtime's thread name, by which its CPU time is told from the simulator's.
const CLIENT_THREADS: &str = "metrics-client";
const CALLERS: usize = 16;
/// Running before the measured window: the pool grows to the callers' number.
const WARM_UP: Duration = Duration::from_millis(200);

/// The process's recorder: the Prometheus recorder while `recording`, else the facade's
/// no-op handles. Handles are registered when a pool or monitor starts, so the variant is
/// chosen before each cluster starts.
struct Switch {
    recording: AtomicBool,
    prometheus: PrometheusRecorder,
}

impl Recorder for Switch {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.prometheus.describe_counter(key, unit, text);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.prometheus.describe_gauge(key, unit, text);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.prometheus.describe_histogram(key, unit, text);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if self.recording.load(Ordering::Relaxed) {
            self.prometheus.register_counter(key, metadata)
        } else {
            Counter::noop()
        }
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if self.recording.load(Ordering::Relaxed) {
            self.prometheus.register_gauge(key, metadata)
        } else {
            Gauge::noop()
        }
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if self.recording.load(Ordering::Relaxed) {
            self.prometheus.register_histogram(key, metadata)
        } else {
            Histogram::noop()
        }
    }
}

/// How often the scraper renders the Prometheus text, as a Prometheus server scraping
/// the application would (rendering also drains the histograms' buckets: a recorder
/// nobody scrapes grows without bound, and its page faults would be measured instead).
const SCRAPE_INTERVAL: Duration = Duration::from_millis(500);

/// The installed switch (installed once per process), with its scraper thread.
fn switch() -> Option<Arc<Switch>> {
    static SWITCH: OnceLock<Option<Arc<Switch>>> = OnceLock::new();
    SWITCH
        .get_or_init(|| {
            let prometheus = PrometheusBuilder::new().build_recorder();
            let scraped = prometheus.handle();
            let switch = Arc::new(Switch {
                recording: AtomicBool::new(false),
                prometheus,
            });
            metrics::set_global_recorder(switch.clone()).ok()?;
            std::thread::Builder::new()
                .name("metrics-scraper".to_owned())
                .spawn(move || loop {
                    std::thread::sleep(SCRAPE_INTERVAL);
                    drop(scraped.render());
                })
                .ok()?;
            Some(switch)
        })
        .clone()
}

pub fn run(options: &Options) -> Vec<Row> {
    let (rounds, window) = if options.quick {
        (2, Duration::from_millis(300))
    } else {
        (12, Duration::from_secs(2))
    };
    let scenario = "metrics-overhead";
    let Some(switch) = switch() else {
        return vec![Row::new(
            scenario,
            "another recorder was installed first",
            report::Unit::Count,
        )];
    };
    let sim_runtime = runtime("metrics-sim", 1);
    let client_runtime = runtime(CLIENT_THREADS, 1);
    let sim = start_sim(&sim_runtime, DeploymentSpec::standalone());
    let uri = sim.connection_string();
    let mut rate = [
        Row::new(
            scenario,
            "16 callers, no recorder: ping commands per second",
            report::Unit::PerSecond,
        ),
        Row::new(
            scenario,
            "16 callers, Prometheus recorder: ping commands per second",
            report::Unit::PerSecond,
        ),
    ];
    let mut cpu = [
        Row::new(
            scenario,
            "no recorder: client CPU per command",
            report::Unit::Micros,
        ),
        Row::new(
            scenario,
            "Prometheus recorder: client CPU per command",
            report::Unit::Micros,
        ),
    ];
    let mut overhead = Row::new(
        scenario,
        "client CPU per command, recorded / not recorded − 1",
        report::Unit::Percent,
    )
    .target(1.0)
    .note(format!(
        "{rounds} rounds, each a fresh cluster per variant in alternating order; CPU is \
         the client runtime's one thread's scheduler time (schedstat, ns) over a {window:?} \
         window; the Prometheus text is rendered every 500 ms on a thread of its own"
    ));
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        let mut per_command = [0.0; 2];
        for recording in order {
            switch.recording.store(recording, Ordering::Relaxed);
            let (commands, elapsed, nanos) = measure(&client_runtime, &uri, window);
            let index = usize::from(recording);
            let micros = nanos as f64 / 1e3 / commands.max(1) as f64;
            rate[index].push(commands as f64 / elapsed.as_secs_f64());
            cpu[index].push(micros);
            per_command[index] = micros;
        }
        overhead.push((per_command[1] / per_command[0].max(f64::MIN_POSITIVE) - 1.0) * 100.0);
    }
    switch.recording.store(false, Ordering::Relaxed);
    stop_sim(&sim_runtime, sim);
    let [rate_off, rate_on] = rate;
    let [cpu_off, cpu_on] = cpu;
    vec![rate_off, rate_on, cpu_off, cpu_on, overhead]
}

/// A fresh cluster with [`CALLERS`] callers running `ping` for `window`: commands done,
/// the window's length, and the client thread's CPU nanoseconds in it.
fn measure(client_runtime: &Runtime, uri: &str, window: Duration) -> (u64, Duration, u64) {
    let cluster = client_runtime.block_on(async {
        let cluster = connect(uri);
        wait_until(&cluster, "the standalone known", |t| all_known(t, 1)).await;
        cluster
    });
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            client_runtime.spawn(ping_until_stopped(
                cluster.clone(),
                done.clone(),
                stop.clone(),
            ))
        })
        .collect();
    std::thread::sleep(WARM_UP);
    let commands = done.load(Ordering::Relaxed);
    let nanos = process::thread_cpu_nanos(CLIENT_THREADS).unwrap_or(0);
    let started = Instant::now();
    std::thread::sleep(window);
    let measured = (
        done.load(Ordering::Relaxed) - commands,
        started.elapsed(),
        process::thread_cpu_nanos(CLIENT_THREADS)
            .unwrap_or(0)
            .saturating_sub(nanos),
    );
    stop.store(true, Ordering::Relaxed);
    client_runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
        cluster.close().await;
    });
    measured
}

async fn ping_until_stopped(cluster: Cluster, done: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let criteria = SelectionCriteria::write();
    while !stop.load(Ordering::Relaxed) {
        if cluster
            .run_command("admin", doc! { "ping": 1 }, &criteria)
            .await
            .is_ok()
        {
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
}
