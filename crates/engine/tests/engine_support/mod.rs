//! Helpers for the live engine's tests against the simulator.
#![allow(dead_code)]

pub mod fake_server;

use std::time::Duration;

use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::{Cluster, ClusterSettings, ServerAddress};
use mongo_topology_sim::{Deployment, DeploymentSpec};

/// Generous bound for things that happen in milliseconds; only hit when a test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub async fn start(spec: DeploymentSpec) -> Deployment {
    Deployment::start(spec).await.expect("start the simulator")
}

/// The address of member `index` as the deployment advertises it.
pub fn address(deployment: &Deployment, index: usize) -> ServerAddress {
    ServerAddress::parse(&deployment.addresses()[index]).expect("simulator address")
}

/// `mongodb://<seeds>/?<options>`.
pub fn uri(seeds: &[ServerAddress], options: &str) -> String {
    let hosts: Vec<String> = seeds.iter().map(ToString::to_string).collect();
    format!("mongodb://{}/?{}", hosts.join(","), options)
}

pub fn connect(uri: &str) -> Cluster {
    Cluster::new(ClusterSettings::parse(uri).expect("valid URI")).expect("cluster starts")
}

pub fn count(description: &TopologyDescription, server_type: ServerType) -> usize {
    description
        .servers
        .values()
        .filter(|server| server.server_type == server_type)
        .count()
}

/// Every server in the description has been checked (none Unknown).
pub fn all_known(description: &TopologyDescription) -> bool {
    !description.servers.is_empty()
        && description
            .servers
            .values()
            .all(|server| server.server_type != ServerType::Unknown)
}

pub fn primary_is(description: &TopologyDescription, address: &ServerAddress) -> bool {
    description
        .primary()
        .is_some_and(|primary| &primary.address == address)
}

/// Waits for `condition`, panicking with the last description after [`PATIENCE`].
pub async fn wait_until(
    cluster: &Cluster,
    what: &str,
    condition: impl FnMut(&TopologyDescription) -> bool,
) -> std::sync::Arc<TopologyDescription> {
    match cluster.wait_for(condition, PATIENCE).await {
        Ok(description) => description,
        Err(error) => panic!(
            "waiting for {what}: {error}; topology: {:#?}",
            cluster.topology()
        ),
    }
}

/// Reads one wire message from `socket` (a hand-written server's side); `None` at the end
/// of the stream or on bytes that do not decode.
pub async fn read_message(
    socket: &mut tokio::net::TcpStream,
) -> Option<mongo_topology::wire::Message> {
    use tokio::io::AsyncReadExt;
    let mut length = [0u8; 4];
    socket.read_exact(&mut length).await.ok()?;
    let total = usize::try_from(i32::from_le_bytes(length)).ok()?;
    let mut bytes = vec![0u8; total];
    bytes.get_mut(..4)?.copy_from_slice(&length);
    socket.read_exact(bytes.get_mut(4..)?).await.ok()?;
    mongo_topology::wire::decode_message(&bytes).ok()
}
