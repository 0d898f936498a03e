//! Load-balanced mode: a balancer that cannot be reached, handshakes without `serviceId`,
//! and one address whose hello replies flip between servers (a balancer in front of replica
//! set members).

use std::collections::BTreeSet;

use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{FailureClass, Observations};

/// The balancer does not accept connections.
pub const UNREACHABLE: &str = "lb.unreachable";
/// A handshake through the balancer without `serviceId`.
pub const NO_SERVICE_ID: &str = "lb.no-service-id";
/// Hello replies through one address that come from different servers.
pub const FLIPPING_HELLOS: &str = "lb.flipping-hellos";

fn balancer(observations: &Observations) -> String {
    observations
        .seeds
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// `lb.unreachable`: every connection to the balancer failed.
pub fn unreachable(observations: &Observations) -> Vec<Finding> {
    if !observations.load_balanced() {
        return Vec::new();
    }
    let proof_error = observations.proof.as_ref().and_then(|proof| {
        proof.read.as_ref().err().filter(|f| {
            matches!(
                f.class,
                FailureClass::Connect | FailureClass::Tls | FailureClass::Other
            )
        })
    });
    let hello_errors: Vec<&String> = observations
        .balancer_hellos
        .iter()
        .filter_map(|h| h.as_ref().err())
        .collect();
    let all_hellos_failed = !observations.balancer_hellos.is_empty()
        && hello_errors.len() == observations.balancer_hellos.len();
    let evidence = match (proof_error, all_hellos_failed) {
        (Some(failure), _) => failure.message.clone(),
        (None, true) => hello_errors[0].clone(),
        (None, false) => return Vec::new(),
    };
    let address = balancer(observations);
    vec![Finding::new(
        UNREACHABLE,
        Severity::Error,
        format!("loadBalanced=true and no connection to {address} works: {evidence}"),
        "every operation fails: in load-balanced mode the balancer is the only server",
        "check the balancer's address and port, that it runs, and that it has healthy \
         mongos routers behind it",
    )
    .servers([address])]
}

/// `lb.no-service-id`: a handshake through the balancer answered without `serviceId`.
pub fn no_service_id(observations: &Observations) -> Vec<Finding> {
    if !observations.load_balanced() {
        return Vec::new();
    }
    let proven = observations
        .proof
        .as_ref()
        .is_some_and(|p| matches!(&p.read, Err(f) if f.class == FailureClass::NoServiceId));
    let missing = observations
        .balancer_hellos
        .iter()
        .filter_map(|h| h.as_ref().ok())
        .any(|hello| hello.get("serviceId").is_none());
    if !proven && !missing {
        return Vec::new();
    }
    let address = balancer(observations);
    vec![Finding::new(
        NO_SERVICE_ID,
        Severity::Error,
        format!(
            "a handshake with loadBalanced: true through {address} was answered without serviceId"
        ),
        "drivers refuse the connection: every operation fails. What answers is not a mongos \
         configured for load balancing (or not behind a balancer at all)",
        "put the balancer in front of mongos routers with load balancing enabled \
         (loadBalancerPort); if this address is a replica set member or a plain mongos, \
         remove loadBalanced=true",
    )
    .servers([address])]
}

/// `lb.flipping-hellos`: successive connections to the one address reach servers that
/// identify differently (`me`, set name, electionId): a balancer in front of replica set
/// members.
pub fn flipping_hellos(observations: &Observations) -> Vec<Finding> {
    if !observations.load_balanced() {
        return Vec::new();
    }
    let hellos: Vec<_> = observations
        .balancer_hellos
        .iter()
        .filter_map(|h| h.as_ref().ok())
        .collect();
    let identities: BTreeSet<String> = hellos
        .iter()
        .map(|hello| {
            format!(
                "me={} setName={} electionId={}",
                hello.get_str("me").unwrap_or("-"),
                hello.get_str("setName").unwrap_or("-"),
                hello
                    .get_object_id("electionId")
                    .map(|id| id.to_hex())
                    .unwrap_or_else(|_| "-".to_owned())
            )
        })
        .collect();
    let set_member = hellos.iter().any(|hello| hello.get_str("setName").is_ok());
    if identities.len() < 2 && !set_member {
        return Vec::new();
    }
    let address = balancer(observations);
    let seen: Vec<String> = identities.into_iter().collect();
    vec![Finding::new(
        FLIPPING_HELLOS,
        Severity::Error,
        format!(
            "{} connections to {address} were answered by: {}",
            hellos.len(),
            seen.join("; ")
        ),
        "a load balancer in front of replica set members: writes reach secondaries \
         (NotWritablePrimary) and reads see different data from one operation to the next",
        "connect to the replica set without a balancer (replicaSet=<name>, the members as \
         seeds), or put the balancer in front of mongos routers only",
    )
    .servers([address])]
}

#[cfg(test)]
mod tests {
    use mongo_topology::bson::{doc, oid::ObjectId};

    use super::super::fixtures::{observe, proven};
    use super::*;
    use crate::cli::doctor::observations::{Proof, ProofFailure};
    use mongo_topology::sdam::ServerType;

    fn lb() -> Observations {
        let mut observations = observe("mongodb://lb:27017/?loadBalanced=true");
        observations.proof = Some(proven("lb:27017", ServerType::LoadBalancer));
        let mongos = || doc! {"isWritablePrimary": true, "msg": "isdbgrid", "serviceId": ObjectId::new(), "ok": 1};
        observations.balancer_hellos = vec![Ok(mongos()), Ok(mongos()), Ok(mongos())];
        observations
    }

    fn failure(class: FailureClass) -> Proof {
        let f = ProofFailure {
            class,
            address: None,
            message: "cannot connect to lb:27017: Connection refused".into(),
        };
        Proof {
            read: Err(f.clone()),
            write: Err(f),
        }
    }

    #[test]
    fn an_unreachable_balancer() {
        let mut observations = lb();
        assert!(unreachable(&observations).is_empty());
        observations.proof = Some(failure(FailureClass::Connect));
        let findings = unreachable(&observations);
        assert_eq!(findings[0].servers, ["lb:27017"]);
        assert!(findings[0].evidence.contains("Connection refused"));
        assert!(unreachable(&observe("mongodb://lb:27017/")).is_empty());
    }

    #[test]
    fn a_handshake_without_service_id() {
        let mut observations = lb();
        assert!(no_service_id(&observations).is_empty());
        observations
            .balancer_hellos
            .push(Ok(doc! {"isWritablePrimary": true, "ok": 1}));
        assert_eq!(no_service_id(&observations).len(), 1);
        let mut proven_missing = lb();
        proven_missing.proof = Some(failure(FailureClass::NoServiceId));
        assert_eq!(no_service_id(&proven_missing).len(), 1);
    }

    #[test]
    fn hellos_flipping_between_members() {
        let mut observations = lb();
        assert!(flipping_hellos(&observations).is_empty());
        observations.balancer_hellos = vec![
            Ok(doc! {"me": "a:1", "setName": "rs0", "isWritablePrimary": true}),
            Ok(doc! {"me": "b:1", "setName": "rs0", "secondary": true}),
        ];
        let findings = flipping_hellos(&observations);
        assert!(findings[0].evidence.contains("me=a:1") && findings[0].evidence.contains("me=b:1"));
    }
}
