//! `scale`: `mongo-topology sim --mongos N` in a separate process; in this one, the time
//! until all N routers are known (target 200 ms for 1,000), then this process's resident
//! memory (target 48 MB), threads, and CPU over an idle window at the default heartbeat
//! (streaming; target 1 % of one core).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use mongo_topology::Cluster;
use rlimit::Resource;

use crate::report::{Row, Unit};
use crate::support::{all_known, connect, process, PATIENCE};
use crate::Options;

/// Descriptors the simulator needs per router: its listener, the monitor's connection and
/// the RTT monitor's.
const SIM_FDS_PER_NODE: u64 = 3;
/// Descriptors this process needs per server: the monitor's and the RTT monitor's sockets.
const CLIENT_FDS_PER_SERVER: u64 = 2;
/// Descriptors for everything else (runtime, stdio, /proc reads), with room to spare.
const FD_MARGIN: u64 = 256;

pub fn run(options: &Options) -> Vec<Row> {
    let idle = Duration::from_secs(if options.quick { 10 } else { 60 });
    let repetitions = if options.quick { 3 } else { 5 };
    let mut rows = match measure(1_000, repetitions, idle, true) {
        Ok(rows) => rows,
        Err(reason) => {
            eprintln!("scale: 1,000 servers failed: {reason}");
            vec![Row::new("scale", "1,000 mongos", Unit::Count).note(format!("FAILED: {reason}"))]
        }
    };
    match measure(10_000, 1, idle, false) {
        Ok(more) => rows.extend(more),
        Err(reason) => {
            eprintln!("scale: 10,000 servers skipped: {reason}");
            rows.push(
                Row::new("scale", "10,000 mongos", Unit::Count).note(format!("skipped: {reason}")),
            );
        }
    }
    rows
}

/// Discovery of `count` routers `repetitions` times; the first cluster also stays up for
/// the memory and idle-CPU measurements.
fn measure(
    count: u64,
    repetitions: usize,
    idle: Duration,
    with_targets: bool,
) -> Result<Vec<Row>, String> {
    enough_descriptors(count)?;
    let label = |what: &str| format!("{} mongos: {what}", thousands(count));
    let mut discovery = Row::new("scale", &label("all known"), Unit::Millis);
    let mut memory = Row::new("scale", &label("VmRSS after the idle window"), Unit::MiB);
    let mut threads = Row::new("scale", &label("threads"), Unit::Count);
    let mut cpu = Row::new(
        "scale",
        &label(&format!("CPU over {} s idle", idle.as_secs())),
        Unit::PercentOfCore,
    );
    if with_targets {
        discovery = discovery.target(200.0);
        memory = memory.target(48.0 * 1e6 / (1024.0 * 1024.0));
        cpu = cpu.target(1.0);
    }
    let baseline = process::resident_mib().unwrap_or(f64::NAN);
    memory = memory.note(format!(
        "this process held {baseline:.1} MiB before the cluster started; target 48 MB = 45.8 MiB"
    ));
    let sim = SimProcess::start(count)?;
    let client_runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    for repetition in 0..repetitions {
        let (cluster, elapsed) = client_runtime.block_on(discover(&sim.uri, count))?;
        discovery.push_duration(elapsed);
        if repetition == 0 {
            let ticks_per_second = process::ticks_per_second();
            let before = process::cpu_ticks().ok_or("cannot read /proc/self/stat")?;
            let window = Instant::now();
            client_runtime.block_on(async { tokio::time::sleep(idle).await });
            let after = process::cpu_ticks().ok_or("cannot read /proc/self/stat")?;
            let busy = (after - before) as f64 / ticks_per_second;
            cpu.push(100.0 * busy / window.elapsed().as_secs_f64());
            memory.push(process::resident_mib().ok_or("cannot read /proc/self/status")?);
            threads.push(process::threads().ok_or("cannot read /proc/self/status")? as f64);
            if !all_known(&cluster.topology(), count as usize) {
                return Err("servers were lost during the idle window".to_owned());
            }
        }
        client_runtime.block_on(cluster.close());
    }
    drop(sim);
    Ok(vec![discovery, memory, threads, cpu])
}

/// `10000` as `10,000`.
fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A new cluster on `uri` and the time until all `count` servers are known.
async fn discover(uri: &str, count: u64) -> Result<(Cluster, Duration), String> {
    let started = Instant::now();
    let cluster = connect(uri);
    let mut watcher = cluster.watch();
    loop {
        if all_known(&watcher.current(), count as usize) {
            return Ok((cluster, started.elapsed()));
        }
        match tokio::time::timeout(PATIENCE, watcher.changed()).await {
            Ok(Ok(())) => {}
            _ => {
                let known = cluster.topology().servers.len();
                return Err(format!(
                    "only {known} of {count} servers after {PATIENCE:?}"
                ));
            }
        }
    }
}

/// Raises this process's soft descriptor limit to the hard one (which the simulator
/// inherits and raises to as well), and says whether both processes fit under it.
fn enough_descriptors(count: u64) -> Result<(), String> {
    let soft = rlimit::increase_nofile_limit(u64::MAX)
        .map_err(|e| format!("cannot raise the open file limit: {e}"))?;
    let (_, hard) = Resource::NOFILE
        .get()
        .map_err(|e| format!("cannot read the open file limit: {e}"))?;
    let sim_needs = count * SIM_FDS_PER_NODE + FD_MARGIN;
    let client_needs = count * CLIENT_FDS_PER_SERVER + FD_MARGIN;
    if hard >= sim_needs && soft >= client_needs {
        return Ok(());
    }
    // Raising the hard limit takes privileges (CAP_SYS_RESOURCE); try, and say if refused.
    let raised = Resource::NOFILE.set(sim_needs, sim_needs);
    let refusal = match raised {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    Err(format!(
        "the open file limit is {soft} (hard {hard}, and raising it was refused: {refusal}); \
         the simulator needs about {sim_needs} descriptors (a listener plus a monitor and an \
         RTT connection per node) and this process about {client_needs}"
    ))
}

/// The simulator process; dropping it kills it (also when the bench panics).
struct SimProcess {
    child: Child,
    uri: String,
    /// Kept open: the simulator exits when its standard input closes.
    _stdin: Option<ChildStdin>,
    _stdout: BufReader<ChildStdout>,
}

impl SimProcess {
    fn start(count: u64) -> Result<SimProcess, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
            .args(["sim", "--mongos", &count.to_string(), "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the simulator: {e}"))?;
        let stdin = child.stdin.take();
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the simulator has no standard output".to_owned());
        };
        // From here on, Drop kills the child whatever happens.
        let mut sim = SimProcess {
            child,
            uri: String::new(),
            _stdin: stdin,
            _stdout: BufReader::new(stdout),
        };
        let mut line = String::new();
        sim._stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading the simulator's connection string: {e}"))?;
        if !line.starts_with("mongodb://") {
            return Err(format!(
                "the simulator said {line:?} instead of a connection string"
            ));
        }
        sim.uri = line.trim().to_owned();
        Ok(sim)
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
