//! `sim --tls` as a process: the printed connection string carries `tls=true` and the CA
//! file, with which the engine discovers the set and authenticates with MONGODB-X509
//! using a client certificate the simulator wrote.

use std::process::Stdio;
use std::time::Duration;

use bson::doc;
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::Cluster;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn sim_tls_prints_a_connection_string_the_engine_uses() {
    let dir =
        std::env::temp_dir().join(format!("mongo-topology-sim-cli-tls-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .args(["sim", "--members", "2", "--port", "0", "--tls", "--tls-dir"])
        .arg(&dir)
        .args([
            "--x509-user",
            "CN=app,OU=clients,O=mongo-topology-sim",
            "--tls-client-cert",
            "app",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the sim binary");
    let stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let uri = tokio::time::timeout(Duration::from_secs(10), out.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .unwrap();
    let ca = dir.join("ca.pem");
    let client = dir.join("client-app.pem");
    assert!(
        uri.ends_with(&format!(
            "/?replicaSet=rs0&tls=true&tlsCAFile={}",
            ca.display()
        )),
        "{uri}"
    );
    let mut printed = Vec::new();
    for _ in 0..2 {
        printed.push(err.next_line().await.unwrap().unwrap());
    }
    assert!(
        printed[0].contains(&ca.display().to_string()),
        "{printed:?}"
    );
    assert!(
        printed[1].contains(&client.display().to_string()),
        "{printed:?}"
    );

    let with_cert = format!(
        "{uri}&authMechanism=MONGODB-X509&tlsCertificateKeyFile={}&serverSelectionTimeoutMS=5000",
        client.display()
    );
    let cluster = Cluster::connect(&with_cert).unwrap();
    let reply = cluster
        .run_command("test", doc! { "find": "c" }, &SelectionCriteria::write())
        .await
        .unwrap();
    assert_eq!(reply.get_f64("ok").unwrap(), 1.0);
    cluster.close().await;

    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the simulator exits in time")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let _ = std::fs::remove_dir_all(&dir);
}
