//! What every scenario needs: the two runtimes (the simulator's and the client's, each with
//! its own worker thread), conditions on a topology, and this process's /proc figures.

use std::time::{Duration, Instant};

use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::{Cluster, ClusterSettings, ConnectOptions, Connection, ServerAddress};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use tokio::runtime::Runtime;

/// Bound on waits that take milliseconds when all is well; only reached when the engine or
/// the simulator is broken, and then the bench stops with a message rather than hanging.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A multi-threaded runtime with `workers` worker threads named `name`.
pub fn runtime(name: &str, workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("build a tokio runtime")
}

/// A simulated deployment served by `sim_runtime`'s worker, not by the caller's runtime.
pub fn start_sim(sim_runtime: &Runtime, spec: DeploymentSpec) -> Deployment {
    sim_runtime
        .block_on(Deployment::start(spec))
        .expect("start the simulator")
}

/// Stops `sim` on its runtime.
pub fn stop_sim(sim_runtime: &Runtime, sim: Deployment) {
    sim_runtime.block_on(sim.shutdown());
}

/// The address member `index` advertises.
pub fn member(sim: &Deployment, index: usize) -> ServerAddress {
    ServerAddress::parse(&sim.addresses()[index]).expect("simulator address")
}

/// `mongodb://<seeds>/?<options>`.
pub fn uri(seeds: &[ServerAddress], options: &str) -> String {
    let hosts: Vec<String> = seeds.iter().map(ToString::to_string).collect();
    format!("mongodb://{}/?{options}", hosts.join(","))
}

/// A cluster for `uri`; must run inside the client's runtime.
pub fn connect(uri: &str) -> Cluster {
    let settings = ClusterSettings::parse(uri).expect("valid connection string");
    Cluster::new(settings).expect("the cluster starts")
}

/// `count` servers, none of them Unknown.
pub fn all_known(description: &TopologyDescription, count: usize) -> bool {
    description.servers.len() == count
        && description
            .servers
            .values()
            .all(|server| server.server_type != ServerType::Unknown)
}

/// The description's primary is `address`.
pub fn primary_is(description: &TopologyDescription, address: &ServerAddress) -> bool {
    description
        .primary()
        .is_some_and(|primary| &primary.address == address)
}

/// Waits until `condition` holds, or stops the bench after [`PATIENCE`].
pub async fn wait_until(
    cluster: &Cluster,
    what: &str,
    condition: impl FnMut(&TopologyDescription) -> bool,
) {
    if let Err(error) = cluster.wait_for(condition, PATIENCE).await {
        panic!("waiting for {what}: {error}");
    }
}

/// This process's figures from /proc.
pub mod process {
    /// A field of /proc/self/status (e.g. `VmRSS`), its first number.
    fn status_field(name: &str) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status
            .lines()
            .find(|line| line.split(':').next() == Some(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Resident memory in MiB.
    pub fn resident_mib() -> Option<f64> {
        status_field("VmRSS").map(|kib| kib as f64 / 1024.0)
    }

    /// The number of threads.
    pub fn threads() -> Option<u64> {
        status_field("Threads")
    }

    /// User plus system CPU time of every thread, in clock ticks.
    pub fn cpu_ticks() -> Option<u64> {
        stat_cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
    }

    /// User plus system CPU time of this process's threads named `name` (a runtime's
    /// [`super::runtime`] name, at most 15 bytes), in clock ticks.
    pub fn thread_cpu_ticks(name: &str) -> Option<u64> {
        sum_over_threads(name, "stat", stat_cpu_ticks)
    }

    /// CPU time of this process's threads named `name`, in nanoseconds (the scheduler's
    /// own account, `/proc/self/task/*/schedstat`: no 10 ms ticks).
    pub fn thread_cpu_nanos(name: &str) -> Option<u64> {
        sum_over_threads(name, "schedstat", |text| {
            text.split_whitespace().next()?.parse().ok()
        })
    }

    /// The sum, over this process's threads named `name`, of what `parse` reads in their
    /// /proc file `file`.
    fn sum_over_threads(
        name: &str,
        file: &str,
        parse: impl Fn(&str) -> Option<u64>,
    ) -> Option<u64> {
        let mut total = 0;
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let path = task.path();
            let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
                continue; // The thread has exited since the listing.
            };
            if comm.trim_end() != name {
                continue;
            }
            if let Some(value) = std::fs::read_to_string(path.join(file))
                .ok()
                .as_deref()
                .and_then(&parse)
            {
                total += value;
            }
        }
        Some(total)
    }

    /// utime + stime from the text of a /proc `stat` file.
    fn stat_cpu_ticks(stat: &str) -> Option<u64> {
        // The command name (field 2) may hold spaces; fields resume after its ')'.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // Fields 14 and 15 of the whole line are utime and stime: 11 and 12 after field 3.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    /// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
    pub fn ticks_per_second() -> f64 {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100.0)
    }
}

/// A replica set `rs0` of `members` data-bearing members, every reply delayed by `latency`.
pub fn start_slow_set(sim_runtime: &Runtime, members: usize, latency: Duration) -> Deployment {
    let sim = start_sim(
        sim_runtime,
        DeploymentSpec::replica_set("rs0", members, 0, 0),
    );
    for index in 0..members {
        sim.set_latency(&MemberRef::Index(index), latency)
            .expect("set the latency");
    }
    sim
}

/// `repetitions` samples, each the time of `per_sample` sequential `command`s on one plain
/// connection to a simulated node whose replies take `latency`: the physical floor under
/// what a client does in that many round trips.
pub fn plain_round_trips(
    command: &str,
    latency: Duration,
    per_sample: usize,
    repetitions: usize,
) -> Vec<Duration> {
    let sim_runtime = runtime("sim", 1);
    let client_runtime = runtime("client", 1);
    let sim = start_slow_set(&sim_runtime, 1, latency);
    let address = member(&sim, 0);
    let samples = client_runtime.block_on(async {
        let mut connection = Connection::connect(&address, &ConnectOptions::default())
            .await
            .expect("connect to the simulator");
        let mut samples = Vec::with_capacity(repetitions);
        for _ in 0..repetitions {
            let started = Instant::now();
            for _ in 0..per_sample {
                connection
                    .command("admin", bson::doc! { command: 1 })
                    .await
                    .expect("a command on the simulator");
            }
            samples.push(started.elapsed());
        }
        samples
    });
    stop_sim(&sim_runtime, sim);
    samples
}
