//! The verdicts proven by doing, from the shared proof module (`crate::cli::proof`, also
//! used by `discover` and `select`): a read with the connection string's read preference
//! and a write, each selected, checked out of the pool (handshake, authentication, serviceId
//! through a balancer), pinged, and for a write asked whether it takes writes. Here they
//! become the rules' plain [`Proof`].

use std::time::Duration;

use mongo_topology::sdam::TopologyDescription;
use mongo_topology::selection::{explain_selection, SelectionCriteria};
use mongo_topology::{Cluster, ClusterSettings};

use crate::cli::doctor::observations::{FailureClass, Proof, ProofFailure, ProvenServer};
use crate::cli::proof::{self, Cause, Intent, Verdict};

/// The rules' class of a proof's cause.
fn class_of(cause: &Cause) -> FailureClass {
    match cause {
        Cause::Dns | Cause::Unreachable | Cause::Timeout | Cause::Network => FailureClass::Connect,
        Cause::AuthFailed { .. } | Cause::AuthRequired => FailureClass::Authentication,
        Cause::Tls => FailureClass::Tls,
        Cause::NotWritable => FailureClass::NotWritable,
        Cause::NoServiceId => FailureClass::NoServiceId,
        Cause::ServerSelectionTimeout | Cause::SelectionImpossible => {
            FailureClass::NoSuitableServer
        }
        Cause::Protocol | Cause::CommandFailed | Cause::Pool | Cause::Closed => FailureClass::Other,
    }
}

/// Multi-line explanations (one line per server) as one line: `; ` between the lines.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A verdict as the rules read it.
fn from_verdict(verdict: &Verdict) -> Result<ProvenServer, ProofFailure> {
    match (
        &verdict.cause,
        verdict.passed,
        &verdict.server,
        verdict.server_type,
    ) {
        (None, true, Some(address), Some(server_type)) => Ok(ProvenServer {
            address: address.clone(),
            server_type,
            service_id: verdict.service_id,
        }),
        (cause, _, address, _) => {
            let mut message = one_line(&verdict.evidence.join("; "));
            if let Some(note) = &verdict.note {
                message.push_str(&format!(" ({note})"));
            }
            Err(ProofFailure {
                class: cause.as_ref().map_or(FailureClass::Other, class_of),
                address: address.clone(),
                message,
            })
        }
    }
}

/// Reads and writes as the application would do them, both at once. A verdict whose
/// selection cannot succeed in the description discovery ended with fails at once (an
/// application would wait serverSelectionTimeoutMS for the same outcome); the others get
/// `time` to select.
pub(super) async fn prove(
    cluster: &Cluster,
    settings: &ClusterSettings,
    topology: &TopologyDescription,
    time: Duration,
) -> Proof {
    let read = Intent::Read(settings.read_preference.clone());
    let (read, write) = tokio::join!(
        prove_one(cluster, settings, topology, read, time),
        prove_one(cluster, settings, topology, Intent::Write, time)
    );
    Proof { read, write }
}

async fn prove_one(
    cluster: &Cluster,
    settings: &ClusterSettings,
    topology: &TopologyDescription,
    intent: Intent,
    time: Duration,
) -> Result<ProvenServer, ProofFailure> {
    let criteria = match &intent {
        Intent::Read(read_preference) => SelectionCriteria::read(read_preference.clone()),
        Intent::Write => SelectionCriteria::write(),
    };
    let explanation = explain_selection(topology, &criteria, &settings.selection(), &[]);
    if !explanation.has_selectable_server() {
        return Err(ProofFailure {
            class: FailureClass::NoSuitableServer,
            address: None,
            message: one_line(&format!("no server is suitable: {explanation}")),
        });
    }
    from_verdict(&proof::prove(cluster, &intent, time).await)
}

#[cfg(test)]
mod tests {
    use mongo_topology::bson::oid::ObjectId;
    use mongo_topology::sdam::ServerType;

    use super::*;

    fn verdict(intent: Intent) -> Verdict {
        Verdict {
            intent,
            passed: false,
            server: Some(mongo_topology::ServerAddress::parse("a:1").unwrap()),
            server_type: Some(ServerType::RsSecondary),
            service_id: None,
            cause: None,
            evidence: Vec::new(),
            note: None,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn verdicts_become_the_rules_proof() {
        let mut passed = verdict(Intent::Write);
        passed.passed = true;
        passed.server_type = Some(ServerType::LoadBalancer);
        let id = ObjectId::new();
        passed.service_id = Some(id);
        let proven = from_verdict(&passed).unwrap();
        assert_eq!(proven.service_id, Some(id));
        let mut refused = verdict(Intent::Write);
        refused.cause = Some(Cause::NotWritable);
        refused.evidence = vec!["hello: isWritablePrimary false (a secondary)".into()];
        refused.note = Some("writes fail (NotWritablePrimary)".into());
        let failure = from_verdict(&refused).unwrap_err();
        assert_eq!(failure.class, FailureClass::NotWritable);
        assert!(
            failure.message.contains("NotWritablePrimary"),
            "{}",
            failure.message
        );
        let mut auth = verdict(Intent::Write);
        auth.cause = Some(Cause::AuthFailed {
            mechanism: "SCRAM-SHA-256".into(),
            user: "app".into(),
            source: "admin".into(),
        });
        assert_eq!(
            from_verdict(&auth).unwrap_err().class,
            FailureClass::Authentication
        );
    }
}
