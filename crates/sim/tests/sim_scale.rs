//! Scale: one process hosts 1,000 nodes, starts them quickly, and idles at near-zero CPU
//! (no per-node timers: idle writes are computed on demand, mongos have none).

mod sim_support;

use std::time::{Duration, Instant};

use mongo_topology_sim::{Deployment, DeploymentSpec};
use sim_support::{ok, RawClient};

/// utime + stime of this process, from /proc/self/stat (Linux USER_HZ = 100).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After "pid (comm)", field 3 is state: utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_mongos_start_fast_and_idle_quietly() {
    let started = Instant::now();
    let d = Deployment::start(DeploymentSpec::sharded(1000))
        .await
        .unwrap();
    let start_time = started.elapsed();
    let addresses = d.addresses();
    assert_eq!(addresses.len(), 1000);
    for addr in [&addresses[0], &addresses[499], &addresses[999]] {
        assert_eq!(ok(&RawClient::connect(addr).await.hello().await), 1.0);
    }
    // Idle: nothing to do for 2 s.
    let idle = Duration::from_secs(2);
    let cpu_before = cpu_time();
    tokio::time::sleep(idle).await;
    let cpu_after = cpu_time();
    eprintln!("1000 mongos: started in {start_time:?}");
    if let (Some(b), Some(a)) = (cpu_before, cpu_after) {
        let used = a.saturating_sub(b);
        eprintln!(
            "idle CPU: {used:?} over {idle:?} ({:.1}% of one core)",
            100.0 * used.as_secs_f64() / idle.as_secs_f64()
        );
        assert!(
            used < Duration::from_millis(200),
            "idle CPU too high: {used:?} over {idle:?}"
        );
    }
    // Generous for unoptimised builds on a shared 2-core machine; the release figure is
    // reported in the project notes.
    assert!(
        start_time < Duration::from_secs(10),
        "start took {start_time:?}"
    );
    d.shutdown().await;

    // A replica set idles without timers too (idle writes are computed when asked for).
    // Same test, so no other test's work is counted in this process's CPU time.
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 50, 0, 0))
        .await
        .unwrap();
    let cpu_before = cpu_time();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_after = cpu_time();
    if let (Some(b), Some(a)) = (cpu_before, cpu_after) {
        assert!(a.saturating_sub(b) < Duration::from_millis(200));
    }
    d.shutdown().await;
}
