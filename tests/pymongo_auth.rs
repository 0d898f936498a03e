//! Proof of the simulator's SCRAM server side by a client we did not write: PyMongo
//! authenticates with SCRAM-SHA-256, SCRAM-SHA-1 and a negotiated mechanism, is refused
//! with a wrong password and an unknown user, and cannot run `find` unauthenticated.
//!
//! The interpreter comes from MONGO_TOPOLOGY_PYTHON (fallback `target/pyenv/bin/python`,
//! then `python3`). Without an importable PyMongo the test fails when
//! MONGO_TOPOLOGY_REQUIRE_PYMONGO=1 or CI is set, and is skipped with a message otherwise.

mod pymongo_support;

use std::path::PathBuf;

use mongo_topology_sim::{Deployment, DeploymentSpec, ServerVersion, SimUser};
use pymongo_support::{pymongo_available, python};

async fn pymongo_authenticates(version: ServerVersion) {
    if !pymongo_available() {
        return;
    }
    let spec = DeploymentSpec::standalone()
        .with_version(version)
        .with_user(SimUser::new("alice", "p@ss:w0rd"));
    let deployment = Deployment::start(spec).await.unwrap();
    let address = deployment.addresses()[0].clone();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pymongo/auth.py");
    let output = tokio::process::Command::new(python())
        .arg(script)
        .args([address.as_str(), "alice", "p@ss:w0rd"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim_end().ends_with("PASSED"),
        "PyMongo against {version}:\n{stdout}\n{stderr}"
    );
    let counts = deployment.auth_counts();
    // 3 good logins + 2 wrong passwords + 1 unknown user, plus PyMongo's monitors never
    // authenticating: every success and failure was counted by the server.
    assert!(counts.successes >= 3, "{counts:?}");
    assert!(counts.failures >= 3, "{counts:?}");
    // PyMongo authenticates speculatively in the handshake (4.4+).
    assert!(counts.speculative_starts >= 3, "{counts:?}");
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_authenticates_against_a_7_0_simulator() {
    pymongo_authenticates(ServerVersion::V7_0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_authenticates_against_a_4_4_simulator() {
    // PyMongo 4.20 needs 4.4 at least; older servers are covered by tests/engine_auth.rs.
    pymongo_authenticates(ServerVersion::V4_4).await;
}
