//! A recorded failover (`Cluster::with_recording`) served again by the simulator's replay
//! (`mongo_topology_sim::replay`): the engine pointed at the replay sees the same sequence
//! of server types per address and the same sequence of topology types as while recording.

mod engine_support;

use std::collections::BTreeMap;
use std::time::Duration;

use engine_support::*;
use mongo_topology::sdam::{SdamEvent, TopologyType};
use mongo_topology::{
    Cluster, ClusterSettings, EventKind, EventRecvError, EventSubscriber, RecordingSettings,
    ServerAddress,
};
use mongo_topology_sim::replay::Replay;
use mongo_topology_sim::{DeploymentSpec, MemberRef};
use serde_json::Value;

/// How long each stage of the incident lasts: several polls of the replaying client.
const STAGE: Duration = Duration::from_millis(1500);

/// What the client saw: each address's server types in order (repeats dropped), and the
/// topology types in order (repeats dropped).
#[derive(Debug, Default, PartialEq)]
struct Seen {
    servers: BTreeMap<String, Vec<String>>,
    topology: Vec<String>,
}

impl Seen {
    fn server(&mut self, address: String, server_type: String) {
        let types = self.servers.entry(address).or_default();
        if types.last() != Some(&server_type) {
            types.push(server_type);
        }
    }

    fn topology(&mut self, topology_type: String) {
        if self.topology.last() != Some(&topology_type) {
            self.topology.push(topology_type);
        }
    }

    fn add(&mut self, event: &SdamEvent, rename: impl Fn(&ServerAddress) -> String) {
        match event {
            SdamEvent::ServerDescriptionChanged { address, new, .. } => {
                self.server(rename(address), new.server_type.to_string())
            }
            SdamEvent::TopologyDescriptionChanged { new, .. } => {
                self.topology(new.topology_type.spec_name().to_owned())
            }
            _ => {}
        }
    }
}

fn seen_in_recording(text: &str) -> Seen {
    let mut seen = Seen::default();
    for line in text.lines().skip(1) {
        let record: Value = serde_json::from_str(line).unwrap();
        match record["event"].as_str() {
            Some("server_description_changed") => seen.server(
                record["address"].as_str().unwrap().to_owned(),
                record["new"]["type"].as_str().unwrap().to_owned(),
            ),
            Some("topology_description_changed") => {
                seen.topology(record["new"]["type"].as_str().unwrap().to_owned())
            }
            _ => {}
        }
    }
    seen
}

/// Drains what `events` holds now into `seen`.
fn drain(
    events: &mut EventSubscriber,
    seen: &mut Seen,
    rename: &impl Fn(&ServerAddress) -> String,
) {
    loop {
        match events.try_recv() {
            Ok(Some(event)) => {
                if let EventKind::Sdam(event) = &event.kind {
                    seen.add(event, rename);
                }
            }
            Ok(None) | Err(EventRecvError::Closed) => return,
            Err(error) => panic!("{error}"),
        }
    }
}

#[tokio::test]
async fn a_replayed_failover_shows_the_engine_the_same_changes() {
    let sim = start(DeploymentSpec::replica_set("rs0", 3, 0, 0)).await;
    let members: Vec<ServerAddress> = (0..3).map(|index| address(&sim, index)).collect();
    let options = "replicaSet=rs0&heartbeatFrequencyMS=500&serverMonitoringMode=poll";
    let uri = format!("mongodb://{}/?{options}", members[0]);
    let dir = std::env::temp_dir().join(format!("engine-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("failover.ndjson");
    let cluster = Cluster::with_recording(
        ClusterSettings::parse(&uri).unwrap(),
        &RecordingSettings::new(&path),
    )
    .unwrap();
    wait_until(&cluster, "3 known members", |t| {
        t.servers.len() == 3 && all_known(t) && primary_is(t, &members[0])
    })
    .await;
    tokio::time::sleep(STAGE).await;
    sim.stepdown().unwrap();
    wait_until(&cluster, "no primary", |t| {
        t.topology_type == TopologyType::ReplicaSetNoPrimary
    })
    .await;
    tokio::time::sleep(STAGE).await;
    sim.elect(&MemberRef::Index(2)).unwrap();
    wait_until(&cluster, "the new primary", |t| primary_is(t, &members[2])).await;
    tokio::time::sleep(STAGE).await;
    cluster.close().await;
    sim.shutdown().await;
    // The writer thread finishes after the cluster: wait for the last event.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let text = loop {
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains("\"topology_closed\"") {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "the recording ends");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut recorded = seen_in_recording(&text);
    // Closing is not part of the incident (the replaying client closes at another time).
    recorded.topology.retain(|t| t != "Unknown");
    let last_offset = text
        .lines()
        .last()
        .and_then(|line| serde_json::from_str::<Value>(line).ok())
        .and_then(|line| line["t_us"].as_u64())
        .unwrap();

    let replay = Replay::start(&text, 1.0).await.unwrap();
    let replay_uri = format!(
        "{}&heartbeatFrequencyMS=500&serverMonitoringMode=poll",
        replay.connection_string()
    );
    let (client, mut events) =
        Cluster::with_events(ClusterSettings::parse(&replay_uri).unwrap()).unwrap();
    let rename = |address: &ServerAddress| {
        replay
            .recorded(&address.to_string())
            .unwrap_or("unmapped")
            .to_owned()
    };
    let mut replayed = Seen::default();
    let until = tokio::time::Instant::now() + Duration::from_micros(last_offset) + STAGE;
    while tokio::time::Instant::now() < until {
        drain(&mut events, &mut replayed, &rename);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drain(&mut events, &mut replayed, &rename);
    client.close().await;
    replay.shutdown().await;

    let expected_primaries = [members[0].to_string(), members[2].to_string()];
    assert_eq!(
        recorded.servers[&expected_primaries[0]],
        ["RSPrimary", "RSSecondary"],
        "the recording: {recorded:#?}"
    );
    assert_eq!(
        recorded.topology,
        [
            "ReplicaSetNoPrimary",
            "ReplicaSetWithPrimary",
            "ReplicaSetNoPrimary",
            "ReplicaSetWithPrimary"
        ],
        "the recording: {recorded:#?}"
    );
    assert_eq!(replayed, recorded, "the replay shows what was recorded");
}
