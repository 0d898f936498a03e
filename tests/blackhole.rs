//! A blackholed primary (issue 18, item 5): packets to its port dropped by the kernel, so
//! new connections hang in SYN and established ones go silent — unlike the simulator's
//! `freeze`, which accepts connections and only leaves them unanswered.
//!
//! The test re-runs itself inside a fresh network namespace where a traffic-control rule
//! drops every packet to and from the primary's port (tests/netns_support says how).
//! Inside it, a 3-member simulated set is watched twice at once, with the default settings
//! and with the settings `doctor` suggests for failover detection, by our library recorder
//! (then `timeline` is run on each recording) and by PyMongo (tests/pymongo/blackhole.py);
//! the primary is blackholed and member 1 is elected a second after the client noticed.
//! interop/rust-driver/tests/blackhole.rs does the same with the official Rust driver.

mod netns_support;
mod pymongo_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mongo_topology::sdam::{TopologyDescription, TopologyType};
use mongo_topology::{Cluster, ClusterSettings, RecordingSettings, ServerAddress};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use netns_support::{blackhole, in_a_network_namespace};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The default settings: heartbeatFrequencyMS 10 s and connectTimeoutMS 10 s.
const DEFAULTS: &str = "";
/// What `doctor` suggests for a silent server (timing.failover-detection and
/// timing.discovery-incomplete): connectTimeoutMS of a few seconds, so a silent server is
/// given up sooner; socketTimeoutMS set; heartbeatFrequencyMS well under its 10 s limit.
const SUGGESTED: &str = "&heartbeatFrequencyMS=2000&connectTimeoutMS=2000&socketTimeoutMS=5000";
/// How long the set stays without a primary after the client noticed: the election.
const ELECTION: Duration = Duration::from_millis(1000);
/// Far above any wait in this test; only reached when it fails.
const PATIENCE: Duration = Duration::from_secs(40);

#[test]
fn blackholed_primary_in_the_timeline() {
    in_a_network_namespace("blackholed_primary_in_the_timeline", ours);
}

#[test]
fn pymongo_and_a_blackholed_primary() {
    in_a_network_namespace("pymongo_and_a_blackholed_primary", pymongo);
}

fn primary_is(topology: &TopologyDescription, address: &ServerAddress) -> bool {
    topology.primary().is_some_and(|p| &p.address == address)
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

/// What one client saw: the recording, and the time from the blackhole until it had no
/// primary (measured by the test's clock).
struct Case {
    recording: PathBuf,
    noticed_after: Duration,
    members: Vec<ServerAddress>,
}

/// Watches a fresh set with `options`, blackholes its primary, elects member 1 after the
/// client noticed.
async fn blackhole_a_primary(dir: &Path, name: &str, options: &str) -> Case {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let members: Vec<ServerAddress> = sim
        .addresses()
        .iter()
        .map(|a| ServerAddress::parse(a).unwrap())
        .collect();
    let uri = format!("mongodb://{}/?replicaSet=rs0{options}", members[0]);
    let recording = dir.join(format!("{name}.ndjson"));
    let cluster = Cluster::with_recording(
        ClusterSettings::parse(&uri).unwrap(),
        &RecordingSettings::new(&recording),
    )
    .unwrap();
    wait_until(&cluster, "3 members, 0 primary", |t| {
        t.servers.len() == 3 && primary_is(t, &members[0])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    blackhole(sim.ports()[0]);
    let blackholed_at = Instant::now();
    wait_until(&cluster, "no primary after the blackhole", |t| {
        t.topology_type == TopologyType::ReplicaSetNoPrimary
    })
    .await;
    let noticed_after = blackholed_at.elapsed();
    tokio::time::sleep(ELECTION).await;
    sim.elect(&MemberRef::Index(1)).unwrap();
    wait_until(&cluster, "1 primary", |t| primary_is(t, &members[1])).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.close().await;
    sim.shutdown().await;
    let deadline = Instant::now() + PATIENCE;
    while !std::fs::read_to_string(&recording)
        .unwrap_or_default()
        .contains("\"topology_closed\"")
    {
        assert!(Instant::now() < deadline, "the recording ends");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Case {
        recording,
        noticed_after,
        members,
    }
}

fn timeline_json(recording: &Path) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .args(["timeline", recording.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "timeline: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn stage<'a>(incident: &'a Value, id: &str) -> &'a Value {
    incident["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == id)
        .unwrap_or_else(|| panic!("stage {id} in {incident:#}"))
}

fn ms(us: &Value) -> u64 {
    us.as_u64().unwrap_or(0) / 1000
}

/// The timeline of one case: a single incident, found by a failed check (no step-down
/// report: the old primary never said anything again), bounded by connectTimeoutMS.
/// Returns (last good check → first failed check) in ms.
fn assert_blackhole_timeline(name: &str, case: &Case) -> u64 {
    let json = timeline_json(&case.recording);
    let incidents = json["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{name}: {json:#}");
    let incident = &incidents[0];
    assert_eq!(incident["old_primary"], case.members[0].to_string());
    assert_eq!(incident["new_primary"], case.members[1].to_string());
    let failed = stage(incident, "first_failed_check");
    assert_eq!(failed["happened"], true, "{name}: {incident:#}");
    assert_eq!(stage(incident, "step_down_report")["happened"], false);
    assert_eq!(stage(incident, "old_primary_demoted")["happened"], true);
    assert_eq!(stage(incident, "no_primary")["happened"], true);
    let bounds: Vec<&str> = failed["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["setting"].as_str())
        .collect();
    assert!(
        bounds.contains(&"connectTimeoutMS"),
        "{name}: a silent server is given up after connectTimeoutMS: {failed:#}"
    );
    let mut figures = format!("blackhole figures: {name}:");
    for stage in incident["stages"].as_array().unwrap() {
        if stage["happened"] == true {
            figures.push_str(&format!(
                " {}=+{}ms",
                stage["stage"].as_str().unwrap_or("?"),
                ms(&stage["duration_us"])
            ));
        }
    }
    println!(
        "{figures}; no primary {} ms after the blackhole (test clock); without primary {} ms",
        case.noticed_after.as_millis(),
        ms(&incident["without_primary_us"])
    );
    ms(&failed["duration_us"])
}

/// Our client, with the default settings and the suggested ones at once.
async fn ours() {
    let dir = std::env::temp_dir().join(format!("blackhole-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (defaults, suggested) = tokio::join!(
        blackhole_a_primary(&dir, "defaults", DEFAULTS),
        blackhole_a_primary(&dir, "suggested", SUGGESTED),
    );
    let default_detection = assert_blackhole_timeline("defaults", &defaults);
    let suggested_detection = assert_blackhole_timeline("suggested", &suggested);
    // Defaults: the check waits connectTimeoutMS (10 s) on a silent connection.
    assert!(
        defaults.noticed_after >= Duration::from_secs(10),
        "defaults notice after connectTimeoutMS at the earliest: {:?}",
        defaults.noticed_after
    );
    assert!(default_detection >= 10_000, "{default_detection} ms");
    // Suggested: heartbeat 2 s + connect timeout 2 s bound it (slack for a loaded machine).
    assert!(
        suggested.noticed_after < Duration::from_secs(8),
        "suggested settings notice within heartbeat + connectTimeoutMS: {:?}",
        suggested.noticed_after
    );
    assert!(suggested.noticed_after < defaults.noticed_after);
    assert!(suggested_detection < default_detection);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs tests/pymongo/blackhole.py with `options` against a fresh set: blackholes the
/// primary and elects member 1 when asked; returns the script's figures.
async fn pymongo_case(name: &str, options: &str) -> Value {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let uri = format!("mongodb://{}/?replicaSet=rs0{options}", sim.addresses()[0]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pymongo/blackhole.py");
    let mut child = tokio::process::Command::new(pymongo_support::python())
        .arg(script)
        .arg(&uri)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let log = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut figures = None;
    let mut passed = false;
    let drive = async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if line == "PASS" {
                passed = true;
                continue;
            }
            if let Some(json) = line.strip_prefix("FIGURES ") {
                figures = Some(serde_json::from_str::<Value>(json).unwrap());
                continue;
            }
            match line.as_str() {
                "blackhole" => blackhole(sim.ports()[0]),
                "elect" => sim.elect(&MemberRef::Index(1)).unwrap(),
                other => panic!("{name}: unknown request {other:?}"),
            }
            stdin.write_all(b"done\n").await.unwrap();
            stdin.flush().await.unwrap();
        }
        child.wait().await.unwrap()
    };
    let status = tokio::time::timeout(Duration::from_secs(55), drive).await;
    let log = log.await.unwrap();
    eprintln!("--- PyMongo, {name} ---\n{log}");
    let status = status.unwrap_or_else(|_| panic!("{name}: PyMongo took longer than 55 s"));
    assert!(status.success() && passed, "{name}: {status}\n{log}");
    sim.shutdown().await;
    figures.expect("the script printed its figures")
}

/// PyMongo, with the default settings and the suggested ones at once.
async fn pymongo() {
    if !pymongo_support::pymongo_available() {
        println!("skipped: PyMongo is not importable");
        return;
    }
    let (defaults, suggested) = tokio::join!(
        pymongo_case("defaults", DEFAULTS),
        pymongo_case("suggested", SUGGESTED),
    );
    for (name, figures) in [("defaults", &defaults), ("suggested", &suggested)] {
        println!(
            "blackhole figures: PyMongo {name}: lost the primary after {} ms, first write on \
             the new primary {} ms after the blackhole (elected at {} ms)",
            figures["noticed_ms"], figures["first_write_ms"], figures["elected_ms"]
        );
    }
    let noticed = |f: &Value| f["noticed_ms"].as_u64().unwrap();
    assert!(
        noticed(&defaults) >= 10_000,
        "defaults: a silent check waits connectTimeoutMS: {defaults:#}"
    );
    assert!(
        noticed(&suggested) < 8_000,
        "suggested: within heartbeat + connectTimeoutMS: {suggested:#}"
    );
    assert!(noticed(&suggested) < noticed(&defaults));
    for figures in [&defaults, &suggested] {
        assert!(figures["first_write_ms"].as_u64() >= figures["elected_ms"].as_u64());
        assert_ne!(figures["new_primary"], Value::Null);
    }
}
