//! The driver over TLS (rustls) to a simulated replica set serving generated certificates:
//! discovery and commands with the CA file, refusal without it, and MONGODB-X509 with a
//! client certificate signed by the simulator's CA.

use mongo_topology_rust_driver_interop::{all_known, client, describe, reply_ok, SdamLog};
use mongo_topology_sim::{Deployment, DeploymentSpec, SimTls, SimTlsOptions};
use mongodb::bson::{doc, Document};
use std::path::PathBuf;
use std::time::Duration;

/// A 3-member TLS set asking for client certificates, with X509 user `CN=driver,...`; the
/// CA, another CA and the client certificate written to files.
async fn tls_set() -> (Deployment, PathBuf, PathBuf, PathBuf) {
    let tls = SimTls::generate(SimTlsOptions {
        request_client_certificates: true,
        ..SimTlsOptions::default()
    })
    .unwrap();
    let other = SimTls::generate(SimTlsOptions::default()).unwrap();
    let spec = DeploymentSpec::replica_set("rs0", 3, 0, 0)
        .with_tls(tls.clone())
        .with_x509_user(&SimTls::client_subject("driver"));
    let deployment = Deployment::start(spec).await.unwrap();
    let dir = std::env::temp_dir().join(format!(
        "mongo-topology-driver-tls-{}-{}",
        std::process::id(),
        deployment.ports()[0]
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, other_ca, cert) = (
        dir.join("ca.pem"),
        dir.join("other.pem"),
        dir.join("client.pem"),
    );
    tls.write_ca_file(&ca).unwrap();
    other.write_ca_file(&other_ca).unwrap();
    std::fs::write(&cert, tls.client_certificate_pem("driver").unwrap()).unwrap();
    (deployment, ca, other_ca, cert)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_discovers_and_authenticates_over_tls() {
    let (deployment, ca, other_ca, cert) = tls_set().await;
    let seed = format!("localhost:{}", deployment.ports()[0]);

    let log = SdamLog::new();
    let uri = format!(
        "mongodb://{seed}/?replicaSet=rs0&tls=true&tlsCAFile={}",
        ca.display()
    );
    let verified = client(&uri, &log).await.unwrap();
    let reply = verified
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .unwrap();
    assert!(reply_ok(&reply), "{reply:?}");
    let topology = log
        .wait_for_topology("3 members over TLS", Duration::from_secs(5), |t| {
            all_known(t) && t.servers().len() == 3
        })
        .await
        .unwrap();
    assert_eq!(topology.servers().len(), 3, "{}", describe(&topology));
    verified.shutdown().await;

    let log = SdamLog::new();
    let uri = format!(
        "mongodb://{seed}/?replicaSet=rs0&tls=true&tlsCAFile={}",
        other_ca.display()
    );
    let wrong = client(&uri, &log).await.unwrap();
    let error = wrong
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("UnknownIssuer"),
        "another CA: {error}"
    );
    wrong.shutdown().await;

    let log = SdamLog::new();
    let uri = format!(
        "mongodb://{seed}/?replicaSet=rs0&tls=true&tlsCAFile={}&tlsCertificateKeyFile={}&authMechanism=MONGODB-X509",
        ca.display(),
        cert.display()
    );
    let x509 = client(&uri, &log).await.unwrap();
    let found = x509
        .database("test")
        .collection::<Document>("c")
        .find_one(doc! {})
        .await
        .unwrap();
    assert_eq!(found, None);
    x509.shutdown().await;
    assert!(deployment.auth_counts().successes >= 1);
    deployment.shutdown().await;
}
