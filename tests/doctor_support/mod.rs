//! Shared by the `doctor` CLI tests: run `doctor --json` as a process and check its
//! findings.

#![allow(dead_code)]

use std::process::Output;
use std::time::Duration;

use mongo_topology_sim::{ControlCommand, Deployment, DeploymentSpec, MemberSpec, TopologySpec};
use serde_json::Value;
use tokio::process::Command;

pub async fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(20), command.output())
        .await
        .expect("doctor exits in time")
        .expect("run the binary")
}

/// Runs `doctor --json URI extra...`; returns the exit status and the report.
pub async fn doctor(uri: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["doctor", "--json", uri];
    args.extend_from_slice(extra);
    let output = run(&args).await;
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

pub fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("a findings array")
}

/// The findings of `rule`, asserting there is at least one.
pub fn fired<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    let found: Vec<&Value> = findings(report)
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect();
    assert!(!found.is_empty(), "{rule} did not fire: {report:#}");
    found
}

/// Asserts that `rule` fired with `severity`, naming exactly `servers`.
pub fn assert_fires(report: &Value, rule: &str, severity: &str, servers: &[&str]) {
    let found = fired(report, rule);
    let matching = found.iter().any(|f| {
        let named: Vec<&str> = f["servers"]
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        f["severity"] == severity && named == servers
    });
    assert!(
        matching,
        "{rule} {severity} {servers:?} not among {found:#?}"
    );
}

/// Asserts that no error and no warning fired.
pub fn assert_healthy(code: i32, report: &Value) {
    let loud: Vec<&Value> = findings(report)
        .iter()
        .filter(|f| f["severity"] == "error" || f["severity"] == "warning")
        .collect();
    assert!(loud.is_empty(), "healthy, yet: {loud:#?}");
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verdicts"]["read"]["ok"], true, "{report:#}");
    assert_eq!(report["verdicts"]["write"]["ok"], true, "{report:#}");
}

pub async fn control(deployment: &Deployment, command: &str) {
    let command: ControlCommand = command.parse().unwrap();
    deployment.control(command).await.unwrap();
}

pub async fn replica_set(members: Vec<MemberSpec>) -> Deployment {
    Deployment::start(DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".to_owned(),
        members,
    }))
    .await
    .unwrap()
}

pub async fn three() -> Deployment {
    Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap()
}
