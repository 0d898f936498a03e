//! `discover` and `select` prove their verdicts as an application would (a pool connection
//! with the full handshake and authentication, ping, and for a write a server that reports
//! itself writable), against simulated deployments on real sockets: a direct connection to
//! a secondary, a load balancer with nothing listening or nothing behind it, a wrong and a
//! right password, a healthy replica set.

use std::process::Output;

use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef, SimUser};
use tokio::process::Command;

/// Runs the binary with `args` (MONGODB_URI unset).
async fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .kill_on_drop(true);
    tokio::time::timeout(std::time::Duration::from_secs(20), command.output())
        .await
        .expect("the command exits in time")
        .expect("run the binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The verdict line of `intent` (`read` or `write`).
fn verdict<'a>(text: &'a str, intent: &str) -> &'a str {
    text.lines()
        .find(|line| {
            line.strip_prefix(intent)
                .is_some_and(|rest| rest.starts_with(": ") || rest.starts_with(" (mode"))
                && (line.contains(": proven") || line.contains(": FAILS"))
        })
        .unwrap_or_else(|| panic!("no {intent} verdict in:\n{text}"))
}

/// The JSON verdict of `intent` (`read` or `write`).
fn json_verdict<'a>(value: &'a serde_json::Value, intent: &str) -> &'a serde_json::Value {
    value["verdicts"]
        .as_array()
        .and_then(|verdicts| verdicts.iter().find(|verdict| verdict["intent"] == intent))
        .unwrap_or_else(|| panic!("no {intent} verdict in {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_replica_set_proves_reads_and_writes() {
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let uri = deployment.connection_string();
    let output = run(&["discover", &uri]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let primary = &deployment.addresses()[0];
    let read = verdict(&text, "read");
    assert!(read.starts_with("read (mode primary): proven on"), "{text}");
    assert!(read.contains("ping: ok"), "{text}");
    let write = verdict(&text, "write");
    assert!(
        write.starts_with(&format!("write: proven on {primary} (RSPrimary)")),
        "{text}"
    );
    assert!(write.contains("isWritablePrimary true"), "{text}");

    let output = run(&["discover", "--json", &uri]).await;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for intent in ["read", "write"] {
        let verdict = json_verdict(&value, intent);
        assert_eq!(verdict["passed"], true, "{value}");
        assert!(verdict["cause"].is_null(), "{value}");
    }
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_connection_to_a_secondary_reads_with_secondary_ok_and_cannot_write() {
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let secondary = &deployment.addresses()[1];
    let uri = format!("mongodb://{secondary}/?directConnection=true");
    let output = run(&["discover", &uri]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("writable server: no"), "{text}");
    assert!(verdict(&text, "read").contains("proven"), "{text}");
    let write = verdict(&text, "write");
    assert!(
        write.starts_with(&format!("write: FAILS (not writable) on {secondary}")),
        "{text}"
    );
    assert!(write.contains("isWritablePrimary false"), "{text}");
    assert!(
        text.contains("reads only with secondaryOk; writes fail (NotWritablePrimary)"),
        "{text}"
    );

    // select: the read with its read preference is proven (exit 0); the write fails.
    let output = run(&["select", &uri, "--read-preference", "secondary", "--json"]).await;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", stdout(&output)));
    assert_eq!(output.status.code(), Some(0), "{value}");
    assert_eq!(json_verdict(&value, "read")["passed"], true, "{value}");
    let write = json_verdict(&value, "write");
    assert_eq!(write["passed"], false, "{value}");
    assert_eq!(write["cause"], "not_writable", "{value}");
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balanced_with_nothing_listening_fails_unreachable() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let uri = format!("mongodb://127.0.0.1:{port}/?loadBalanced=true");
    let output = run(&["discover", &uri]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("writable server: no"), "{text}");
    for intent in ["read", "write"] {
        assert!(
            verdict(&text, intent).contains("FAILS (unreachable)"),
            "{text}"
        );
    }
    let output = run(&["discover", "--json", &uri]).await;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["writable"], false, "{value}");
    assert_eq!(
        json_verdict(&value, "write")["cause"],
        "unreachable",
        "{value}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_balancer_with_every_mongos_killed_fails() {
    let deployment = Deployment::start(DeploymentSpec::sharded(2).with_load_balancer(0))
        .await
        .unwrap();
    let uri = deployment.load_balancer_connection_string().unwrap();
    let output = run(&["discover", &uri]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let write = verdict(&text, "write");
    assert!(write.contains("proven"), "{text}");
    assert!(write.contains("serviceId"), "{text}");

    for index in 0..2 {
        deployment.kill(&MemberRef::Index(index)).await.unwrap();
    }
    let output = run(&["discover", &uri]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("writable server: no"), "{text}");
    for intent in ["read", "write"] {
        let line = verdict(&text, intent);
        assert!(line.contains("FAILS (network)"), "{text}");
    }
    assert!(text.contains("no healthy mongos behind it"), "{text}");
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_auth_and_the_right_one_passes() {
    let spec =
        DeploymentSpec::replica_set("rs0", 3, 0, 0).with_user(SimUser::new("admin", "s3cret"));
    let deployment = Deployment::start(spec).await.unwrap();
    let hosts = deployment.addresses().join(",");
    let wrong = format!("mongodb://admin:wr0ng-pw@{hosts}/?replicaSet=rs0");
    for command in ["discover", "select"] {
        let mut args = vec![command, wrong.as_str()];
        if command == "select" {
            args.extend(["--read-preference", "nearest"]);
        }
        let output = run(&args).await;
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(2), "{command}: {text}");
        let read = verdict(&text, "read");
        assert!(
            read.contains("FAILS (auth failed (SCRAM-SHA-256, user \"admin\", source \"admin\"))"),
            "{command}: {text}"
        );
        assert!(
            verdict(&text, "write").contains("FAILS (auth failed"),
            "{text}"
        );
        assert!(!text.contains("wr0ng-pw"), "{text}");
        if command == "discover" {
            assert!(text.contains("writable server: no"), "{text}");
        }
    }
    let right = format!("mongodb://admin:s3cret@{hosts}/?replicaSet=rs0");
    let output = run(&["discover", &right]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(verdict(&text, "read").contains("proven"), "{text}");
    assert!(verdict(&text, "write").contains("proven"), "{text}");
    assert!(text.contains("authenticated as \"admin\""), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    deployment.shutdown().await;
}

/// The trap the first rule is about: without credentials, the connection opens and `ping`
/// answers on a server that requires authentication, so a verdict stopping at `ping` would
/// say "proven" while the application's first `find` fails with Unauthorized.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_on_a_server_that_requires_them_is_not_proven() {
    let spec =
        DeploymentSpec::replica_set("rs0", 3, 0, 0).with_user(SimUser::new("admin", "s3cret"));
    let deployment = Deployment::start(spec).await.unwrap();
    let uri = deployment.connection_string();
    for command in ["discover", "select"] {
        let mut args = vec![command, uri.as_str()];
        if command == "select" {
            args.extend(["--read-preference", "nearest"]);
        }
        let output = run(&args).await;
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(2), "{command}: {text}");
        for intent in ["read", "write"] {
            let line = verdict(&text, intent);
            assert!(
                line.contains("FAILS (authentication required)"),
                "{command}: {text}"
            );
            assert!(line.contains("ping: ok"), "{command}: {text}");
        }
        assert!(text.contains("Unauthorized (13)"), "{command}: {text}");
    }
    let output = run(&["discover", "--json", &uri]).await;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json_verdict(&value, "read")["cause"],
        "auth_required",
        "{value}"
    );
    assert_eq!(json_verdict(&value, "read")["passed"], false, "{value}");

    // The same deployment without authentication: the check passes and says so.
    let open = Deployment::start(DeploymentSpec::replica_set("rs1", 2, 0, 0))
        .await
        .unwrap();
    let output = run(&["discover", &open.connection_string()]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        verdict(&text, "read").contains("no authentication required"),
        "{text}"
    );
    open.shutdown().await;
    deployment.shutdown().await;
}
