//! `mongo-topology doctor --json` against the simulator's staged real-world traps
//! (advertised names that do not resolve, a balancer in front of members, per-member
//! versions, startup states, two primaries, SCRAM mechanisms): each rule's id, severity
//! and servers.

mod doctor_support;

use doctor_support::{assert_fires, control, doctor, fired, replica_set};
use mongo_topology_sim::{
    Deployment, DeploymentSpec, MemberSpec, ScramMechanism, ServerVersion, SimUser, StartupPhase,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advertised_names_that_do_not_resolve() {
    let sim = replica_set(vec![
        MemberSpec::data().advertised_as("mongo-0.invalid"),
        MemberSpec::data().advertised_as("mongo-1.invalid"),
        MemberSpec::data().advertised_as("mongo-2.invalid"),
    ])
    .await;
    let listening = sim.listening_addresses();
    let advertised = sim.addresses();
    let (code, report) = doctor(&format!("mongodb://{}/?replicaSet=rs0", listening[0]), &[]).await;
    assert_eq!(code, 2);
    assert_fires(
        &report,
        "names.advertised-differs",
        "error",
        &[&listening[0], &advertised[0]],
    );
    for member in &advertised {
        assert_fires(&report, "names.member-unreachable", "error", &[member]);
    }
    let finding = fired(&report, "names.member-unreachable")[0];
    assert!(
        finding["evidence"]
            .as_str()
            .unwrap()
            .contains("does not resolve"),
        "{finding}"
    );
    // The set's own view (replSetGetStatus) calls them healthy.
    assert_fires(
        &report,
        "members.server-view-differs",
        "error",
        &[&advertised[1]],
    );
    // directConnection=true "works", and says what it loses.
    let (_, report) = doctor(
        &format!("mongodb://{}/?directConnection=true", listening[0]),
        &[],
    )
    .await;
    assert_fires(
        &report,
        "names.member-unreachable",
        "warning",
        &[&advertised[1]],
    );
    assert_eq!(report["verdicts"]["write"]["ok"], true, "{report:#}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_balancer_in_front_of_replica_set_members() {
    let sim = Deployment::start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0).with_load_balancer_in_front_of_members(0),
    )
    .await
    .unwrap();
    let uri = sim.load_balancer_connection_string().unwrap();
    let balancer = sim.load_balancer_address().unwrap();
    let (code, report) = doctor(&uri, &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "lb.flipping-hellos", "error", &[&balancer]);
    assert_fires(&report, "lb.no-service-id", "error", &[&balancer]);
    let finding = fired(&report, "lb.flipping-hellos")[0];
    let evidence = finding["evidence"].as_str().unwrap();
    for member in sim.addresses() {
        assert!(evidence.contains(&format!("me={member}")), "{evidence}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_different_versions() {
    let sim = replica_set(vec![
        MemberSpec::data(),
        MemberSpec::data().running(ServerVersion::V6_0),
        MemberSpec::data().running(ServerVersion::V4_0),
    ])
    .await;
    let addresses = sim.addresses();
    let (code, report) = doctor(&sim.connection_string(), &[]).await;
    assert_eq!(code, 2);
    assert_fires(&report, "wire.incompatible", "error", &[&addresses[2]]);
    let mixed = fired(&report, "wire.mixed-versions")[0];
    assert_eq!(mixed["severity"], "warning");
    assert_eq!(mixed["servers"].as_array().unwrap().len(), 3, "{mixed}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_in_startup_states() {
    let sim = replica_set(vec![
        MemberSpec::data(),
        MemberSpec::data(),
        MemberSpec::data().starting(StartupPhase::Startup2),
        MemberSpec::data().starting(StartupPhase::Startup),
    ])
    .await;
    let addresses = sim.addresses();
    let (_, report) = doctor(&sim.connection_string(), &[]).await;
    assert_fires(&report, "members.not-ready", "warning", &[&addresses[2]]);
    let not_ready = fired(&report, "members.not-ready")[0];
    assert!(
        not_ready["evidence"].as_str().unwrap().contains("STARTUP2"),
        "{not_ready}"
    );
    assert_fires(&report, "members.ghost", "warning", &[&addresses[3]]);
    let ghost = fired(&report, "members.ghost")[0];
    assert!(
        ghost["evidence"].as_str().unwrap().contains("STARTUP"),
        "{ghost}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_claim_to_be_primary() {
    let sim = replica_set(vec![
        MemberSpec::data(),
        MemberSpec::data(),
        MemberSpec::data(),
    ])
    .await;
    // The primary keeps claiming its term while another member is elected.
    control(&sim, "claim-primary 0 on").await;
    control(&sim, "elect 1").await;
    let addresses = sim.addresses();
    let (_, report) = doctor(&sim.connection_string(), &[]).await;
    // Servers are named in address order.
    let mut claimants = [addresses[0].as_str(), addresses[1].as_str()];
    claimants.sort_unstable();
    assert_fires(&report, "members.two-primaries", "warning", &claimants);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scram_mechanism_the_server_does_not_offer() {
    let sim = Deployment::start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0)
            .with_user(SimUser::new("app", "pw"))
            .with_scram_mechanisms(&[ScramMechanism::Sha1]),
    )
    .await
    .unwrap();
    let uri = format!(
        "{}&authMechanism=SCRAM-SHA-256",
        sim.connection_string()
            .replacen("mongodb://", "mongodb://app:pw@", 1)
    );
    let (code, report) = doctor(&uri, &[]).await;
    assert_eq!(code, 2);
    let finding = fired(&report, "auth.mechanism-not-offered")[0];
    assert_eq!(finding["severity"], "error");
    assert!(
        finding["evidence"]
            .as_str()
            .unwrap()
            .contains("SCRAM-SHA-1"),
        "{finding}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_horizon_name_used_without_tls() {
    // The member advertises 127.0.0.1:<port> and has an "outside" horizon named localhost
    // (its port does not matter here); horizons are chosen by TLS SNI, so a plain
    // connection by that name gets the default names.
    let sim = replica_set(vec![
        MemberSpec::data().with_horizon("outside", "localhost:27999")
    ])
    .await;
    let port = sim.ports()[0];
    let seed = format!("localhost:{port}");
    let (_, report) = doctor(&format!("mongodb://{seed}/?replicaSet=rs0"), &[]).await;
    let advertised = sim.addresses()[0].clone();
    assert_fires(
        &report,
        "names.advertised-differs",
        "warning",
        &[&seed, &advertised],
    );
    let finding = fired(&report, "names.advertised-differs")[0];
    assert!(
        finding["fix"].as_str().unwrap().contains("TLS SNI"),
        "{finding}"
    );
    sim.shutdown().await;
}
