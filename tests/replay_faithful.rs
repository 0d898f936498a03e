//! The proof that a replay is faithful (issue 18, Deliver 3): an incident scripted on the
//! simulator is recorded with our engine, replayed at speed 1 by `sim --replay`'s library
//! (`mongo_topology_sim::replay`), and the clients pointed at the replay, our engine (in
//! both monitoring modes) and PyMongo, see the same sequence of server types per address
//! and of topology types as the recording client saw, each change within
//! `replay_support::TOLERANCE` of its recorded time. One incident is recorded streaming and
//! replayed to polling and streaming clients, the other recorded polling and replayed to
//! streaming clients. The official Rust driver's part is interop/rust-driver/tests/replay.rs.

mod pymongo_support;
mod replay_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mongo_topology::{Cluster, ClusterSettings, ServerAddress};
use mongo_topology_sim::replay::Replay;
use replay_support::*;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;

/// PyMongo hands SDAM events to listeners from a background thread that runs once a second
/// (pymongo.common.EVENTS_QUEUE_FREQUENCY): they arrive up to that late.
const PYMONGO_EVENT_DELAY: Duration = Duration::from_secs(1);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("replay-faithful-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Our engine monitoring in `mode`, pointed at `replay` until `until`.
async fn engine_view(replay: &Replay, mode: &str, zero: Instant, until: Instant) -> Seen {
    let uri = with_options(
        &replay.connection_string(),
        &format!("{TIMING}&serverMonitoringMode={mode}"),
    );
    let (client, mut events) = Cluster::with_events(ClusterSettings::parse(&uri).unwrap()).unwrap();
    let rename = |address: &ServerAddress| {
        replay
            .recorded(&address.to_string())
            .unwrap_or("unmapped")
            .to_owned()
    };
    let seen = collect_engine(&mut events, zero, until, rename).await;
    client.close().await;
    seen
}

/// The PyMongo probe, started (PyMongo imported) before the replay so that it connects as
/// soon as the replay starts; `None` when PyMongo is not installed (and not required).
struct PyMongoProbe {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl PyMongoProbe {
    async fn start() -> Option<PyMongoProbe> {
        if !pymongo_support::pymongo_available() {
            return None;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pymongo/replay_probe.py");
        let mut child = Command::new(pymongo_support::python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("python starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut ready))
            .await
            .expect("the PyMongo probe starts")
            .unwrap();
        assert_eq!(ready.trim(), "ready");
        Some(PyMongoProbe { child, stdout })
    }

    /// PyMongo (its default monitoring: streaming) pointed at `replay` for `duration`.
    async fn view(mut self, replay: &Replay, zero_wall: SystemTime, duration: Duration) -> Seen {
        let uri = with_options(&replay.connection_string(), TIMING);
        let zero_us = zero_wall.duration_since(UNIX_EPOCH).unwrap().as_micros();
        let mut stdin = self.child.stdin.take().unwrap();
        let line = format!("{uri} {} {zero_us}\n", duration.as_secs_f64());
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
        let mut stdout = String::new();
        let (read, status) = tokio::time::timeout(duration + Duration::from_secs(20), async {
            tokio::join!(self.stdout.read_to_string(&mut stdout), self.child.wait())
        })
        .await
        .expect("the PyMongo probe ends");
        read.unwrap();
        assert!(
            status.unwrap().success(),
            "the PyMongo probe failed (its stderr is above)"
        );
        let mut seen = Seen::default();
        for line in stdout.lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            let at = Duration::from_micros(event["at_us"].as_u64().unwrap_or(0));
            let address = event["address"]
                .as_str()
                .map(|address| replay.recorded(address).unwrap_or("unmapped").to_owned());
            let kind = event["type"].as_str().unwrap_or("");
            match (event["event"].as_str(), address) {
                (Some("server"), Some(address)) => seen.server(&address, kind, at),
                (Some("removed"), Some(address)) => seen.server(&address, REMOVED, at),
                (Some("topology"), _) => seen.topology(kind, at),
                _ => panic!("unexpected probe line {line}"),
            }
        }
        seen
    }
}

/// Replays `incident` at speed 1 to our streaming engine (and polling one when
/// `poll_too`) and to PyMongo, and checks each saw what was recorded; returns the largest
/// time difference per client.
async fn replay_to_every_client(
    incident: &Incident,
    recorded: &Seen,
    poll_too: bool,
) -> Vec<(String, Duration)> {
    let pymongo = PyMongoProbe::start().await;
    let replay = Replay::start(&incident.text, 1.0).await.unwrap();
    let zero = Instant::now();
    let zero_wall = SystemTime::now();
    let until = zero + incident.end + AFTER_END;
    let polling = async {
        if poll_too {
            Some(engine_view(&replay, "poll", zero, until).await)
        } else {
            None
        }
    };
    let (streaming, polling, pymongo) = tokio::join!(
        engine_view(&replay, "stream", zero, until),
        polling,
        async {
            match pymongo {
                Some(probe) => Some(
                    probe
                        .view(&replay, zero_wall, incident.end + AFTER_END)
                        .await,
                ),
                None => None,
            }
        }
    );
    replay.shutdown().await;
    let mut differences = Vec::new();
    let engines = [("stream", Some(streaming)), ("poll", polling)];
    for (mode, seen) in engines {
        let Some(seen) = seen else { continue };
        let client = format!("our engine ({mode})");
        let largest = recorded.assert_replayed_by(&seen, &client, TOLERANCE);
        differences.push((client, largest));
    }
    if let Some(seen) = pymongo {
        let largest =
            recorded.assert_replayed_by(&seen, "PyMongo", TOLERANCE + PYMONGO_EVENT_DELAY);
        differences.push(("PyMongo".to_owned(), largest));
    }
    eprintln!("largest time difference from the recording per client: {differences:?}");
    differences
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_set_incident_recorded_streaming_is_replayed_faithfully() {
    let dir = scratch("rs");
    let incident = record_replica_set_incident(&dir, "stream").await;
    let recorded = seen_in_recording(&incident.text, incident.end);
    let members: Vec<&String> = recorded.servers.keys().collect();
    assert_eq!(members.len(), 3, "{recorded:#?}");
    // What the script did shows in the recording (a recording that missed it would prove
    // nothing).
    assert_eq!(
        recorded.topology_types(),
        [
            "ReplicaSetNoPrimary",
            "ReplicaSetWithPrimary",
            "ReplicaSetNoPrimary",
            "ReplicaSetWithPrimary"
        ],
        "{recorded:#?}"
    );
    let types = recorded.server_types();
    let with = |kind: &str| {
        types
            .values()
            .filter(|types| types.contains(&kind.to_owned()))
            .count()
    };
    assert_eq!(with("RSPrimary"), 2, "two primaries in turn: {recorded:#?}");
    assert_eq!(
        with("Unknown"),
        2,
        "a frozen, a killed member: {recorded:#?}"
    );
    assert_eq!(
        with(REMOVED),
        1,
        "a member removed by a reconfig: {recorded:#?}"
    );
    replay_to_every_client(&incident, &recorded, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mongos_fleet_recorded_polling_is_replayed_faithfully_to_streaming_clients() {
    let dir = scratch("mongos");
    let incident = record_mongos_incident(&dir, "poll").await;
    let recorded = seen_in_recording(&incident.text, incident.end);
    assert_eq!(
        recorded.topology_types(),
        ["Unknown", "Sharded"],
        "{recorded:#?}"
    );
    let types = recorded.server_types();
    assert_eq!(types.len(), 3, "{recorded:#?}");
    assert_eq!(
        types
            .values()
            .filter(|types| types.contains(&"Unknown".to_owned()))
            .count(),
        2,
        "two mongos lost: {recorded:#?}"
    );
    assert!(
        !incident.text.contains("\"awaited\":true"),
        "polled replies only"
    );
    replay_to_every_client(&incident, &recorded, false).await;
    let _ = std::fs::remove_dir_all(&dir);
}
