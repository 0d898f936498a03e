//! Proof by the most used client we did not write: the Node.js driver (npm `mongodb`, pinned
//! by tests/node/package-lock.json, installed by scripts/node-driver) against simulated
//! deployments: replica set discovery and a failover, TLS with the simulator's CA, SCRAM
//! (SHA-256, SHA-1, negotiated; a wrong password refused), and load-balanced mode. Each
//! probe in tests/node/ prints one JSON result line these tests assert on.
//!
//! Without a loadable driver the tests fail when MONGO_TOPOLOGY_REQUIRE_NODE=1 or CI is set
//! (scripts/test sets it), and are skipped with a message otherwise.

mod node_support;

use std::collections::BTreeMap;

use mongo_topology_sim::{
    Deployment, DeploymentSpec, MemberRef, ScramMechanism, SimTls, SimTlsOptions, SimUser,
};
use node_support::{node_driver_available, pinned_version, run_probe};
use serde_json::Value;

fn no_requests(request: &str) -> Result<(), String> {
    Err(format!("unexpected request {request:?}"))
}

/// The server types by address of a probe's `SdamLog` summary.
fn server_types(summary: &Value) -> BTreeMap<String, String> {
    summary["servers"]
        .as_object()
        .unwrap_or_else(|| panic!("no servers in {summary}"))
        .iter()
        .map(|(address, kind)| (address.clone(), kind.as_str().unwrap_or("?").to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_discovers_a_replica_set_and_writes_again_after_a_failover() {
    if !node_driver_available() {
        return;
    }
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let members = deployment.addresses();
    let args = [members[0].clone(), "rs0".to_owned()];
    let result = run_probe("replset.mjs", &args, |request| match request {
        "stepdown-elect-1" => {
            deployment.stepdown().map_err(|e| e.to_string())?;
            deployment
                .elect(&MemberRef::Index(1))
                .map_err(|e| e.to_string())
        }
        other => Err(format!("unknown request {other:?}")),
    })
    .await;
    assert_eq!(result["driver_version"], pinned_version().as_str());

    // Discovery from one seed: the whole set, the first member primary.
    let discovered = &result["discovered"];
    assert_eq!(
        discovered["topology_type"], "ReplicaSetWithPrimary",
        "{result}"
    );
    let expected: BTreeMap<String, String> = members
        .iter()
        .zip(["RSPrimary", "RSSecondary", "RSSecondary"])
        .map(|(address, kind)| (address.clone(), kind.to_owned()))
        .collect();
    assert_eq!(server_types(discovered), expected, "{result}");
    assert_eq!(result["first_primary"], members[0].as_str(), "{result}");
    assert_eq!(result["ping_ok"], 1.0, "{result}");
    assert_eq!(result["first_insert_acknowledged"], true, "{result}");
    assert!(
        result["server_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("7.0.")),
        "{result}"
    );

    // Failover: the new primary is the elected member, and the application's writes
    // succeed again within a bound generous for a loaded 2-core machine.
    let failover = &result["failover"];
    assert_eq!(failover["new_primary"], members[1].as_str(), "{result}");
    let write_again_ms = failover["write_again_ms"].as_f64().unwrap();
    assert!(write_again_ms < 5_000.0, "{result}");
    let after = server_types(&result["after"]);
    assert_eq!(after[&members[1]], "RSPrimary", "{result}");
    assert_eq!(after[&members[0]], "RSSecondary", "{result}");

    // The driver streamed (awaited hellos) and no heartbeat failed.
    let heartbeats = &result["after"]["heartbeats"];
    assert!(heartbeats["awaited"].as_u64().unwrap() > 0, "{result}");
    assert_eq!(heartbeats["failed"], 0, "{result}");
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_verifies_the_simulators_tls_certificates() {
    if !node_driver_available() {
        return;
    }
    let tls = SimTls::generate(SimTlsOptions::default()).unwrap();
    let other = SimTls::generate(SimTlsOptions::default()).unwrap();
    let deployment =
        Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0).with_tls(tls.clone()))
            .await
            .unwrap();
    let dir = std::env::temp_dir().join(format!("mongo-topology-node-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, other_ca) = (dir.join("ca.pem"), dir.join("other.pem"));
    tls.write_ca_file(&ca).unwrap();
    other.write_ca_file(&other_ca).unwrap();
    let args = [
        format!("localhost:{}", deployment.ports()[0]),
        "rs0".to_owned(),
        ca.display().to_string(),
        other_ca.display().to_string(),
    ];
    let result = run_probe("tls.mjs", &args, no_requests).await;
    assert_eq!(result["ping_ok"], 1.0, "{result}");
    let discovered = &result["discovered"];
    assert_eq!(
        discovered["topology_type"], "ReplicaSetWithPrimary",
        "{result}"
    );
    let mut kinds: Vec<String> = server_types(discovered).into_values().collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["RSPrimary", "RSSecondary", "RSSecondary"],
        "{result}"
    );
    // Another CA: no server selected, and the reason is the certificate.
    let other_ca = &result["other_ca"];
    assert_eq!(other_ca["accepted"], false, "{result}");
    assert_eq!(
        other_ca["error"]["name"], "MongoServerSelectionError",
        "{result}"
    );
    let reason = other_ca["reason"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(reason.contains("certificate"), "{result}");
    deployment.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_authenticates_with_scram_and_is_refused_a_wrong_password() {
    if !node_driver_available() {
        return;
    }
    let spec = DeploymentSpec::standalone()
        .with_user(SimUser::new("alice", "p@ss:w0rd"))
        .with_scram_mechanisms(&[ScramMechanism::Sha1, ScramMechanism::Sha256]);
    let deployment = Deployment::start(spec).await.unwrap();
    let args = [
        deployment.addresses()[0].clone(),
        "alice".to_owned(),
        "p@ss:w0rd".to_owned(),
    ];
    let result = run_probe("auth.mjs", &args, no_requests).await;
    let results = &result["results"];
    // Unauthenticated: the server refuses `find` with Unauthorized (13).
    assert_eq!(results["unauthenticated"]["ok"], 0, "{result}");
    assert_eq!(results["unauthenticated"]["error"]["code"], 13, "{result}");
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1", "negotiated"] {
        assert_eq!(results[mechanism]["ok"], 1.0, "{mechanism}: {result}");
    }
    // A wrong password: AuthenticationFailed (18), surfaced as the driver's auth error.
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-1"] {
        let refused = &results[format!("wrong password {mechanism}").as_str()];
        assert_eq!(refused["ok"], 0, "{mechanism}: {result}");
        assert_eq!(refused["error"]["code"], 18, "{mechanism}: {result}");
        assert_eq!(
            refused["error"]["name"], "MongoServerError",
            "{mechanism}: {result}"
        );
    }
    let counts = deployment.auth_counts();
    assert!(counts.successes >= 3, "{counts:?}");
    assert!(counts.failures >= 2, "{counts:?}");
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_works_through_the_simulated_load_balancer() {
    if !node_driver_available() {
        return;
    }
    let deployment = Deployment::start(DeploymentSpec::sharded(2).with_load_balancer(0))
        .await
        .unwrap();
    let uri = deployment.load_balancer_connection_string().unwrap();
    let lb = deployment.load_balancer_address().unwrap();
    let result = run_probe("load_balanced.mjs", &[uri], no_requests).await;
    assert_eq!(result["acknowledged"], 8, "{result}");
    assert_eq!(result["ping_ok"], 1.0, "{result}");
    let sdam = &result["sdam"];
    assert_eq!(sdam["topology_type"], "LoadBalanced", "{result}");
    let expected: BTreeMap<String, String> = [(lb, "LoadBalancer".to_owned())].into();
    assert_eq!(server_types(sdam), expected, "{result}");
    // No monitoring through a load balancer: no heartbeat at all.
    assert_eq!(sdam["heartbeats"]["succeeded"], 0, "{result}");
    assert!(deployment.load_balancer_counts().connections >= 1);
    deployment.shutdown().await;
}
