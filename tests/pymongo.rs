//! Proof by a client we did not write: PyMongo (pinned, installed by scripts/test) against
//! simulated deployments. Any PyMongo complaint about a reply is a simulator bug.
//!
//! The interpreter comes from MONGO_TOPOLOGY_PYTHON (fallback `python3`). Without an
//! importable PyMongo the tests fail when MONGO_TOPOLOGY_REQUIRE_PYMONGO=1 or CI is set,
//! and are skipped with a message otherwise.

mod pymongo_support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef, ServerVersion};
use pymongo_support::{pymongo_available, python};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/pymongo")
        .join(name)
}

/// Runs a script; answers its control requests (lines on its stdout) with `act`.
async fn run_script<F>(name: &str, args: &[String], mut act: F)
where
    F: FnMut(&str) -> Result<(), String>,
{
    let mut child = Command::new(python())
        .arg(script(name))
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut passed = false;
    let drive = async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            if line == "PASS" {
                passed = true;
                continue;
            }
            act(&line).unwrap_or_else(|e| panic!("control request {line:?} failed: {e}"));
            stdin.write_all(b"done\n").await.unwrap();
            stdin.flush().await.unwrap();
        }
        child.wait().await.unwrap()
    };
    let status = tokio::time::timeout(Duration::from_secs(30), drive)
        .await
        .expect("PyMongo script took longer than 30 s");
    let log = stderr_task.await.unwrap();
    eprintln!("--- {name} ---\n{log}");
    assert!(
        status.success() && passed,
        "{name} failed ({status}):\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_discovers_set_follows_election_and_sees_not_writable_primary() {
    if !pymongo_available() {
        return;
    }
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let members = deployment.addresses();
    let mut args = vec![members[0].clone(), "rs0".to_owned()];
    args.extend(members.iter().cloned());
    run_script("replset.py", &args, |request| match request {
        "stepdown-elect-1" => {
            deployment.stepdown().map_err(|e| e.to_string())?;
            deployment
                .elect(&MemberRef::Index(1))
                .map_err(|e| e.to_string())
        }
        other => Err(format!("unknown request {other:?}")),
    })
    .await;
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_direct_connection_to_a_secondary() {
    if !pymongo_available() {
        return;
    }
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let secondary = deployment.addresses()[2].clone();
    run_script(
        "direct_secondary.py",
        &[secondary, "rs0".to_owned()],
        |request| Err(format!("unexpected request {request:?}")),
    )
    .await;
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_accepts_every_supported_version_and_topology() {
    if !pymongo_available() {
        return;
    }
    let mut deployments = Vec::new();
    let mut args = Vec::new();
    for version in mongo_topology_sim::versions::ALL_VERSIONS {
        if version < ServerVersion::V4_2 {
            continue; // 4.2 already shows how PyMongo refuses old servers.
        }
        for (spec, expected) in [
            (
                DeploymentSpec::replica_set("rs0", 2, 1, 0),
                "ReplicaSetWithPrimary",
            ),
            (DeploymentSpec::sharded(2), "Sharded"),
            (DeploymentSpec::standalone(), "Single"),
        ] {
            let d = Deployment::start(spec.with_version(version)).await.unwrap();
            // PyMongo 4.20 needs wire version 9 (4.4) or newer.
            let expected = if version < ServerVersion::V4_4 {
                "refused"
            } else {
                expected
            };
            args.extend([
                d.connection_string(),
                version.series().to_owned(),
                expected.to_owned(),
            ]);
            deployments.push(d);
        }
    }
    run_script("versions.py", &args, |request| {
        Err(format!("unexpected request {request:?}"))
    })
    .await;
    for d in deployments {
        d.shutdown().await;
    }
}
