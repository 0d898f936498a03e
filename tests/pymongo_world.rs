//! Proof by a client we did not write: what PyMongo does with the real-world traps the
//! simulator stages (the consequences `doctor` announces). Members advertising names that
//! do not resolve make its write time out, while directConnection=true writes; a load
//! balancer in front of replica set members fails load-balanced mode; a server offering
//! SCRAM-SHA-1 only refuses authMechanism=SCRAM-SHA-256; a 4.2 member makes it refuse the
//! set; with two members claiming primary it follows the newer electionId; a split horizon
//! names the members as the client named the seed.
//!
//! The interpreter comes from MONGO_TOPOLOGY_PYTHON (fallback `target/pyenv/bin/python`,
//! then `python3`). Without an importable PyMongo the tests fail when
//! MONGO_TOPOLOGY_REQUIRE_PYMONGO=1 or CI is set, and are skipped with a message otherwise.

mod pymongo_support;

use std::path::PathBuf;
use std::time::Duration;

use mongo_topology_sim::{
    Deployment, DeploymentSpec, MemberRef, MemberSpec, ScramMechanism, ServerVersion, SimTls,
    SimTlsOptions, SimUser, TopologySpec,
};
use pymongo_support::{pymongo_available, python};

/// Runs `world.py SCENARIO ARGS...` and asserts it passed.
async fn run_scenario(scenario: &str, args: &[String]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pymongo/world.py");
    let run = tokio::process::Command::new(python())
        .arg(script)
        .arg(scenario)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("PyMongo script took longer than 30 s")
        .expect("start python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("--- {scenario} ---\n{stderr}");
    assert!(
        output.status.success() && stdout.trim_end().ends_with("PASS"),
        "world.py {scenario} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

fn replica_set(members: Vec<MemberSpec>) -> DeploymentSpec {
    DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".into(),
        members,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_cannot_write_to_a_set_advertising_unresolvable_names() {
    if !pymongo_available() {
        return;
    }
    let d = Deployment::start(replica_set(
        (0..3)
            .map(|i| MemberSpec::data().advertised_as(&format!("mongo-{i}.invalid")))
            .collect(),
    ))
    .await
    .unwrap();
    let seeds = d.listening_addresses();
    run_scenario(
        "unresolvable",
        &[seeds.join(","), "rs0".into(), seeds[0].clone()],
    )
    .await;
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_refuses_load_balanced_mode_through_a_balancer_in_front_of_members() {
    if !pymongo_available() {
        return;
    }
    let d = Deployment::start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0).with_load_balancer_in_front_of_members(0),
    )
    .await
    .unwrap();
    run_scenario("lb-members", &[d.load_balancer_address().unwrap()]).await;
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_insisting_on_scram_sha_256_fails_where_only_sha_1_is_offered() {
    if !pymongo_available() {
        return;
    }
    let d = Deployment::start(
        DeploymentSpec::replica_set("rs0", 1, 0, 0)
            .with_user(SimUser::new("app", "s3cret"))
            .with_scram_mechanisms(&[ScramMechanism::Sha1]),
    )
    .await
    .unwrap();
    run_scenario("sha1-only", &[d.addresses()[0].clone()]).await;
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_refuses_a_set_with_a_member_too_old_for_it() {
    if !pymongo_available() {
        return;
    }
    let d = Deployment::start(replica_set(vec![
        MemberSpec::data(),
        MemberSpec::data(),
        MemberSpec::data().running(ServerVersion::V4_2),
    ]))
    .await
    .unwrap();
    let a = d.addresses();
    run_scenario("old-member", &[a[0].clone(), a[2].clone()]).await;
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_follows_the_newer_of_two_claimed_primaries() {
    if !pymongo_available() {
        return;
    }
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    d.claim_primary(&MemberRef::Index(0), true).unwrap();
    d.elect(&MemberRef::Index(1)).unwrap();
    let a = d.addresses();
    run_scenario(
        "two-primaries",
        &[a.join(","), a[0].clone(), a[1].clone(), a[2].clone()],
    )
    .await;
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymongo_sees_the_horizon_its_seed_name_selects() {
    if !pymongo_available() {
        return;
    }
    let tls = SimTls::generate(SimTlsOptions::default()).unwrap();
    let d = Deployment::start(
        replica_set(vec![
            MemberSpec::data().with_horizon("local", "localhost"),
            MemberSpec::data().with_horizon("local", "localhost"),
        ])
        .with_tls(tls.clone()),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!(
        "mongo-topology-pymongo-world-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    tls.write_ca_file(&ca).unwrap();
    let ports = d.ports();
    run_scenario(
        "horizon",
        &[
            format!("localhost:{}", ports[0]),
            format!("127.0.0.1:{}", ports[0]),
            ca.display().to_string(),
        ],
    )
    .await;
    d.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
