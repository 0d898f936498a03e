//! The official driver against the real-world traps the simulator stages (what `doctor`'s
//! findings announce, shown true for another client): members advertising names that do not
//! resolve make its first write time out while `directConnection=true` writes; a load
//! balancer in front of replica set members fails load-balanced mode; a server offering
//! SCRAM-SHA-1 only refuses `authMechanism=SCRAM-SHA-256` and authenticates by negotiation.

use mongo_topology_rust_driver_interop::{client, server_error, SdamLog};
use mongo_topology_sim::{
    Deployment, DeploymentSpec, MemberSpec, ScramMechanism, SimUser, TopologySpec,
};
use mongodb::bson::{doc, Document};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolvable_advertised_names_make_the_first_write_time_out() {
    let deployment = Deployment::start(DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: "rs0".into(),
        members: (0..3)
            .map(|i| MemberSpec::data().advertised_as(&format!("mongo-{i}.invalid")))
            .collect(),
    }))
    .await
    .unwrap();
    let log = SdamLog::new();
    let set = client(&deployment.connection_string(), &log).await.unwrap();
    let error = set
        .database("test")
        .collection::<Document>("things")
        .insert_one(doc! { "x": 1 })
        .await
        .expect_err("a write through names that do not resolve");
    let text = error.to_string();
    assert!(
        text.contains("Server selection timeout") && text.contains(".invalid"),
        "{text}"
    );
    set.shutdown().await;
    // The usual "fix" writes, and has turned failover off.
    let seed = &deployment.listening_addresses()[0];
    let direct = client(&format!("mongodb://{seed}/?directConnection=true"), &log)
        .await
        .unwrap();
    direct
        .database("test")
        .collection::<Document>("things")
        .insert_one(doc! { "x": 1 })
        .await
        .unwrap();
    direct.shutdown().await;
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balancer_in_front_of_members_fails_load_balanced_mode() {
    let deployment = Deployment::start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0).with_load_balancer_in_front_of_members(0),
    )
    .await
    .unwrap();
    let log = SdamLog::new();
    let uri = deployment.load_balancer_connection_string().unwrap();
    let lb = client(&uri, &log).await.unwrap();
    let error = lb
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .expect_err("load-balanced mode without a serviceId");
    let text = error.to_string();
    assert!(
        text.contains("serviceId") || text.to_lowercase().contains("load balanc"),
        "{text}"
    );
    lb.shutdown().await;
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insisting_on_scram_sha_256_fails_where_only_sha_1_is_offered() {
    let deployment = Deployment::start(
        DeploymentSpec::replica_set("rs0", 1, 0, 0)
            .with_user(SimUser::new("app", "s3cret"))
            .with_scram_mechanisms(&[ScramMechanism::Sha1]),
    )
    .await
    .unwrap();
    let seed = &deployment.addresses()[0];
    let log = SdamLog::new();
    let insisting = client(
        &format!("mongodb://app:s3cret@{seed}/?directConnection=true&authMechanism=SCRAM-SHA-256"),
        &log,
    )
    .await
    .unwrap();
    let error = insisting
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .expect_err("SCRAM-SHA-256 is not offered");
    assert!(
        error.to_string().contains("not enabled")
            || server_error(&error).is_some_and(|(c, _)| c == 334),
        "{error}"
    );
    insisting.shutdown().await;
    let negotiating = client(
        &format!("mongodb://app:s3cret@{seed}/?directConnection=true"),
        &log,
    )
    .await
    .unwrap();
    negotiating
        .database("test")
        .run_command(doc! { "find": "things" })
        .await
        .unwrap();
    negotiating.shutdown().await;
    deployment.shutdown().await;
}
