//! `mongo-topology timeline` on a real recording: a simulated replica set whose client
//! (the library recorder, `Cluster::with_recording`) sees a stepdown and then a killed
//! primary; the command finds both incidents, their stages in order with consistent
//! durations, and names the settings that bound them, as JSON, as text and as an SVG; and
//! the same timeline printed live at the end of `watch --record` (plain and `--json`) and of
//! `demo`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use mongo_topology::sdam::{TopologyDescription, TopologyType};
use mongo_topology::{Cluster, ClusterSettings, RecordingSettings, ServerAddress};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use serde_json::Value;

/// Generous bound for what takes milliseconds; only reached when the test fails.
const PATIENCE: Duration = Duration::from_secs(15);
/// How long the set stays without a primary before an election: the election's stage.
const ELECTION: Duration = Duration::from_millis(800);
const HEARTBEAT_MS: u64 = 500;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cli-timeline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn address(sim: &Deployment, index: usize) -> ServerAddress {
    ServerAddress::parse(&sim.addresses()[index]).unwrap()
}

async fn wait_until(
    cluster: &Cluster,
    what: &str,
    condition: impl FnMut(&TopologyDescription) -> bool,
) {
    if let Err(error) = cluster.wait_for(condition, PATIENCE).await {
        panic!(
            "waiting for {what}: {error}; topology: {:#?}",
            cluster.topology()
        );
    }
}

fn primary_is(topology: &TopologyDescription, address: &ServerAddress) -> bool {
    topology.primary().is_some_and(|p| &p.address == address)
}

/// Records a stepdown (0 → 1), a killed primary (1 → 2) and a frozen primary (2 → 0);
/// returns the file and the members' addresses.
async fn record_two_failovers(dir: &Path) -> (PathBuf, Vec<ServerAddress>) {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let members: Vec<ServerAddress> = (0..3).map(|i| address(&sim, i)).collect();
    let uri = format!(
        "mongodb://{}/?replicaSet=rs0&heartbeatFrequencyMS={HEARTBEAT_MS}\
         &serverMonitoringMode=poll&connectTimeoutMS=2000",
        members[0]
    );
    let path = dir.join("failovers.ndjson");
    let cluster = Cluster::with_recording(
        ClusterSettings::parse(&uri).unwrap(),
        &RecordingSettings::new(&path),
    )
    .unwrap();
    wait_until(&cluster, "3 members, 0 primary", |t| {
        t.servers.len() == 3 && primary_is(t, &members[0])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;

    sim.stepdown().unwrap();
    wait_until(&cluster, "no primary", |t| {
        t.topology_type == TopologyType::ReplicaSetNoPrimary
    })
    .await;
    tokio::time::sleep(ELECTION).await;
    sim.elect(&MemberRef::Index(1)).unwrap();
    wait_until(&cluster, "1 primary", |t| primary_is(t, &members[1])).await;
    tokio::time::sleep(Duration::from_millis(600)).await;

    sim.kill(&MemberRef::Index(1)).await.unwrap();
    wait_until(&cluster, "no primary after the kill", |t| {
        t.topology_type == TopologyType::ReplicaSetNoPrimary
    })
    .await;
    tokio::time::sleep(ELECTION).await;
    sim.elect(&MemberRef::Index(2)).unwrap();
    wait_until(&cluster, "2 primary", |t| primary_is(t, &members[2])).await;
    tokio::time::sleep(Duration::from_millis(600)).await;

    // A frozen primary: connections accepted, never answered; the check times out.
    sim.set_frozen(&MemberRef::Index(2), true).unwrap();
    wait_until(&cluster, "no primary after the freeze", |t| {
        t.topology_type == TopologyType::ReplicaSetNoPrimary
    })
    .await;
    tokio::time::sleep(ELECTION).await;
    sim.elect(&MemberRef::Index(0)).unwrap();
    wait_until(&cluster, "0 primary again", |t| primary_is(t, &members[0])).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.close().await;
    sim.shutdown().await;
    // The writer thread finishes after the cluster: wait for its last record.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !std::fs::read_to_string(&path)
        .unwrap_or_default()
        .contains("\"topology_closed\"")
    {
        assert!(tokio::time::Instant::now() < deadline, "the recording ends");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (path, members)
}

async fn timeline(args: &[&str]) -> Output {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .arg("timeline")
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(PATIENCE, output)
        .await
        .expect("timeline exits in time")
        .expect("run timeline");
    assert!(
        output.status.success(),
        "timeline {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stage<'a>(incident: &'a Value, id: &str) -> &'a Value {
    incident["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == id)
        .unwrap_or_else(|| panic!("stage {id} in {incident:#}"))
}

fn bound_settings(stage: &Value) -> Vec<String> {
    stage["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["setting"].as_str().unwrap().to_owned())
        .collect()
}

/// The stages that happened are in time order, each duration is the time since the
/// previous one that happened, and detection and election took time.
fn assert_consistent(incident: &Value) {
    let mut previous: Option<u64> = None;
    for stage in incident["stages"].as_array().unwrap() {
        let Some(at) = stage["at_us"].as_u64() else {
            assert_eq!(stage["happened"], false);
            assert!(stage["detail"]
                .as_str()
                .unwrap()
                .starts_with("did not happen"));
            continue;
        };
        if let Some(previous) = previous {
            assert!(at >= previous, "stages in order: {incident:#}");
            assert_eq!(
                stage["duration_us"].as_u64(),
                Some(at - previous),
                "{stage:#}"
            );
        }
        previous = Some(at);
    }
    let election = stage(incident, "new_primary_reports_itself");
    assert!(
        election["duration_us"].as_u64().unwrap() >= ELECTION.as_micros() as u64 / 2,
        "the election shows: {election:#}"
    );
    assert!(incident["without_primary_us"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn timeline_of_a_stepdown_and_a_killed_primary() {
    let dir = scratch("sim");
    let (path, members) = record_two_failovers(&dir).await;
    let file = path.to_str().unwrap();
    // The README's picture is drawn from this recording (docs/timeline.md says how).
    if let Some(sample) = std::env::var_os("MONGO_TOPOLOGY_TIMELINE_SAMPLE") {
        std::fs::copy(&path, sample).unwrap();
    }

    let json: Value = serde_json::from_slice(&timeline(&[file, "--json"]).await.stdout).unwrap();
    assert_eq!(json["settings"]["heartbeatFrequencyMS"], HEARTBEAT_MS);
    let incidents = json["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 3, "{json:#}");

    // The stepdown: reported by the old primary at a poll, no failed check.
    let stepdown = &incidents[0];
    assert_eq!(stepdown["old_primary"], members[0].to_string());
    assert_eq!(stepdown["new_primary"], members[1].to_string());
    assert_consistent(stepdown);
    assert_eq!(stage(stepdown, "first_failed_check")["happened"], false);
    let report = stage(stepdown, "step_down_report");
    assert_eq!(report["happened"], true);
    assert!(report["duration_us"].as_u64().unwrap() > 0);
    let report_bounds = bound_settings(report);
    assert!(
        report_bounds == ["heartbeatFrequencyMS"] || report_bounds == ["minHeartbeatFrequencyMS"],
        "{report:#}"
    );
    assert_eq!(
        report["bounds"][0]["value_ms"].as_u64(),
        Some(HEARTBEAT_MS),
        "both are 500"
    );
    assert_eq!(stage(stepdown, "no_primary")["happened"], true);
    assert_eq!(
        bound_settings(stage(stepdown, "new_primary_reports_itself"))[0],
        "the election"
    );
    assert_eq!(
        bound_settings(stage(stepdown, "selectable_for_writes")),
        ["serverSelectionTimeoutMS"]
    );

    // The killed primary: found by failed checks, no step-down report.
    let killed = &incidents[1];
    assert_eq!(killed["old_primary"], members[1].to_string());
    assert_eq!(killed["new_primary"], members[2].to_string());
    assert_consistent(killed);
    let failed = stage(killed, "first_failed_check");
    assert_eq!(failed["happened"], true, "{killed:#}");
    assert!(failed["duration_us"].as_u64().unwrap() > 0);
    assert!(!bound_settings(failed).is_empty());
    assert_eq!(stage(killed, "step_down_report")["happened"], false);
    assert_eq!(stage(killed, "old_primary_demoted")["happened"], true);

    // The frozen primary: its check timed out after connectTimeoutMS.
    let frozen = &incidents[2];
    assert_eq!(frozen["old_primary"], members[2].to_string());
    assert_eq!(frozen["new_primary"], members[0].to_string());
    assert_consistent(frozen);
    let timed_out = stage(frozen, "first_failed_check");
    assert_eq!(
        bound_settings(timed_out)[0],
        "connectTimeoutMS",
        "{frozen:#}"
    );
    assert_eq!(timed_out["bounds"][0]["value_ms"], 2000);
    assert!(timed_out["detail"].as_str().unwrap().contains("timed out"));
    assert!(
        timed_out["duration_us"].as_u64().unwrap() >= 2_000_000,
        "the check waited connectTimeoutMS: {timed_out:#}"
    );
    assert!(timed_out["shorten"]
        .as_str()
        .unwrap()
        .contains("socketTimeoutMS"));

    // The same as text: both incidents, every stage, the settings named with their values.
    let text = String::from_utf8(timeline(&[file]).await.stdout).unwrap();
    assert!(text.contains("Incident 1: primary"), "{text}");
    assert!(text.contains("Incident 2: primary"), "{text}");
    assert!(text.contains("Incident 3: primary"), "{text}");
    assert!(text.contains("connectTimeoutMS=2000"), "{text}");
    assert!(text.contains("step-down report: did not happen"), "{text}");
    assert!(
        text.contains("first failed check: did not happen"),
        "{text}"
    );
    assert!(text.contains("bounded by: the election"), "{text}");
    assert!(text.contains("heartbeatFrequencyMS=500"), "{text}");
    assert!(text.contains("serverSelectionTimeoutMS=30000"), "{text}");

    // The picture: one lane per member, the stages as spans.
    let svg_path = dir.join("t.svg");
    timeline(&[file, "--svg", svg_path.to_str().unwrap()]).await;
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<?xml") && svg.trim_end().ends_with("</svg>"));
    for member in &members {
        assert!(
            svg.contains(&format!(">{member}</text>")),
            "lane of {member}"
        );
    }
    assert!(svg.contains("new primary reports itself"));
    assert!(svg.contains("#2e7d32"), "a primary bar");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_file_that_is_not_a_recording_is_refused() {
    let dir = scratch("bad");
    let path = dir.join("not.ndjson");
    std::fs::write(&path, "{\"format\":\"other\"}\n").unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .args(["timeline", path.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a mongo-topology-recording"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `watch --duration 6 --record FILE` (plain or `--json`) against `uri`.
fn start_watch(path: &Path, uri: &str, json: bool) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command.args([
        "watch",
        "--duration",
        "6",
        "--record",
        path.to_str().unwrap(),
    ]);
    if json {
        command.arg("--json");
    }
    command
        .arg(uri)
        .env_remove("MONGODB_URI")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn wait_for_primary_in(path: &Path) {
    // The recording shows the primary once the writer has flushed (every 200 ms at most).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !std::fs::read_to_string(path)
        .unwrap_or_default()
        .contains("\"ReplicaSetWithPrimary\"")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "watch found the primary"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stdout_of(child: tokio::process::Child) -> String {
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("watch ends after --duration")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn watch_record_ends_with_the_timeline_of_its_failover() {
    let dir = scratch("watch");
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let (plain_path, json_path) = (dir.join("plain.ndjson"), dir.join("json.ndjson"));
    let uri = format!(
        "mongodb://{}/?replicaSet=rs0&heartbeatFrequencyMS={HEARTBEAT_MS}",
        sim.addresses()[0]
    );
    let plain = start_watch(&plain_path, &uri, false);
    let json = start_watch(&json_path, &uri, true);
    wait_for_primary_in(&plain_path).await;
    wait_for_primary_in(&json_path).await;
    sim.stepdown().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    sim.elect(&MemberRef::Index(1)).unwrap();

    let stdout = stdout_of(plain).await;
    let at = stdout
        .find("Incident 1: primary")
        .unwrap_or_else(|| panic!("{stdout}"));
    let timeline = &stdout[at..];
    assert!(timeline.contains("step-down report"), "{timeline}");
    assert!(
        timeline.contains("first server selectable for writes"),
        "{timeline}"
    );

    // --json: the timeline is one more JSON line, the last.
    let stdout = stdout_of(json).await;
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "timeline", "{stdout}");
    let incident = &last["timeline"]["incidents"][0];
    assert_eq!(incident["old_primary"], sim.addresses()[0]);
    assert_eq!(stage(incident, "step_down_report")["happened"], true);
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn demo_ends_with_the_timeline_of_its_failover() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .args(["demo", "--pause-ms", "0"])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("demo ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let at = stdout
        .find("The failovers as the client recorded them")
        .unwrap_or_else(|| panic!("{stdout}"));
    let timeline = &stdout[at..];
    assert!(timeline.contains("Incident 1: primary"), "{timeline}");
    assert!(
        timeline.contains("first failed check: did not happen"),
        "a stepdown: {timeline}"
    );
    assert!(timeline.contains("bounded by: the election"), "{timeline}");
}
