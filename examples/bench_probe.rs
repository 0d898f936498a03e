//! mongo-topology's probe for `scripts/bench`: one client in its own process, like the
//! official Rust driver's probe (interop/rust-driver/src/bin/bench_probe.rs) and PyMongo's
//! (tests/pymongo/bench_probe.py). The three take the same arguments and speak the same
//! line protocol; scripts/bench.py drives them and the simulator.
//!
//! - `discovery URI MEMBERS`: one discarded warm-up, then from a new client until every
//!   member is known (`known_ms`) and until a first `ping` on the primary returns
//!   (`ping_ms`); prints one JSON line.
//! - `failover URI`: once every member and the primary are known, inserts every 10 ms
//!   (retrying at once after an error) and prints `ready`; then answers stdin lines:
//!   `noprimary` (`ok` once the view has no primary) and `elected AT_US HOST:PORT` (a JSON
//!   line with `view_ms` and `insert_ms`: from AT_US, UNIX µs taken inside the simulator,
//!   until the view showed HOST:PORT primary and until the first insert acknowledged after
//!   AT_US).
//! - `scale URI COUNT`: the time until all COUNT servers are known as a JSON line, then
//!   idles (the harness reads /proc/PID) until stdin closes. It runs on tokio's default
//!   runtime (a worker per core), or on one thread with `BENCH_PROBE_RUNTIME=current-thread`
//!   (the driver's probe takes the same variable).
//! - `selection URI MEMBERS SECONDS`: selections per second for a write on one thread.

#![forbid(unsafe_code)]

use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bson::doc;
use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{Cluster, ClusterSettings};
use tokio::io::{AsyncBufReadExt, BufReader};

type Failure = Box<dyn std::error::Error>;

/// The connection string: the argument itself, or with `@PATH` the contents of the file
/// PATH (a string naming 10,000 mongos exceeds the 128 KiB limit of one argument).
fn uri_argument(text: &str) -> Result<String, Failure> {
    match text.strip_prefix('@') {
        Some(path) => Ok(std::fs::read_to_string(path)?.trim().to_owned()),
        None => Ok(text.to_owned()),
    }
}

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |index: usize| -> Result<&str, Failure> {
        args.get(index).map(String::as_str).ok_or_else(|| {
            format!("missing argument {index}: see the module's documentation").into()
        })
    };
    let scenario = arg(0)?;
    let uri = uri_argument(arg(1)?)?;
    let uri = uri.as_str();
    let one_thread = scenario == "selection" || (scenario == "scale" && scale_on_one_thread()?);
    let runtime = if one_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Runtime::new()?
    };
    if scenario == "scale" {
        let cluster = runtime.block_on(scale(uri, arg(2)?.parse()?))?;
        if one_thread {
            // The runtime runs only inside `block_on`: it must go on while stdin is read.
            runtime.block_on(runtime.spawn_blocking(wait_for_stdin_to_close))??;
        } else {
            // Standard input is read on this thread, not on one more for tokio's stdin, so
            // that the thread count is the runtime's and the library's (as for the driver).
            wait_for_stdin_to_close()?;
        }
        runtime.block_on(cluster.close());
        return Ok(());
    }
    runtime.block_on(async {
        match scenario {
            "discovery" => discovery(uri, arg(2)?.parse()?).await,
            "failover" => failover(uri).await,
            "selection" => selection(uri, arg(2)?.parse()?, arg(3)?.parse()?).await,
            other => Err(format!("unknown scenario {other:?}").into()),
        }
    })
}

/// `count` servers, none of them Unknown.
fn all_known(description: &TopologyDescription, count: usize) -> bool {
    description.servers.len() == count
        && description
            .servers
            .values()
            .all(|server| server.server_type != ServerType::Unknown)
}

fn millis(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e3
}

fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros() as i64)
}

/// Waits until `condition` holds on `cluster`'s view; the instant it was seen.
async fn seen_when(
    cluster: &Cluster,
    condition: impl Fn(&TopologyDescription) -> bool,
) -> Result<Instant, Failure> {
    let mut watcher = cluster.watch();
    loop {
        if condition(&watcher.current()) {
            return Ok(Instant::now());
        }
        watcher.changed().await?;
    }
}

async fn discovery(uri: &str, members: usize) -> Result<(), Failure> {
    let mut figures = (0.0, 0.0);
    for _warm_up_then_measured in 0..2 {
        let started = Instant::now();
        let cluster = Cluster::new(ClusterSettings::parse(uri)?)?;
        let known = seen_when(&cluster, |t| all_known(t, members));
        let ping = async {
            let reply = cluster
                .run_command("admin", doc! { "ping": 1 }, &SelectionCriteria::write())
                .await;
            reply.map(|_| Instant::now())
        };
        let (known, pinged) = tokio::join!(known, ping);
        figures = (
            millis(known?.duration_since(started)),
            millis(pinged?.duration_since(started)),
        );
        cluster.close().await;
    }
    println!(r#"{{"known_ms": {}, "ping_ms": {}}}"#, figures.0, figures.1);
    Ok(())
}

/// When the view last changed to each primary, and when inserts were acknowledged.
#[derive(Default)]
struct Record {
    primaries: Vec<(String, i64)>,
    inserts: Vec<i64>,
}

async fn failover(uri: &str) -> Result<(), Failure> {
    let cluster = Cluster::new(ClusterSettings::parse(uri)?)?;
    seen_when(&cluster, |t| all_known(t, 3) && t.primary().is_some()).await?;
    let record = Arc::new(Mutex::new(Record::default()));
    let mut watcher = cluster.watch();
    let views = Arc::clone(&record);
    tokio::spawn(async move {
        let mut last = None;
        loop {
            let primary = watcher.current().primary().map(|p| p.address.to_string());
            if primary != last {
                if let (Some(address), Ok(mut record)) = (&primary, views.lock()) {
                    record.primaries.push((address.clone(), unix_micros()));
                }
                last = primary;
            }
            if watcher.changed().await.is_err() {
                return;
            }
        }
    });
    let inserter = cluster.clone();
    let acks = Arc::clone(&record);
    tokio::spawn(async move {
        let mut sequence: i64 = 0;
        loop {
            sequence += 1;
            let insert = doc! { "insert": "bench", "documents": [{ "_id": sequence }] };
            let outcome = match inserter.checkout(&SelectionCriteria::write()).await {
                Ok(mut connection) => connection.run_command("test", insert).await.map(|_| ()),
                Err(error) => Err(error),
            };
            if outcome.is_ok() {
                if let Ok(mut record) = acks.lock() {
                    record.inserts.push(unix_micros());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            } else if inserter.is_closed() {
                return;
            }
        }
    });
    println!("ready");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["noprimary"] => {
                seen_when(&cluster, |t| t.primary().is_none()).await?;
                println!("ok");
            }
            ["elected", at, address] => {
                let at: i64 = at.parse()?;
                let (view, insert) = loop {
                    if let Ok(record) = record.lock() {
                        let view = record
                            .primaries
                            .iter()
                            .find(|(primary, when)| primary == address && *when >= at);
                        let insert = record.inserts.iter().find(|when| **when >= at);
                        if let (Some((_, view)), Some(insert)) = (view, insert) {
                            break (*view, *insert);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                };
                let ms = |when: i64| (when - at) as f64 / 1e3;
                println!(
                    r#"{{"view_ms": {}, "insert_ms": {}}}"#,
                    ms(view),
                    ms(insert)
                );
            }
            _ => return Err(format!("unknown control line {line:?}").into()),
        }
    }
    cluster.close().await;
    Ok(())
}

/// Whether `BENCH_PROBE_RUNTIME` asks for a one-thread runtime (`current-thread`) rather
/// than tokio's default (`multi-thread`, or unset).
fn scale_on_one_thread() -> Result<bool, Failure> {
    match std::env::var("BENCH_PROBE_RUNTIME").as_deref() {
        Err(_) | Ok("multi-thread") => Ok(false),
        Ok("current-thread") => Ok(true),
        Ok(other) => Err(format!(
            "BENCH_PROBE_RUNTIME={other:?}: expected multi-thread or current-thread"
        )
        .into()),
    }
}

fn wait_for_stdin_to_close() -> std::io::Result<()> {
    for line in std::io::stdin().lock().lines() {
        line?;
    }
    Ok(())
}

/// The time until all `count` servers are known, printed; the cluster, kept.
async fn scale(uri: &str, count: usize) -> Result<Cluster, Failure> {
    let started = Instant::now();
    let cluster = Cluster::new(ClusterSettings::parse(uri)?)?;
    let known = seen_when(&cluster, |t| all_known(t, count)).await?;
    println!(
        r#"{{"known_ms": {}}}"#,
        millis(known.duration_since(started))
    );
    Ok(cluster)
}

async fn selection(uri: &str, members: usize, seconds: f64) -> Result<(), Failure> {
    let cluster = Cluster::new(ClusterSettings::parse(uri)?)?;
    seen_when(&cluster, |t| all_known(t, members)).await?;
    let criteria = SelectionCriteria::write();
    let window = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut done: u64 = 0;
    while started.elapsed() < window {
        for _ in 0..256 {
            std::hint::black_box(cluster.select_server(&criteria).await?);
        }
        done += 256;
    }
    let per_second = done as f64 / started.elapsed().as_secs_f64();
    println!(r#"{{"per_s": {per_second}}}"#);
    cluster.close().await;
    Ok(())
}
