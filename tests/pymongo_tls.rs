//! Proof of the simulator's TLS server side by a client whose TLS stack we did not write:
//! PyMongo (Python's ssl, OpenSSL) discovers a TLS replica set with the generated CA,
//! refuses another CA unless tlsAllowInvalidCertificates, cannot talk plain to it, and
//! authenticates with MONGODB-X509 and a client certificate.
//!
//! The interpreter comes from MONGO_TOPOLOGY_PYTHON (fallback `target/pyenv/bin/python`,
//! then `python3`). Without an importable PyMongo the test fails when
//! MONGO_TOPOLOGY_REQUIRE_PYMONGO=1 or CI is set, and is skipped with a message otherwise.

mod pymongo_support;

use std::path::PathBuf;

use mongo_topology_sim::{Deployment, DeploymentSpec, SimTls, SimTlsOptions};
use pymongo_support::{pymongo_available, python};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_speaks_tls_and_x509_to_the_simulator() {
    if !pymongo_available() {
        return;
    }
    let tls = SimTls::generate(SimTlsOptions {
        request_client_certificates: true,
        ..SimTlsOptions::default()
    })
    .unwrap();
    let other = SimTls::generate(SimTlsOptions::default()).unwrap();
    let spec = DeploymentSpec::replica_set("rs0", 3, 0, 0)
        .with_tls(tls.clone())
        .with_x509_user(&SimTls::client_subject("pymongo"));
    let deployment = Deployment::start(spec).await.unwrap();
    let dir =
        std::env::temp_dir().join(format!("mongo-topology-pymongo-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, other_ca, client) = (
        dir.join("ca.pem"),
        dir.join("other.pem"),
        dir.join("client.pem"),
    );
    tls.write_ca_file(&ca).unwrap();
    other.write_ca_file(&other_ca).unwrap();
    std::fs::write(&client, tls.client_certificate_pem("pymongo").unwrap()).unwrap();
    let seed = format!("localhost:{}", deployment.ports()[0]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pymongo/tls.py");
    let paths = [&ca, &other_ca, &client].map(|p| p.display().to_string());
    let output = tokio::process::Command::new(python())
        .arg(script)
        .arg(&seed)
        .args(paths)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim_end().ends_with("PASSED"),
        "PyMongo over TLS:\n{stdout}\n{stderr}"
    );
    let counts = deployment.auth_counts();
    assert!(counts.successes >= 1, "{counts:?}");
    deployment.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
