//! `mongo-topology sim --replay FILE` as a process: it serves a recording made with the
//! engine's recorder, prints a connection string a client discovers the recorded set
//! through, exits 0 when standard input closes, and refuses a speed that is not positive;
//! `--from`/`--to` serve a window of the recording, starting with the state at its start.

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

/// A recording of one server: a standalone from the start, a replica set secondary from
/// 60 s on (header time zero 2026-12-07T05:49:45.000Z).
const TWO_STATES: &str = r#"{"format":"mongo-topology-recording","version":1,"part":0,"started_at":"2026-12-07T05:49:45.000Z","started_wall_us":1796622585000000,"settings":{"seeds":["db1:27017"],"replicaSet":null,"directConnection":true}}
{"type":"hello","t_us":1000,"wall_us":1796622585001000,"address":"db1:27017","awaited":false,"duration_us":500,"reply":{"isWritablePrimary":true,"maxWireVersion":21,"minWireVersion":0,"ok":1.0}}
{"type":"hello","t_us":60000000,"wall_us":1796622645000000,"address":"db1:27017","awaited":false,"duration_us":500,"reply":{"isWritablePrimary":false,"secondary":true,"setName":"rs0","hosts":["db1:27017"],"me":"db1:27017","maxWireVersion":21,"minWireVersion":0,"ok":1.0}}
"#;

/// The server type a client connected directly to `sim --replay` with `args` sees first.
async fn first_server_type(path: &std::path::Path, args: &[&str]) -> ServerType {
    let mut all = vec!["--replay", path.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut child = sim(&all).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    tokio::time::timeout(GUARD, BufReader::new(stdout).read_line(&mut first))
        .await
        .expect("the connection string in time")
        .unwrap();
    assert!(first.contains("directConnection=true"), "{first}");
    let client = Cluster::new(ClusterSettings::parse(first.trim()).unwrap()).unwrap();
    let topology = client
        .wait_for(
            |t| {
                t.servers
                    .values()
                    .any(|s| s.server_type != ServerType::Unknown)
            },
            GUARD,
        )
        .await
        .expect("the replayed server answers");
    client.close().await;
    drop(child.stdin.take());
    let _ = tokio::time::timeout(GUARD, child.wait()).await;
    topology.servers.values().next().unwrap().server_type
}

#[tokio::test]
async fn a_window_starts_with_the_state_in_effect_at_its_start() {
    let dir = std::env::temp_dir().join(format!("sim-cli-replay-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("two-states.ndjson");
    std::fs::write(&path, TWO_STATES).unwrap();
    assert_eq!(first_server_type(&path, &[]).await, ServerType::Standalone);
    assert_eq!(
        first_server_type(&path, &["--from", "60"]).await,
        ServerType::RsSecondary,
        "seconds from the start"
    );
    assert_eq!(
        first_server_type(&path, &["--from", "2026-12-07T05:50:50.000Z"]).await,
        ServerType::RsSecondary,
        "a wall-clock time"
    );
    assert_eq!(
        first_server_type(&path, &["--from", "30", "--to", "40"]).await,
        ServerType::Standalone,
        "the state at 30 s"
    );
    let refused = |args: &'static [&'static str]| {
        let path = path.clone();
        async move {
            let mut all = vec!["--replay".to_owned(), path.display().to_string()];
            all.extend(args.iter().map(|arg| (*arg).to_owned()));
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            tokio::time::timeout(GUARD, sim(&all).output())
                .await
                .unwrap()
                .unwrap()
        }
    };
    let backwards = refused(&["--from", "40", "--to", "30"]).await;
    assert_eq!(backwards.status.code(), Some(1), "{backwards:?}");
    assert!(String::from_utf8_lossy(&backwards.stderr).contains("ends (--to) before it starts"));
    let nonsense = refused(&["--from", "yesterday"]).await;
    assert_eq!(
        nonsense.status.code(),
        Some(1),
        "a usage error: {nonsense:?}"
    );
    assert!(String::from_utf8_lossy(&nonsense.stderr).contains("neither seconds"));
    let before = refused(&["--from", "2026-12-07T05:00:00Z"]).await;
    assert_eq!(before.status.code(), Some(1), "{before:?}");
    assert!(String::from_utf8_lossy(&before.stderr).contains("before the recording started"));
}
