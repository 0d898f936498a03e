//! The faithful-replay proof's shared part (tests/replay_faithful.rs, and the official Rust
//! driver's interop/rust-driver/tests/replay.rs, which includes this file by path): a
//! scripted incident on the simulator recorded with our engine, what a client saw (each
//! address's server types and the topology types, in order, with their times), read from
//! a recording or collected from a client during a replay, and their comparison.

#![allow(dead_code)] // Each including test uses a part.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mongo_topology::sdam::{SdamEvent, ServerType, TopologyDescription, TopologyType};
use mongo_topology::{
    Cluster, ClusterSettings, EventKind, EventRecvError, EventSubscriber, RecordingSettings,
    ServerAddress,
};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use serde_json::Value;
use tokio::time::Instant;

/// How long each stage of the incident lasts once reached: two checks of a polling client.
/// Changes the script makes less than a few milliseconds apart would be seen in either
/// order by clients that are not the recording one (scheduling decides), so every stage
/// lasts this long.
pub const STAGE: Duration = Duration::from_millis(1000);

/// How long the incident script waits for a stage to be reached.
const PATIENCE: Duration = Duration::from_secs(15);

/// The client settings of the recording and of the replaying clients: checks every 500 ms
/// (the drivers' minimum) and a 1 s connect timeout (how long a frozen member takes to be
/// noticed).
pub const TIMING: &str = "heartbeatFrequencyMS=500&connectTimeoutMS=1000";

/// How far a replaying client's change may be from the recorded one: a check interval (a
/// polling client sees a change at its next check), a connect timeout (a frozen member),
/// and the scheduling of a loaded 2-core machine.
pub const TOLERANCE: Duration = Duration::from_millis(2500);

/// How long after the incident's end a replaying client is still watched: changes it
/// sees late (a polling client, a driver's event queue) still count; the replay keeps the
/// recording's last state meanwhile, so nothing new happens.
pub const AFTER_END: Duration = Duration::from_millis(2000);

/// The pseudo server type of a server removed from the topology (ServerClosedEvent).
pub const REMOVED: &str = "(removed)";

/// What a client saw: each address's server types in order (repeats dropped; a removal
/// is [`REMOVED`]) and the topology types in order (repeats dropped), each with its time
/// since the client started.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Address → (server type, when).
    pub servers: BTreeMap<String, Vec<(String, Duration)>>,
    /// (topology type, when).
    pub topology: Vec<(String, Duration)>,
}

impl Seen {
    /// Notes that `address` is of `server_type` from `at` on.
    pub fn server(&mut self, address: &str, server_type: &str, at: Duration) {
        let types = self.servers.entry(address.to_lowercase()).or_default();
        if types.last().map(|(kind, _)| kind.as_str()) != Some(server_type) {
            types.push((server_type.to_owned(), at));
        }
    }

    /// Notes that the topology is of `topology_type` from `at` on.
    pub fn topology(&mut self, topology_type: &str, at: Duration) {
        if self.topology.last().map(|(kind, _)| kind.as_str()) != Some(topology_type) {
            self.topology.push((topology_type.to_owned(), at));
        }
    }

    /// Each address's types without their times.
    pub fn server_types(&self) -> BTreeMap<String, Vec<String>> {
        self.servers
            .iter()
            .map(|(address, types)| {
                let types = types.iter().map(|(kind, _)| kind.clone()).collect();
                (address.clone(), types)
            })
            .collect()
    }

    /// The topology types without their times.
    pub fn topology_types(&self) -> Vec<String> {
        self.topology.iter().map(|(kind, _)| kind.clone()).collect()
    }

    /// Keeps what was seen before `end` only.
    pub fn until(mut self, end: Duration) -> Seen {
        for types in self.servers.values_mut() {
            types.retain(|(_, at)| *at < end);
        }
        self.servers.retain(|_, types| !types.is_empty());
        self.topology.retain(|(_, at)| *at < end);
        self
    }

    /// Checks that `replayed` (what `client` saw during the replay) shows the same
    /// sequences as `self` (the recording), each change within `tolerance` of the recorded
    /// one; returns the largest time difference.
    pub fn assert_replayed_by(
        &self,
        replayed: &Seen,
        client: &str,
        tolerance: Duration,
    ) -> Duration {
        assert_eq!(
            replayed.server_types(),
            self.server_types(),
            "{client}: each address's server types, as recorded\nrecorded: {self:#?}\nreplayed: {replayed:#?}"
        );
        assert_eq!(
            replayed.topology_types(),
            self.topology_types(),
            "{client}: the topology types, as recorded\nrecorded: {self:#?}\nreplayed: {replayed:#?}"
        );
        let pairs = self
            .servers
            .iter()
            .flat_map(|(address, types)| types.iter().zip(&replayed.servers[address]))
            .chain(self.topology.iter().zip(&replayed.topology));
        let mut largest = Duration::ZERO;
        for ((kind, recorded), (_, seen)) in pairs {
            let difference = recorded.abs_diff(*seen);
            assert!(
                difference <= tolerance,
                "{client}: {kind} seen at {seen:?}, recorded at {recorded:?}\nrecorded: {self:#?}\nreplayed: {replayed:#?}"
            );
            largest = largest.max(difference);
        }
        largest
    }
}

/// `uri` (a replay's connection string, ending in `?` when it has no options) with
/// `options` added.
pub fn with_options(uri: &str, options: &str) -> String {
    if uri.ends_with('?') {
        format!("{uri}{options}")
    } else {
        format!("{uri}&{options}")
    }
}

/// What the recording client saw, from the SDAM records of a recording (`text`), up to
/// `end` (times since the recording's start).
pub fn seen_in_recording(text: &str, end: Duration) -> Seen {
    let mut seen = Seen::default();
    for line in text.lines().skip(1) {
        let record: Value = serde_json::from_str(line).expect("a recording line is JSON");
        let at = Duration::from_micros(record["t_us"].as_u64().unwrap_or(0));
        let address = record["address"].as_str().unwrap_or("");
        match record["event"].as_str() {
            Some("server_description_changed") => {
                seen.server(address, record["new"]["type"].as_str().unwrap_or(""), at)
            }
            Some("server_closed") => seen.server(address, REMOVED, at),
            Some("topology_description_changed") => {
                seen.topology(record["new"]["type"].as_str().unwrap_or(""), at)
            }
            _ => {}
        }
    }
    seen.until(end)
}

/// Adds our engine's SDAM `event` (at `at` since the client started) to `seen`, the
/// address renamed by `rename` (replay port → recorded address).
pub fn add_event(
    seen: &mut Seen,
    event: &SdamEvent,
    at: Duration,
    rename: &impl Fn(&ServerAddress) -> String,
) {
    match event {
        SdamEvent::ServerDescriptionChanged { address, new, .. } => {
            seen.server(&rename(address), &new.server_type.to_string(), at)
        }
        SdamEvent::ServerClosed { address, .. } => seen.server(&rename(address), REMOVED, at),
        SdamEvent::TopologyDescriptionChanged { new, .. } => {
            seen.topology(new.topology_type.spec_name(), at)
        }
        _ => {}
    }
}

/// Collects what our engine's `events` report until `until`, times from `zero`.
pub async fn collect_engine(
    events: &mut EventSubscriber,
    zero: Instant,
    until: Instant,
    rename: impl Fn(&ServerAddress) -> String,
) -> Seen {
    let mut seen = Seen::default();
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = tokio::time::sleep_until(until) => return seen,
        };
        match event {
            Ok(event) => {
                if event.at >= until {
                    return seen;
                }
                if let EventKind::Sdam(sdam) = &event.kind {
                    let at = event.at.saturating_duration_since(zero);
                    add_event(&mut seen, sdam, at, &rename);
                }
            }
            Err(EventRecvError::Closed) => return seen,
            Err(error) => panic!("events: {error}"),
        }
    }
}

/// A recorded incident: the recording's text, and when (since its start) the incident
/// ended (what follows is the client closing).
pub struct Incident {
    /// The whole recording file.
    pub text: String,
    /// The end of the incident, since the recording's start.
    pub end: Duration,
}

async fn wait_until(
    cluster: &Cluster,
    what: &str,
    condition: impl Fn(&TopologyDescription) -> bool,
) {
    if cluster.wait_for(condition, PATIENCE).await.is_err() {
        panic!(
            "the recording client never saw: {what}\n{:#?}",
            cluster.topology()
        );
    }
}

fn type_of(topology: &TopologyDescription, address: &str) -> Option<ServerType> {
    topology
        .servers
        .iter()
        .find(|(known, _)| known.to_string() == address)
        .map(|(_, server)| server.server_type)
}

/// Records, with our engine monitoring in `mode` (`stream` or `poll`), a scripted incident
/// on a simulated 3-member replica set: discovery; a stepdown and an election; member 2
/// frozen (silent: its checks time out) and thawed; member 0 killed and restarted;
/// member 2 lagging 30 s behind; member 2 killed, removed from the config (a reconfig),
/// restarted and added back (another).
pub async fn record_replica_set_incident(dir: &Path, mode: &str) -> Incident {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .expect("the simulator starts");
    let members = sim.addresses();
    let member = |index: usize| MemberRef::Index(index);
    let uri = format!(
        "mongodb://{}/?replicaSet=rs0&{TIMING}&serverMonitoringMode={mode}",
        members[0]
    );
    let path = dir.join(format!("replica-set-{mode}.ndjson"));
    let cluster = Cluster::with_recording(
        ClusterSettings::parse(&uri).expect("the URI parses"),
        &RecordingSettings::new(&path),
    )
    .expect("the recording starts");
    let started = Instant::now();
    let is = |index: usize, server_type: ServerType| {
        let address = members[index].clone();
        move |t: &TopologyDescription| type_of(t, &address) == Some(server_type)
    };
    wait_until(&cluster, "3 known members", |t| {
        t.servers.len() == 3
            && t.servers
                .values()
                .all(|server| server.server_type != ServerType::Unknown)
            && t.topology_type == TopologyType::ReplicaSetWithPrimary
    })
    .await;
    tokio::time::sleep(STAGE).await;
    sim.stepdown().expect("stepdown");
    wait_until(&cluster, "no primary", |t| {
        t.topology_type == TopologyType::ReplicaSetNoPrimary
    })
    .await;
    tokio::time::sleep(STAGE).await;
    sim.elect(&member(1)).expect("elect");
    wait_until(&cluster, "member 1 primary", is(1, ServerType::RsPrimary)).await;
    tokio::time::sleep(STAGE).await;
    sim.set_frozen(&member(2), true).expect("freeze");
    wait_until(&cluster, "member 2 unknown", is(2, ServerType::Unknown)).await;
    tokio::time::sleep(STAGE).await;
    sim.set_frozen(&member(2), false).expect("thaw");
    wait_until(&cluster, "member 2 back", is(2, ServerType::RsSecondary)).await;
    tokio::time::sleep(STAGE).await;
    sim.kill(&member(0)).await.expect("kill");
    wait_until(&cluster, "member 0 unknown", is(0, ServerType::Unknown)).await;
    tokio::time::sleep(STAGE).await;
    sim.restart(&member(0)).await.expect("restart");
    wait_until(&cluster, "member 0 back", is(0, ServerType::RsSecondary)).await;
    sim.set_lag(&member(2), Duration::from_secs(30))
        .expect("lag");
    tokio::time::sleep(STAGE).await;
    sim.kill(&member(2)).await.expect("kill");
    wait_until(&cluster, "member 2 unknown", is(2, ServerType::Unknown)).await;
    tokio::time::sleep(STAGE).await;
    sim.reconfig(false, &member(2)).expect("remove");
    let two = members[2].clone();
    wait_until(&cluster, "member 2 removed", move |t| {
        type_of(t, &two).is_none()
    })
    .await;
    tokio::time::sleep(STAGE).await;
    sim.restart(&member(2)).await.expect("restart");
    sim.reconfig(true, &member(2)).expect("add");
    wait_until(&cluster, "member 2 added", is(2, ServerType::RsSecondary)).await;
    tokio::time::sleep(STAGE).await;
    let end = started.elapsed();
    finish(cluster, sim, &path, end).await
}

/// Records, with our engine monitoring in `mode`, a fleet of 3 mongos losing two of them
/// (killed one after the other) and getting one back.
pub async fn record_mongos_incident(dir: &Path, mode: &str) -> Incident {
    let sim = Deployment::start(DeploymentSpec::sharded(3))
        .await
        .expect("the simulator starts");
    let uri = format!(
        "{}/?{TIMING}&serverMonitoringMode={mode}",
        sim.connection_string().trim_end_matches('/')
    );
    let path = dir.join(format!("mongos-{mode}.ndjson"));
    let cluster = Cluster::with_recording(
        ClusterSettings::parse(&uri).expect("the URI parses"),
        &RecordingSettings::new(&path),
    )
    .expect("the recording starts");
    let started = Instant::now();
    let mongos = |count: usize| {
        move |t: &TopologyDescription| {
            t.servers
                .values()
                .filter(|server| server.server_type == ServerType::Mongos)
                .count()
                == count
        }
    };
    wait_until(&cluster, "3 mongos", mongos(3)).await;
    tokio::time::sleep(STAGE).await;
    sim.kill(&MemberRef::Index(0)).await.expect("kill");
    wait_until(&cluster, "2 mongos", mongos(2)).await;
    tokio::time::sleep(STAGE).await;
    sim.kill(&MemberRef::Index(1)).await.expect("kill");
    wait_until(&cluster, "1 mongos", mongos(1)).await;
    tokio::time::sleep(STAGE).await;
    sim.restart(&MemberRef::Index(0)).await.expect("restart");
    wait_until(&cluster, "2 mongos", mongos(2)).await;
    tokio::time::sleep(STAGE).await;
    let end = started.elapsed();
    finish(cluster, sim, &path, end).await
}

async fn finish(cluster: Cluster, sim: Deployment, path: &Path, end: Duration) -> Incident {
    cluster.close().await;
    sim.shutdown().await;
    // The writer thread finishes after the cluster: wait for the last event.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains("\"topology_closed\"") {
            return Incident { text, end };
        }
        assert!(Instant::now() < deadline, "the recording ends");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
