//! Resource limits: 10,000 simultaneous connections to one simulated node, each answered;
//! after they close, this process's file descriptors return to their baseline.
//!
//! The simulator runs as its own process (`mongo-topology sim --standalone`, which raises its
//! soft limit on open files to the hard one), so each side needs about 10,100 descriptors;
//! this test raises its own soft limit, and skips, saying why, if the hard limit is too low.

mod limits_support;
#[path = "../crates/sim/tests/sim_support/mod.rs"]
mod sim_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use limits_support::{open_fds, rss_kib, rss_kib_of};
use sim_support::RawClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const CONNECTIONS: usize = 10_000;
const NEEDED_FDS: u64 = CONNECTIONS as u64 + 512;
/// How long each of the simultaneous hellos may wait for its answer.
const ANSWER_WAIT: Duration = Duration::from_secs(60);

fn raise_fd_limit() -> Result<u64, String> {
    let (soft, hard) = rlimit::Resource::NOFILE.get().map_err(|e| e.to_string())?;
    if soft >= NEEDED_FDS {
        return Ok(soft);
    }
    if hard < NEEDED_FDS {
        return Err(format!(
            "the hard limit on open files is {hard}, below the {NEEDED_FDS} needed"
        ));
    }
    rlimit::Resource::NOFILE
        .set(NEEDED_FDS, hard)
        .map_err(|e| e.to_string())?;
    Ok(NEEDED_FDS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_simultaneous_connections_are_served() {
    let limit = match raise_fd_limit() {
        Ok(limit) => limit,
        Err(reason) => {
            println!("SKIPPED: {reason}");
            return;
        }
    };
    let mut sim = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .args(["sim", "--standalone", "--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the simulator");
    let mut lines = BufReader::new(sim.stdout.take().unwrap()).lines();
    let uri = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the connection string in time")
        .unwrap()
        .expect("a connection string");
    let address = uri
        .strip_prefix("mongodb://")
        .and_then(|rest| rest.split(['/', '?']).next())
        .expect("mongodb://host:port")
        .to_owned();
    let sim_pid = sim.id().map(|id| id.to_string()).unwrap_or_default();
    let sim_rss_before = rss_kib_of(&sim_pid);
    let (fds_before, rss_before) = (open_fds(), rss_kib());
    let started = Instant::now();
    let mut clients = Vec::with_capacity(CONNECTIONS);
    // Batches keep the accept backlog (somaxconn) from overflowing into SYN retries.
    for _ in 0..CONNECTIONS / 500 {
        let batch: Vec<_> = (0..500)
            .map(|_| {
                let address = address.clone();
                tokio::spawn(async move { RawClient::connect(&address).await })
            })
            .collect();
        for handle in batch {
            clients.push(handle.await.unwrap());
        }
    }
    let connected = started.elapsed();
    // Every connection is open at once; each now runs a hello.
    let answered: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                // 10,000 hellos at once: every one must be answered, however long the queue
                // takes on a loaded 2-core machine (seen over 5 s in a debug build).
                client.set_reply_timeout(ANSWER_WAIT);
                let reply = client.hello().await;
                (client, reply)
            })
        })
        .collect();
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for handle in answered {
        let (client, reply) = handle.await.unwrap();
        assert_eq!(reply.get_bool("isWritablePrimary").ok(), Some(true));
        clients.push(client);
    }
    let (fds_open, rss_open) = (open_fds(), rss_kib());
    assert!(fds_open >= fds_before + CONNECTIONS, "{fds_open} fds");
    println!(
        "{CONNECTIONS} connections (client fd limit {limit}): connected in {connected:?}, all \
         answered in {:?}; client fds {fds_before} -> {fds_open}; client RSS {rss_before} -> \
         {rss_open} KiB; simulator RSS {sim_rss_before} -> {} KiB",
        started.elapsed(),
        rss_kib_of(&sim_pid),
    );
    // The simulator is still healthy: one more connection is served at once.
    let mut extra = RawClient::connect(&address).await;
    assert_eq!(
        extra.hello().await.get_bool("isWritablePrimary").ok(),
        Some(true)
    );
    drop(extra);
    drop(clients);
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds() > fds_before + 16 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fds_after = open_fds();
    println!(
        "after closing: client fds {fds_after}, RSS {} KiB",
        rss_kib()
    );
    assert!(fds_after <= fds_before + 16, "{fds_after} fds still open");
    drop(sim.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(10), sim.wait())
        .await
        .expect("the simulator exits in time")
        .unwrap();
    assert!(status.success(), "simulator exit status {status}");
}
