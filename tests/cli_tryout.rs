//! Small things from issue 17's tryout, as processes: clap's "did you mean" for subcommands
//! and flags, a discovery timeout that names the servers not yet checked and by default
//! ends after connectTimeoutMS, an address said once per error, sharded and load-balanced
//! output without `primary: none` or the staleness footnote, setVersion for every member.

use std::process::Output;
use std::time::{Duration, Instant};

use mongo_topology_sim::{Deployment, DeploymentSpec};
use tokio::process::Command;

async fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(20), command.output())
        .await
        .expect("the command exits in time")
        .expect("run the binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn misspelled_subcommands_and_flags_get_a_suggestion_on_one_line() {
    for (args, suggestion) in [
        (&["discovr", "mongodb://a"][..], "'discover'"),
        (&["discover", "--jsn", "mongodb://a"][..], "'--json'"),
        (
            &["select", "mongodb://a", "--read-preferenc", "primary"][..],
            "'--read-preference'",
        ),
    ] {
        let output = run(args).await;
        let errors = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {errors}");
        assert_eq!(errors.trim_end().lines().count(), 1, "{args:?}: {errors}");
        assert!(errors.starts_with("error: "), "{errors}");
        assert!(errors.contains(suggestion), "{args:?}: {errors}");
    }
}

/// A listener that accepts connections and never answers (a frozen member).
async fn frozen_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (address, holder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_names_each_server_not_yet_checked() {
    let (address, holder) = frozen_server().await;
    let uri = format!("mongodb://{address}/");
    let output = run(&["discover", "--timeout-ms", "500", &uri]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("with servers not yet checked: {address}")),
        "{text}"
    );
    let output = run(&["discover", "--json", "--timeout-ms", "500", &uri]).await;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["not_yet_checked"][0], address.as_str(), "{value}");
    holder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_timeout_follows_connect_timeout_ms_and_names_the_frozen_server() {
    let (address, holder) = frozen_server().await;
    // connectTimeoutMS=10500: the check of the frozen server times out after 10.5 s, before
    // the default --timeout-ms (connectTimeoutMS + 1 s) ends discovery. (The old fixed
    // default, 10 s, ended discovery first, with the server not yet checked.)
    let uri = format!("mongodb://{address}/?connectTimeoutMS=10500");
    let started = Instant::now();
    let output = run(&["discover", &uri]).await;
    let elapsed = started.elapsed();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let row = text
        .lines()
        .find(|line| line.starts_with(&address))
        .unwrap_or_else(|| panic!("no row for {address}:\n{text}"));
    assert!(row.contains("[timeout]"), "{text}");
    assert!(text.contains("discovery: every server checked"), "{text}");
    assert!(
        elapsed >= Duration::from_millis(10_500),
        "{elapsed:?}\n{text}"
    );
    assert!(elapsed < Duration::from_secs(16), "{elapsed:?}\n{text}");
    holder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_is_said_once_per_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let address = format!("127.0.0.1:{port}");
    for uri in [
        format!("mongodb://{address}/?loadBalanced=true"),
        format!("mongodb://{address}/"),
    ] {
        let output = run(&["discover", "--timeout-ms", "3000", &uri]).await;
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(!text.contains(&format!("{address}: {address}")), "{text}");
        for line in text.lines().filter(|line| line.contains("FAILS")) {
            assert_eq!(line.matches(&address).count(), 1, "{line}");
            assert!(line.contains("Connection refused"), "{line}");
        }
        let row = text
            .lines()
            .find(|line| line.starts_with(&address))
            .unwrap();
        assert!(row.matches(&address).count() <= 2, "{row}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_and_load_balanced_output_has_no_primary_line_or_staleness_footnote() {
    let deployment = Deployment::start(DeploymentSpec::sharded(2).with_load_balancer(0))
        .await
        .unwrap();
    let hosts = deployment.addresses().join(",");
    let sharded = format!("mongodb://{hosts}/");
    let balanced = deployment.load_balancer_connection_string().unwrap();
    for uri in [sharded, balanced] {
        let output = run(&["discover", &uri]).await;
        let text = stdout(&output);
        assert_eq!(output.status.code(), Some(0), "{text}");
        assert!(!text.contains("primary:"), "{text}");
        assert!(!text.contains("staleness:"), "{text}");
        assert!(
            text.contains("topology type: Sharded") || text.contains("topology type: LoadBalanced"),
            "{text}"
        );
    }
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_member_shows_its_set_version() {
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let output = run(&["discover", "--json", &deployment.connection_string()]).await;
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let servers = value["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3, "{value}");
    for server in servers {
        assert!(server["set_version"].is_i64(), "{server}");
    }
    let output = run(&["discover", &deployment.connection_string()]).await;
    let text = stdout(&output);
    let header = text
        .lines()
        .find(|line| line.starts_with("ADDRESS"))
        .unwrap();
    let column = header.find("SETVERSION").unwrap();
    for row in text.lines().filter(|line| line.contains("RSSecondary")) {
        let cell = row[column..].split_whitespace().next().unwrap();
        assert!(cell.parse::<i64>().is_ok(), "{row}");
    }
    // A replica set keeps its primary line and the staleness footnote.
    assert!(text.contains("primary: 127.0.0.1:"), "{text}");
    assert!(text.contains("staleness:"), "{text}");
    deployment.shutdown().await;
}
