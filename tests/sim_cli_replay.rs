//! `mongo-topology sim --replay FILE` as a process: it serves a recording made with the
//! engine's recorder, prints a connection string a client discovers the recorded set
//! through, exits 0 when standard input closes, and refuses a speed that is not positive.

use std::process::Stdio;
use std::time::Duration;

use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::{Cluster, ClusterSettings, RecordingSettings};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const GUARD: Duration = Duration::from_secs(15);

fn sim(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .arg("sim")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn a_recorded_replica_set_is_served_again() {
    // Both members checked (a primary and a secondary), so that the recording holds a hello
    // of each and the replay can serve each; waiting for the primary alone raced with the
    // secondary's first check.
    let primary_and_secondary = |t: &TopologyDescription| {
        t.servers.len() == 2
            && t.primary().is_some()
            && t.servers
                .values()
                .any(|s| s.server_type == ServerType::RsSecondary)
    };
    let dir = std::env::temp_dir().join(format!("sim-cli-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rs.ndjson");
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0))
        .await
        .unwrap();
    let uri = format!(
        "{}&serverMonitoringMode=poll&heartbeatFrequencyMS=500",
        deployment.connection_string()
    );
    let recorded = Cluster::with_recording(
        ClusterSettings::parse(&uri).unwrap(),
        &RecordingSettings::new(&path),
    )
    .unwrap();
    recorded
        .wait_for(primary_and_secondary, GUARD)
        .await
        .expect("the recorded client finds the primary");
    recorded.close().await;
    deployment.shutdown().await;
    // The recorder's thread finishes after the cluster: wait for its last record.
    let deadline = tokio::time::Instant::now() + GUARD;
    while !std::fs::read_to_string(&path)
        .unwrap()
        .contains("\"topology_closed\"")
    {
        assert!(tokio::time::Instant::now() < deadline, "the recording ends");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut child = sim(&["--replay", path.to_str().unwrap()]).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    tokio::time::timeout(GUARD, BufReader::new(stdout).read_line(&mut first))
        .await
        .expect("the connection string in time")
        .unwrap();
    let replay_uri = format!("{}&serverMonitoringMode=poll", first.trim());
    assert!(replay_uri.contains("replicaSet=rs0"), "{replay_uri}");
    let client = Cluster::new(ClusterSettings::parse(&replay_uri).unwrap()).unwrap();
    let topology = client
        .wait_for(primary_and_secondary, GUARD)
        .await
        .expect("the replay serves the recorded set");
    assert_eq!(
        topology
            .servers
            .values()
            .filter(|s| s.server_type == ServerType::RsSecondary)
            .count(),
        1
    );
    client.close().await;
    drop(child.stdin.take());
    let status = tokio::time::timeout(GUARD, child.wait())
        .await
        .expect("exits when stdin closes")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_speed_that_is_not_positive_is_refused() {
    let dir = std::env::temp_dir().join(format!("sim-cli-replay-speed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("empty.ndjson");
    std::fs::write(
        &path,
        "{\"format\":\"mongo-topology-recording\",\"version\":1,\"settings\":{\"seeds\":[]}}\n",
    )
    .unwrap();
    let output = tokio::time::timeout(
        GUARD,
        sim(&["--replay", path.to_str().unwrap(), "--speed", "0"]).output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("speed must be a positive number"));
}
