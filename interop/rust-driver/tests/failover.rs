//! Failover: the primary steps down, another member is elected, and the driver follows.

use std::time::{Duration, Instant};

use mongo_topology_rust_driver_interop::{
    client_options, describe, has_primary, primary, server_types, shut_down, CommandLog, SdamLog,
};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use mongodb::bson::{doc, Document};
use mongodb::{Client, ServerType};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_reaches_the_newly_elected_primary() {
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let members = deployment.addresses();
    let log = SdamLog::new();
    let commands = CommandLog::new();
    let mut options = client_options(&deployment.connection_string(), &log)
        .await
        .unwrap();
    options.command_event_handler = Some(commands.handler());
    let client = Client::with_options(options).unwrap();
    let things = client.database("test").collection::<Document>("things");

    things.insert_one(doc! { "x": 1 }).await.unwrap();
    let before = log
        .wait_for_topology("the first primary", Duration::from_secs(5), has_primary)
        .await
        .unwrap();
    assert_eq!(
        primary(&before).as_deref(),
        Some(members[0].as_str()),
        "{}",
        describe(&before)
    );

    let inserts_before = commands.named("insert").len();
    deployment.stepdown().unwrap();
    deployment.elect(&MemberRef::Index(1)).unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(8), things.insert_one(doc! { "x": 2 }))
        .await
        .expect("the insert after the election hung")
        .unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the insert after the election took {took:?}"
    );

    // The insert that succeeded went to the new primary; at most one retry was needed.
    let inserts = commands.named("insert");
    let after_election: Vec<_> = inserts.iter().skip(inserts_before).collect();
    let succeeded: Vec<_> = after_election
        .iter()
        .filter(|r| r.outcome == "succeeded")
        .collect();
    assert_eq!(succeeded.len(), 1, "{after_election:#?}");
    assert_eq!(succeeded[0].address, members[1], "{after_election:#?}");
    let attempts = after_election
        .iter()
        .filter(|r| r.outcome == "started")
        .count();
    assert!((1..=2).contains(&attempts), "{after_election:#?}");
    eprintln!("insert after the election: {attempts} attempt(s), {took:?}: {after_election:#?}");

    // The driver's topology events show the new primary and the old one as a secondary.
    let after = log
        .wait_for_topology("the new primary", Duration::from_secs(5), |t| {
            primary(t).as_deref() == Some(members[1].as_str())
                && server_types(t).get(&members[0]) == Some(&ServerType::RsSecondary)
        })
        .await
        .unwrap();
    assert_eq!(
        server_types(&after).get(&members[2]),
        Some(&ServerType::RsSecondary),
        "{}",
        describe(&after)
    );

    // Stepping down and electing close no connection: the monitors never lose a server.
    assert_eq!(log.heartbeat_failures(), Vec::<String>::new());
    shut_down(client, deployment).await.unwrap();
}
