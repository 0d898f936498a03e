//! `mongo-topology discover` and `mongo-topology select` as processes, against a simulated
//! replica set running in the test: exit codes, the table, the JSON fields, the selection
//! explanation, and credentials never printed.

use std::process::Output;

use mongo_topology_sim::{Deployment, DeploymentSpec, MemberSpec, ServerVersion, TopologySpec};
use tokio::process::Command;

/// Runs the binary with `args` (MONGODB_URI unset unless given in `env`), with debug logs so
/// that log lines are checked too.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .env("RUST_LOG", "debug")
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    tokio::time::timeout(std::time::Duration::from_secs(15), command.output())
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

/// A 3-member set `rs0` whose second member (a secondary) is tagged `dc:east`; the first
/// member is the primary.
async fn replica_set() -> Deployment {
    let members = vec![
        MemberSpec::data(),
        MemberSpec::data().with_tags([("dc", "east")]),
        MemberSpec::data(),
    ];
    Deployment::start(DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".to_owned(),
        members,
    }))
    .await
    .unwrap()
}

/// A connection string naming only the tagged secondary.
fn secondary_seed(deployment: &Deployment) -> String {
    format!("mongodb://{}/?replicaSet=rs0", deployment.addresses()[1])
}

/// The table row of `address`.
fn row<'a>(text: &'a str, address: &str) -> &'a str {
    text.lines()
        .find(|line| line.starts_with(address))
        .unwrap_or_else(|| panic!("no row for {address} in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_three_members_from_one_secondary_seed() {
    let deployment = replica_set().await;
    let addresses = deployment.addresses();
    let output = run(&["discover", &secondary_seed(&deployment)], &[]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(row(&text, &addresses[0]).contains("RSPrimary"), "{text}");
    assert!(row(&text, &addresses[1]).contains("RSSecondary"), "{text}");
    assert!(row(&text, &addresses[1]).contains("dc:east"), "{text}");
    assert!(row(&text, &addresses[2]).contains("RSSecondary"), "{text}");
    assert!(
        text.contains(&format!("primary: {}", addresses[0])),
        "{text}"
    );
    assert!(
        text.contains("topology type: ReplicaSetWithPrimary"),
        "{text}"
    );
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_has_elapsed_ms_and_three_servers() {
    let deployment = replica_set().await;
    let uri = secondary_seed(&deployment);
    // The connection string from the environment this time.
    let output = run(&["discover", "--json"], &[("MONGODB_URI", &uri)]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(value["elapsed_ms"].is_u64(), "{value}");
    let servers = value["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3, "{value}");
    let types: Vec<&str> = servers
        .iter()
        .map(|server| server["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types.iter().filter(|kind| **kind == "RSSecondary").count(),
        2
    );
    assert_eq!(value["primary"], deployment.addresses()[0].as_str());
    assert_eq!(value["writable"], true);
    let primary = servers
        .iter()
        .find(|server| server["type"] == "RSPrimary")
        .unwrap();
    assert!(primary["set_version"].is_i64(), "{value}");
    assert!(primary["election_id"].is_string(), "{value}");
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_seed_exits_2_with_the_cause_class() {
    let output = run(
        &["discover", "--timeout-ms", "3000", "mongodb://127.0.0.1:1/"],
        &[],
    )
    .await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(row(&text, "127.0.0.1:1").contains("[connect]"), "{text}");
    assert!(text.contains("primary: none"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_ends_at_the_timeout_with_exit_2() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // Accepts and holds every connection, never answering.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let uri = format!("mongodb://{address}/");
    let started = std::time::Instant::now();
    let output = run(&["discover", "--timeout-ms", "500", &uri], &[]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("timed out after"), "{text}");
    // Well before the default connectTimeoutMS (10 s) would end the check.
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    holder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_of_another_set_is_reported_with_a_hint() {
    let deployment = replica_set().await;
    let uri = format!("mongodb://{}/?replicaSet=other", deployment.addresses()[1]);
    let output = run(&["discover", "--timeout-ms", "3000", &uri], &[]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "seeds that are not members: {}",
            deployment.addresses()[1]
        )),
        "{text}"
    );
    assert!(text.contains("hint: replica set name"), "{text}");
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_too_old_for_this_client_exits_2_with_a_wire_version_hint() {
    let spec = DeploymentSpec::standalone().with_version(ServerVersion::V3_6);
    let deployment = Deployment::start(spec).await.unwrap();
    let uri = deployment.connection_string();
    let output = run(&["discover", "--timeout-ms", "3000", &uri], &[]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("hint: incompatible wire versions"), "{text}");
    assert!(text.contains("writable server: no"), "{text}");
    assert!(
        row(&text, &deployment.addresses()[0]).contains("Standalone"),
        "{text}"
    );
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_uri_errors_exit_1_with_one_line() {
    for args in [
        &["discover", "mongodb://a:b:c@host"][..],
        &["discover", "http://host"][..],
        &["discover"][..],
        &["discover", "--no-such-flag"][..],
        &["select", "mongodb://host"][..],
        &["select", "mongodb://host", "--read-preference", "sideways"][..],
        &[
            "select",
            "mongodb://host",
            "--read-preference",
            "secondary",
            "--tag",
            "dc",
        ][..],
    ] {
        let output = run(args, &[]).await;
        let errors = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {errors}");
        assert_eq!(errors.trim_end().lines().count(), 1, "{args:?}: {errors}");
        assert!(errors.starts_with("error: "), "{args:?}: {errors}");
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_never_printed() {
    let deployment = replica_set().await;
    let password = "pa55-w0rd-never-shown";
    let good = format!(
        "mongodb://alice:{password}@{}/?replicaSet=rs0",
        deployment.addresses()[1]
    );
    let bad_port = format!("mongodb://alice:{password}@host:99999/");
    let runs = [
        vec!["discover", good.as_str()],
        vec!["discover", "--json", good.as_str()],
        vec!["select", good.as_str(), "--read-preference", "nearest"],
        vec!["discover", bad_port.as_str()],
    ];
    for args in runs {
        let output = run(&args, &[]).await;
        let all = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            !all.contains(password),
            "{args:?} printed the password:\n{all}"
        );
    }
    let output = run(&["discover", &good], &[]).await;
    assert!(
        stdout(&output).contains("alice:*****@"),
        "{}",
        stdout(&output)
    );
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_secondary_names_a_secondary() {
    let deployment = replica_set().await;
    let addresses = deployment.addresses();
    let uri = secondary_seed(&deployment);
    let output = run(&["select", &uri, "--read-preference", "secondary"], &[]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let chosen = text
        .lines()
        .find(|line| line.starts_with("would choose"))
        .unwrap();
    assert!(chosen.contains("RSSecondary"), "{text}");
    assert!(!chosen.contains(&addresses[0]), "{text}");
    assert!(
        text.contains(&format!("{}: RSPrimary, but mode secondary", addresses[0])),
        "{text}"
    );

    let tagged = run(
        &[
            "select",
            &uri,
            "--read-preference",
            "secondary",
            "--tag",
            "dc:east",
        ],
        &[],
    )
    .await;
    let text = stdout(&tagged);
    assert_eq!(tagged.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("would choose: {} (RSSecondary)", addresses[1])),
        "{text}"
    );
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_with_unmatched_tags_exits_2_explaining_the_tags() {
    let deployment = replica_set().await;
    let uri = secondary_seed(&deployment);
    let args = [
        "select",
        &uri,
        "--read-preference",
        "secondary",
        "--tag",
        "dc:nowhere",
    ];
    let output = run(&args, &[]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("would choose: none"), "{text}");
    assert!(
        text.contains("match none of the tag sets tried [{dc: nowhere}]"),
        "{text}"
    );
    deployment.shutdown().await;
}

#[tokio::test]
async fn discover_through_a_load_balancer_shows_the_one_load_balancer_server() {
    let deployment = Deployment::start(DeploymentSpec::sharded(2).with_load_balancer(0))
        .await
        .unwrap();
    let uri = deployment.load_balancer_connection_string().unwrap();
    let output = run(&["discover", &uri], &[]).await;
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    let address = deployment.load_balancer_address().unwrap();
    let line = row(&text, &address);
    assert!(line.contains("LoadBalancer"), "{line}");
    assert!(!line.contains("0..0"), "no wire versions to show: {line}");
    assert!(text.contains("topology type: LoadBalanced"), "{text}");
    assert!(
        text.contains("discovery: none behind a load balancer"),
        "{text}"
    );
    // Discovery checks nothing in load-balanced mode (no monitor connection): only the
    // verdicts' pool connections reach the balancer, one per proof (read, write) at most.
    // (Was `== 0` before `discover` proved its verdicts by connecting.)
    let connections = deployment.load_balancer_counts().connections;
    assert!((1..=2).contains(&connections), "{connections} connections");
    for mongos in deployment.addresses() {
        assert!(!text.contains(&mongos), "the mongos stay hidden: {text}");
    }
}

/// Timeouts and frequencies at the top of their range (i64::MAX milliseconds) are deadlines
/// in the far future, never an overflow of the clock: the command ends normally.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_timeouts_in_the_connection_string_do_not_panic() {
    let deployment = replica_set().await;
    let max = i64::MAX.to_string();
    let options = [
        "serverSelectionTimeoutMS",
        "heartbeatFrequencyMS",
        "connectTimeoutMS",
        "socketTimeoutMS",
        "maxIdleTimeMS",
        "waitQueueTimeoutMS",
        "localThresholdMS",
    ]
    .map(|option| format!("{option}={max}"))
    .join("&");
    let uri = format!("mongodb://{}/?{options}", deployment.addresses()[0]);
    let output = run(&["discover", "--timeout-ms", "5000", &uri], &[]).await;
    let (text, errors) = (stdout(&output), stderr(&output));
    assert!(!errors.contains("panicked"), "{errors}");
    assert_eq!(output.status.code(), Some(0), "{text}{errors}");
    deployment.shutdown().await;
}

/// A `MONGODB_URI` that is not valid UTF-8 was reported as missing; it is now said to be
/// not UTF-8 (without echoing its bytes).
#[tokio::test]
async fn a_mongodb_uri_that_is_not_utf8_is_said_to_be_so() {
    use std::os::unix::ffi::OsStrExt;
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(["discover", "--timeout-ms", "500"])
        .env(
            "MONGODB_URI",
            std::ffi::OsStr::from_bytes(b"mongodb://u:p\xff@127.0.0.1:1/"),
        )
        .kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(15), command.output())
        .await
        .expect("the command exits in time")
        .expect("run the binary");
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(errors.contains("MONGODB_URI"), "{errors}");
    assert!(errors.contains("not valid UTF-8"), "{errors}");
    assert!(!errors.contains("no connection string"), "{errors}");
    assert!(!errors.contains("u:p"), "{errors}");
}
