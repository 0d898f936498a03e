//! `mongo-topology watch` with a stalled stdout reader (issue 20, item 3): its stdout is a
//! pipe nobody reads, a simulated replica set fails over until the pipe is full and the
//! watch's output is blocked in a write, and then SIGTERM, SIGINT and `--duration` must
//! each still end it within a few seconds with their exit status (143, 130, 0).
//!
//! "Blocked in a write" is observed, not assumed: a thread of the watch sleeps in the
//! kernel's pipe write (`/proc/PID/task/*/wchan`), so the test only signals once the
//! stall it is about really happened.

#![cfg(target_os = "linux")]

use std::process::Stdio;
use std::time::Duration;

use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long the failovers may take to fill the pipe before the test gives up.
const FILL_GUARD: Duration = Duration::from_secs(20);
/// How long the watch may take to end once asked (a bounded flush of about 1 s included;
/// generous for a loaded machine).
const END_GUARD: Duration = Duration::from_secs(5);

/// The watch with `args`, stdout a pipe the test keeps open and never reads.
fn stalled_watch(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .arg("watch")
        .args(args)
        .env_remove("MONGODB_URI")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the watch")
}

/// Whether a thread of process `pid` sleeps in a pipe write (the pipe is full).
fn blocked_in_pipe_write(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("wchan"))
            .is_ok_and(|wchan| wchan.contains("pipe_write"))
    })
}

/// Fails over between the three members until the watch is blocked writing to its full
/// pipe, then `extra` more times; returns how many failovers it took.
async fn fail_over_until_blocked(sim: &Deployment, child: &Child, extra: usize) -> usize {
    let pid = child.id().expect("the watch's pid");
    let started = Instant::now();
    let mut failovers = 0;
    let mut after_block = 0;
    while after_block < extra {
        assert!(
            started.elapsed() < FILL_GUARD,
            "the watch's output never blocked after {failovers} failovers"
        );
        let _ = sim.elect(&MemberRef::Index(failovers % 3));
        failovers += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        if after_block > 0 || blocked_in_pipe_write(pid) {
            after_block += 1;
        }
    }
    failovers
}

async fn ends_with(mut child: Child, code: i32, what: &str) {
    let asked = Instant::now();
    let status = tokio::time::timeout(END_GUARD, child.wait())
        .await
        .unwrap_or_else(|_| panic!("{what}: the watch did not end within {END_GUARD:?}"))
        .expect("wait for the watch");
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(code), "{what}: {status}");
    eprintln!("{what}: exit {code} after {took:?}");
}

fn send_signal(child: &Child, signal: &str) {
    let pid = child.id().expect("the watch's pid").to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("run kill");
    assert!(sent.success());
}

async fn replica_set() -> Deployment {
    Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .expect("start the simulated set")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_json_watch_whose_reader_stalled() {
    let sim = replica_set().await;
    let mut child = stalled_watch(&["--json", &sim.connection_string()]);
    // Enough failovers after the block to overflow the watch's output queue too.
    let failovers = fail_over_until_blocked(&sim, &child, 200).await;
    eprintln!("json: blocked after {failovers} failovers");
    // The reader comes back: the lines that did not fit were counted, and the next line
    // that finds room is preceded by an events_missed line.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text).await;
        text
    });
    for failover in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = sim.elect(&MemberRef::Index(failover % 3));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_signal(&child, "-TERM");
    ends_with(child, 143, "SIGTERM").await;
    let text = reader.await.expect("the reader");
    let missed: u64 = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["event"] == "events_missed")
        .filter_map(|line| line["count"].as_u64())
        .sum();
    assert!(missed > 0, "no events_missed line after the stall");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_ends_a_plain_watch_whose_reader_stalled() {
    let sim = replica_set().await;
    let child = stalled_watch(&[&sim.connection_string()]);
    let failovers = fail_over_until_blocked(&sim, &child, 20).await;
    eprintln!("plain: blocked after {failovers} failovers");
    send_signal(&child, "-INT");
    ends_with(child, 130, "SIGINT").await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_ends_a_watch_whose_reader_stalled() {
    let sim = replica_set().await;
    // Long enough for the failovers to fill the pipe first (checked below).
    let duration = Duration::from_secs(12);
    let started = Instant::now();
    let child = stalled_watch(&[
        "--json",
        "--duration",
        &duration.as_secs().to_string(),
        &sim.connection_string(),
    ]);
    let failovers = fail_over_until_blocked(&sim, &child, 20).await;
    assert!(
        started.elapsed() < duration,
        "the pipe filled only after the deadline: the test proves nothing"
    );
    eprintln!("duration: blocked after {failovers} failovers");
    let remaining = duration.saturating_sub(started.elapsed());
    tokio::time::sleep(remaining).await;
    ends_with(child, 0, "--duration").await;
    sim.shutdown().await;
}
