//! The flight recorder (`Cluster::with_recording`, `docs/recording.md`) records a failover on
//! the simulator: a header, hello replies of every member, RTT samples, and the SDAM events in
//! the order the client's subscribers saw them; never the password.

mod engine_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use engine_support::*;
use mongo_topology::bson::doc;
use mongo_topology::sdam::{SdamEvent, TopologyType};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{
    Cluster, ClusterSettings, EventKind, EventRecvError, RecordingSettings, ServerAddress,
};
use mongo_topology_sim::{DeploymentSpec, MemberRef, SimUser};
use serde_json::Value;

const PASSWORD: &str = "s3cret-pw";

fn recording_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("engine-recording-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("failover.ndjson")
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect()
}

/// Waits until the file holds a line `wanted` accepts (the writer runs on its own thread).
async fn wait_for_line(path: &Path, what: &str, wanted: impl Fn(&Value) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if read_lines(path).iter().any(&wanted) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} in the recording"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The (address, server type) and topology type changes, as one sequence of words.
fn changes_of_event(event: &SdamEvent) -> Option<String> {
    match event {
        SdamEvent::ServerDescriptionChanged { address, new, .. } => {
            Some(format!("{address} {}", new.server_type))
        }
        SdamEvent::TopologyDescriptionChanged { new, .. } => {
            Some(format!("topology {}", new.topology_type.spec_name()))
        }
        _ => None,
    }
}

fn changes_of_line(line: &Value) -> Option<String> {
    match line["event"].as_str()? {
        "server_description_changed" => Some(format!(
            "{} {}",
            line["address"].as_str()?,
            line["new"]["type"].as_str()?
        )),
        "topology_description_changed" => {
            Some(format!("topology {}", line["new"]["type"].as_str()?))
        }
        _ => None,
    }
}

#[tokio::test]
async fn a_failover_is_recorded_in_order_without_secrets() {
    let sim = start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0)
            .with_user(SimUser::parse(&format!("alice:{PASSWORD}")).unwrap()),
    )
    .await;
    let members: Vec<ServerAddress> = (0..3).map(|index| address(&sim, index)).collect();
    let uri = format!(
        "mongodb://alice:{PASSWORD}@{}/?replicaSet=rs0&authSource=admin&heartbeatFrequencyMS=500",
        members[0]
    );
    let path = recording_path("failover");
    let mut recording = RecordingSettings::new(&path);
    recording.connection_string = Some(uri.clone());
    let (cluster, mut events) =
        Cluster::with_events_and_recording(ClusterSettings::parse(&uri).unwrap(), &recording)
            .unwrap();
    wait_until(&cluster, "3 known members", |t| {
        t.servers.len() == 3 && all_known(t) && primary_is(t, &members[0])
    })
    .await;
    // An authenticated command: the pool's handshake carries speculative authentication.
    cluster
        .run_command("test", doc! { "ping": 1 }, &SelectionCriteria::write())
        .await
        .expect("an authenticated ping");

    sim.stepdown().unwrap();
    wait_until(&cluster, "no primary", |t| {
        t.topology_type == TopologyType::ReplicaSetNoPrimary
    })
    .await;
    sim.elect(&MemberRef::Index(2)).unwrap();
    wait_until(&cluster, "the new primary", |t| primary_is(t, &members[2])).await;
    wait_for_line(&path, "RTT sample", |line| line["type"] == "rtt").await;
    cluster.close().await;
    wait_for_line(&path, "topology_closed event", |line| {
        line["event"] == "topology_closed"
    })
    .await;

    let mut seen = Vec::new();
    loop {
        match events.recv().await {
            Ok(event) => {
                if let EventKind::Sdam(event) = &event.kind {
                    seen.extend(changes_of_event(event));
                }
            }
            Err(EventRecvError::Missed(count)) => panic!("the test missed {count} events"),
            Err(_) => break,
        }
    }

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(PASSWORD), "the password is in the recording");
    assert!(!text.contains("speculativeAuthenticate"));
    let lines = read_lines(&path);
    let header = &lines[0];
    assert_eq!(header["format"], "mongo-topology-recording");
    assert_eq!(header["version"], 1);
    assert_eq!(header["settings"]["heartbeatFrequencyMS"], 500);
    assert_eq!(header["settings"]["authenticated"], true);
    assert!(
        header["connection_string"]
            .as_str()
            .unwrap()
            .starts_with("mongodb://alice:*****@"),
        "{header}"
    );

    let records = &lines[1..];
    let offsets: Vec<u64> = records
        .iter()
        .map(|r| r["t_us"].as_u64().unwrap())
        .collect();
    assert!(
        offsets.windows(2).all(|pair| pair[0] <= pair[1]),
        "records are in time order"
    );
    for member in &members {
        let member = member.to_string();
        assert!(
            records.iter().any(|r| r["type"] == "hello"
                && r["address"] == member.as_str()
                && r["reply"]["setName"] == "rs0"),
            "no hello reply of {member}"
        );
    }

    let recorded: Vec<String> = records
        .iter()
        .filter(|r| r["type"] == "sdam")
        .filter_map(changes_of_line)
        .collect();
    assert_eq!(recorded, seen, "the recorded SDAM events are the client's");
    // The first of `change` at or after `from`.
    let position = |change: String, from: usize| {
        recorded
            .iter()
            .skip(from)
            .position(|c| *c == change)
            .map(|found| found + from)
            .unwrap_or_else(|| panic!("no {change} after #{from} in {recorded:#?}"))
    };
    let first_primary = position(format!("{} RSPrimary", members[0]), 0);
    let steps_down = position(format!("{} RSSecondary", members[0]), first_primary);
    let no_primary = position("topology ReplicaSetNoPrimary".to_owned(), steps_down);
    let new_primary = position(format!("{} RSPrimary", members[2]), no_primary);
    let with_primary = position("topology ReplicaSetWithPrimary".to_owned(), new_primary);
    assert_eq!(
        no_primary,
        steps_down + 1,
        "the old primary's step-down leaves no primary: {recorded:#?}"
    );
    assert_eq!(
        with_primary,
        new_primary + 1,
        "the new primary's report gives one: {recorded:#?}"
    );
    sim.shutdown().await;
}
