//! The verdicts proven by doing: a read and a write as the application would do them.

use std::time::Duration;

use mongo_topology::bson::doc;
use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::selection::{explain_selection, SelectionCriteria};
use mongo_topology::{
    Cluster, ClusterError, ClusterSettings, ConnectionError, PoolError, ServerAddress,
};

use crate::cli::doctor::observations::{FailureClass, Proof, ProofFailure, ProvenServer};

/// The cause class of a failed check-out or command.
fn classify(error: &ClusterError) -> (FailureClass, Option<ServerAddress>) {
    match error {
        ClusterError::Pool(PoolError::Establishment {
            address, source, ..
        }) => (classify_connection(source), Some(address.clone())),
        ClusterError::Connection { address, source } => {
            (classify_connection(source), Some(address.clone()))
        }
        ClusterError::Pool(PoolError::CheckOut { address, .. }) => {
            (FailureClass::Other, Some(address.clone()))
        }
        ClusterError::Command { address, .. } => (FailureClass::Other, Some(address.clone())),
        ClusterError::ServerSelectionTimeout { .. } | ClusterError::Selection(_) => {
            (FailureClass::NoSuitableServer, None)
        }
        _ => (FailureClass::Other, None),
    }
}

fn classify_connection(error: &ConnectionError) -> FailureClass {
    match error {
        ConnectionError::Tls { .. } => FailureClass::Tls,
        ConnectionError::NoServiceId => FailureClass::NoServiceId,
        ConnectionError::Authentication(_) => FailureClass::Authentication,
        ConnectionError::Dns { .. }
        | ConnectionError::Connect { .. }
        | ConnectionError::Timeout { .. }
        | ConnectionError::Network { .. } => FailureClass::Connect,
        _ => FailureClass::Other,
    }
}

/// Reads and writes as the application would do them: select (only when a server is
/// selectable now), check a connection out of the pool (handshake, authentication), ping.
/// A write also needs a server that reports itself writable.
pub(super) async fn prove(
    cluster: &Cluster,
    settings: &ClusterSettings,
    topology: &TopologyDescription,
    time: Duration,
) -> Proof {
    let read = SelectionCriteria::read(settings.read_preference.clone());
    let write = SelectionCriteria::write();
    // Both at once, as an application's first read and write would be.
    let (read, write) = tokio::join!(
        prove_one(cluster, settings, topology, &read, time, false),
        prove_one(cluster, settings, topology, &write, time, true)
    );
    Proof { read, write }
}

async fn prove_one(
    cluster: &Cluster,
    settings: &ClusterSettings,
    topology: &TopologyDescription,
    criteria: &SelectionCriteria,
    time: Duration,
    write: bool,
) -> Result<ProvenServer, ProofFailure> {
    let explanation = explain_selection(topology, criteria, &settings.selection(), &[]);
    if !explanation.has_selectable_server() {
        return Err(ProofFailure {
            class: FailureClass::NoSuitableServer,
            address: None,
            message: format!("no server is suitable: {explanation}"),
        });
    }
    let attempt = async {
        let mut connection = cluster.checkout(criteria).await?;
        connection.run_command("admin", doc! { "ping": 1 }).await?;
        Ok::<_, ClusterError>(connection)
    };
    let connection = match tokio::time::timeout(time, attempt).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => {
            let (class, address) = classify(&error);
            return Err(ProofFailure {
                class,
                address,
                message: error.to_string(),
            });
        }
        Err(_) => {
            return Err(ProofFailure {
                class: FailureClass::Other,
                address: None,
                message: format!("no answer within {} ms", time.as_millis()),
            })
        }
    };
    let description = connection.description();
    let server = ProvenServer {
        address: connection.address().clone(),
        server_type: description.server_type,
        service_id: connection.service_id(),
    };
    let writable = matches!(
        server.server_type,
        ServerType::RsPrimary
            | ServerType::Mongos
            | ServerType::Standalone
            | ServerType::LoadBalancer
    );
    if write && !writable {
        return Err(ProofFailure {
            class: FailureClass::NotWritable,
            address: Some(server.address.clone()),
            message: format!(
                "{} is {}: it does not accept writes (NotWritablePrimary)",
                server.address, server.server_type
            ),
        });
    }
    Ok(server)
}
