//! Clean shutdown: closing the cluster, or dropping its last handle, stops every task and
//! closes every socket promptly, even in the middle of a heartbeat wait or a handshake.
//!
//! The cluster runs on its own runtime, so that runtime's task count is the cluster's alone;
//! its sockets are found in `/proc/self/fd` and `/proc/net/tcp` by their remote port.

mod engine_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use engine_support::*;
use mongo_topology::sdam::ServerType;
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Socket inodes of this process.
fn own_socket_inodes() -> HashSet<u64> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let text = target.to_string_lossy().into_owned();
            text.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// How many of this process's TCP sockets are connected to one of `ports` (client side).
fn client_sockets_to(ports: &[u16]) -> usize {
    let inodes = own_socket_inodes();
    let mut count = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(inode)) = (fields.get(2), fields.get(9)) else {
                continue;
            };
            let port = remote
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            let inode: u64 = inode.parse().unwrap_or(0);
            if port.is_some_and(|p| ports.contains(&p)) && inodes.contains(&inode) {
                count += 1;
            }
        }
    }
    count
}

/// Polls `condition` every millisecond for up to `limit`; returns how long it took.
fn within(limit: Duration, mut condition: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() <= limit {
        if condition() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

struct Setup {
    sim_runtime: Runtime,
    sim: Option<Deployment>,
    ports: Vec<u16>,
}

fn simulator(spec: DeploymentSpec) -> Setup {
    let sim_runtime = runtime();
    let sim = sim_runtime.block_on(start(spec));
    let ports = sim.ports();
    Setup {
        sim_runtime,
        sim: Some(sim),
        ports,
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            self.sim_runtime.block_on(sim.shutdown());
        }
    }
}

#[test]
fn close_stops_every_task_and_socket() {
    let setup = simulator(DeploymentSpec::replica_set("rs0", 3, 0, 0));
    let sim = setup.sim.as_ref().unwrap();
    let client = runtime();
    let cluster = client.block_on(async {
        let cluster = connect(&uri(
            &[address(sim, 0)],
            "replicaSet=rs0&heartbeatFrequencyMS=500",
        ));
        wait_until(&cluster, "all known", |t| {
            t.servers.len() == 3 && all_known(t)
        })
        .await;
        // A pooled connection too, and let the RTT monitors open their connections.
        let ping = bson::doc! { "ping": 1 };
        let criteria = mongo_topology::selection::SelectionCriteria::write();
        cluster.run_command("admin", ping, &criteria).await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        cluster
    });
    assert!(
        client.metrics().num_alive_tasks() >= 4,
        "the cluster task and 3 monitors"
    );
    assert!(client_sockets_to(&setup.ports) >= 3);
    client.block_on(cluster.close());
    assert!(cluster.is_closed());
    // close() returns once the monitors are gone and their sockets closed.
    assert_eq!(
        client_sockets_to(&setup.ports),
        0,
        "sockets left open after close()"
    );
    let tasks_gone = within(Duration::from_millis(50), || {
        client.metrics().num_alive_tasks() == 0
    });
    assert!(
        tasks_gone.is_some(),
        "{} tasks left",
        client.metrics().num_alive_tasks()
    );
}

#[test]
fn dropping_the_last_handle_stops_everything_promptly() {
    let setup = simulator(DeploymentSpec::replica_set("rs0", 3, 0, 0));
    let sim = setup.sim.as_ref().unwrap();
    let client = runtime();
    let (first, second) = client.block_on(async {
        let cluster = connect(&uri(&[address(sim, 1)], "replicaSet=rs0"));
        wait_until(&cluster, "all known", |t| {
            t.servers.len() == 3 && all_known(t)
        })
        .await;
        (cluster.clone(), cluster)
    });
    drop(first);
    // Another handle keeps the engine alive.
    std::thread::sleep(Duration::from_millis(100));
    assert!(client_sockets_to(&setup.ports) >= 3);
    drop(second);
    // Unloaded this takes a few milliseconds; the bound leaves room for a loaded machine
    // (what matters: nothing waits for a timer, a heartbeat or a connect timeout).
    let closed = within(Duration::from_millis(500), || {
        client_sockets_to(&setup.ports) == 0 && client.metrics().num_alive_tasks() == 0
    });
    assert!(
        closed.is_some(),
        "{} sockets and {} tasks left after 500 ms",
        client_sockets_to(&setup.ports),
        client.metrics().num_alive_tasks()
    );
}

#[test]
fn close_interrupts_a_handshake_that_never_ends() {
    let setup = simulator(DeploymentSpec::replica_set("rs0", 2, 0, 0));
    let sim = setup.sim.as_ref().unwrap();
    sim.set_frozen(&MemberRef::Index(1), true).unwrap();
    let client = runtime();
    let cluster = client.block_on(async {
        let seeds = [address(sim, 0), address(sim, 1)];
        let cluster = connect(&uri(&seeds, "replicaSet=rs0"));
        wait_until(&cluster, "the primary", |t| {
            t.servers
                .values()
                .any(|s| s.server_type == ServerType::RsPrimary)
        })
        .await;
        cluster
    });
    // Member 1 accepts the connection but never answers: its monitor is mid-handshake
    // once its socket exists (which may come a little after the primary is known).
    let deadline = Instant::now() + Duration::from_secs(5);
    while client_sockets_to(&setup.ports[1..]) == 0 {
        assert!(
            Instant::now() < deadline,
            "no monitor connected to member 1"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    client.block_on(cluster.close());
    // Without interruption close would wait for the handshake's timeout (connectTimeoutMS,
    // 10 s by default); the bound is loose so that a loaded machine does not fail the test.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(client_sockets_to(&setup.ports), 0);
}
