//! `mongo-topology discover` over TLS: each server's protocol, certificate subject and
//! expiry, in the table and in the JSON; a wrong CA shows the cause per server.

use std::process::Output;

use mongo_topology_sim::{Deployment, DeploymentSpec, SimTls, SimTlsOptions};
use tokio::process::Command;

async fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .kill_on_drop(true);
    tokio::time::timeout(std::time::Duration::from_secs(15), command.output())
        .await
        .expect("the command exits in time")
        .expect("run the binary")
}

async fn tls_set(tls: &SimTls) -> Deployment {
    Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0).with_tls(tls.clone()))
        .await
        .unwrap()
}

fn ca_file(tls: &SimTls, name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "mongo-topology-discover-tls-{}-{name}.pem",
        std::process::id()
    ));
    tls.write_ca_file(&path).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_shows_each_servers_tls_state() {
    let tls = SimTls::generate(SimTlsOptions::default()).unwrap();
    let sim = tls_set(&tls).await;
    let ca = ca_file(&tls, "right");
    let uri = format!("{}&tlsCAFile={}", sim.connection_string(), ca.display());
    let output = run(&["discover", "--timeout-ms", "5000", &uri]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let tls_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("tls: ")).collect();
    assert_eq!(tls_lines.len(), 2, "{text}");
    for address in sim.addresses() {
        let prefix = format!("tls: {address}  TLSv1.");
        let line = tls_lines
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no TLS line for {address}: {text}"));
        assert!(
            line.contains("subject O=mongo-topology-sim, CN=localhost  expires "),
            "{line}"
        );
        assert!(
            line.ends_with("(in 89 days)") || line.ends_with("(in 90 days)"),
            "a 90-day certificate: {line}"
        );
    }
    assert!(!text.contains("hint: the TLS certificate"), "{text}");

    let output = run(&["discover", "--json", "--timeout-ms", "5000", &uri]).await;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let first = &json["servers"][0]["tls"];
    assert!(
        first["protocol"].as_str().unwrap().starts_with("TLSv1."),
        "{json}"
    );
    assert!(first["peer_not_after_unix"].as_u64().is_some(), "{json}");

    let other = SimTls::generate(SimTlsOptions::default()).unwrap();
    let wrong = ca_file(&other, "wrong");
    let uri = format!("{}&tlsCAFile={}", sim.connection_string(), wrong.display());
    let output = run(&["discover", "--timeout-ms", "3000", &uri]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("unknown issuer"), "{text}");
    sim.shutdown().await;
    let _ = std::fs::remove_file(ca);
    let _ = std::fs::remove_file(wrong);
}

/// The TLS probe after discovery is bounded by what is left of `--timeout-ms`, not by
/// connectTimeoutMS alone: a server that accepts TCP and never answers the handshake, with
/// connectTimeoutMS=30000, kept `discover --timeout-ms 1500` running for 30 s more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_probe_is_bounded_by_what_is_left_of_timeout_ms() {
    // Accepted by the kernel (backlog), never read from: the handshake never completes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let uri = format!("mongodb://127.0.0.1:{port}/?tls=true&connectTimeoutMS=30000");
    let started = std::time::Instant::now();
    let output = run(&["discover", &uri, "--timeout-ms", "1500"]).await;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        elapsed < std::time::Duration::from_secs(6),
        "{elapsed:?}: {stdout}{stderr}"
    );
    assert!(
        stdout.contains("TLS probe not finished within --timeout-ms"),
        "{stdout}"
    );
    drop(silent);
}
