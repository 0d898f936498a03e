//! `metrics-overhead`: what the engine's `metrics` feature costs at the pool's highest
//! command rate (issue 19: at most 1 %). 16 callers run `ping` through one pool against a
//! standalone on loopback in this process (as `command-throughput`), alternately with the
//! measurements going nowhere (no recorder installed when the cluster starts: the facade's
//! no-op handles, what an application without a recorder pays) and recorded by the
//! Prometheus recorder of `metrics-exporter-prometheus` (what an application exporting them
//! pays, scraped every 500 ms by a thread of its own). Each round starts a fresh cluster
//! for each variant, the order alternating; the measure is the client runtime's CPU per
//! command, the variants' difference in percent.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bson::doc;
use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
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

/// The variants, as `Switch::mode` holds them.
const NO_RECORDER: u8 = 0;
const PROMETHEUS: u8 = 1;
const ATOMIC: u8 = 2;
const VARIANTS: [(u8, &str); 3] = [
    (NO_RECORDER, "no recorder"),
    (PROMETHEUS, "Prometheus recorder"),
    (ATOMIC, "atomic recorder"),
];

/// The process's recorder: the Prometheus recorder, the atomic one, or the facade's no-op
/// handles, as `mode` says. Handles are registered when a pool or monitor starts, so the
/// variant is chosen before each cluster starts.
struct Switch {
    mode: AtomicU8,
    prometheus: PrometheusRecorder,
}

/// A histogram as OpenTelemetry's SDK keeps one: a count per fixed bucket (powers of two
/// of microseconds, up to ~1 s) and a sum, each an atomic add.
#[derive(Default)]
struct Buckets {
    counts: [AtomicU64; 21],
    sum_micros: AtomicU64,
}

impl HistogramFn for Buckets {
    fn record(&self, value: f64) {
        let micros = (value * 1e6).max(0.0) as u64;
        let bucket = (u64::BITS - micros.leading_zeros()).min(20) as usize;
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
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
        match self.mode.load(Ordering::Relaxed) {
            PROMETHEUS => self.prometheus.register_counter(key, metadata),
            ATOMIC => Counter::from_arc(Arc::new(AtomicU64::new(0))),
            _ => Counter::noop(),
        }
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        match self.mode.load(Ordering::Relaxed) {
            PROMETHEUS => self.prometheus.register_gauge(key, metadata),
            ATOMIC => Gauge::from_arc(Arc::new(AtomicU64::new(0))),
            _ => Gauge::noop(),
        }
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        match self.mode.load(Ordering::Relaxed) {
            PROMETHEUS => self.prometheus.register_histogram(key, metadata),
            ATOMIC => Histogram::from_arc(Arc::new(Buckets::default())),
            _ => Histogram::noop(),
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
                mode: AtomicU8::new(NO_RECORDER),
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
    let mut rate = VARIANTS.map(|(_, name)| {
        Row::new(
            scenario,
            &format!("16 callers, {name}: ping commands per second"),
            report::Unit::PerSecond,
        )
    });
    let mut cpu = VARIANTS.map(|(_, name)| {
        Row::new(
            scenario,
            &format!("{name}: client CPU per command"),
            report::Unit::Micros,
        )
    });
    let note = format!(
        "{rounds} rounds, each a fresh cluster per variant in rotating order; CPU is the \
         client runtime's one thread's scheduler time (schedstat, ns) over a {window:?} \
         window; the Prometheus text is rendered every 500 ms on a thread of its own; the \
         atomic recorder keeps counters and gauges in atomics and histograms as fixed \
         buckets, as OpenTelemetry's SDK does"
    );
    let mut overhead = [PROMETHEUS, ATOMIC].map(|mode| {
        let row = Row::new(
            scenario,
            &format!(
                "client CPU per command, {} / no recorder − 1",
                VARIANTS[usize::from(mode)].1
            ),
            report::Unit::Percent,
        )
        .target(1.0);
        if mode == PROMETHEUS {
            row.note(note.clone())
        } else {
            row
        }
    });
    for round in 0..rounds {
        let mut per_command = [0.0; 3];
        for step in 0..VARIANTS.len() {
            let (mode, _) = VARIANTS[(round + step) % VARIANTS.len()];
            switch.mode.store(mode, Ordering::Relaxed);
            let (commands, elapsed, nanos) = measure(&client_runtime, &uri, window);
            let index = usize::from(mode);
            let micros = nanos as f64 / 1e3 / commands.max(1) as f64;
            rate[index].push(commands as f64 / elapsed.as_secs_f64());
            cpu[index].push(micros);
            per_command[index] = micros;
        }
        let baseline = per_command[usize::from(NO_RECORDER)].max(f64::MIN_POSITIVE);
        for (row, mode) in overhead.iter_mut().zip([PROMETHEUS, ATOMIC]) {
            row.push((per_command[usize::from(mode)] / baseline - 1.0) * 100.0);
        }
    }
    switch.mode.store(NO_RECORDER, Ordering::Relaxed);
    stop_sim(&sim_runtime, sim);
    rate.into_iter().chain(cpu).chain(overhead).collect()
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
