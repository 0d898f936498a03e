//! Commands the drivers' unified tests send besides CRUD: `replSetStepDown` (another
//! member is elected), `replSetFreeze`, and a `$where` that sleeps.

mod sim_support;

use std::time::{Duration, Instant};

use bson::doc;
use mongo_topology_sim::{Deployment, DeploymentSpec};
use sim_support::{code, ok, RawClient};

#[tokio::test]
async fn step_down_elects_another_member() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let addresses = d.addresses();
    let mut primary = RawClient::connect(&addresses[0]).await;
    assert_eq!(
        primary.hello().await.get_bool("isWritablePrimary").ok(),
        Some(true)
    );
    let mut secondary = RawClient::connect(&addresses[1]).await;
    assert_eq!(
        ok(&secondary
            .command("admin", doc! { "replSetFreeze": 0 })
            .await),
        1.0
    );
    assert_eq!(
        code(
            &secondary
                .command("admin", doc! { "replSetStepDown": 30 })
                .await
        ),
        10107
    );
    let reply = primary
        .command("admin", doc! { "replSetStepDown": 30, "force": false })
        .await;
    assert_eq!(ok(&reply), 1.0);
    assert_eq!(
        primary.hello().await.get_bool("isWritablePrimary").ok(),
        Some(false)
    );
    let new_primary = secondary.hello().await;
    assert_eq!(new_primary.get_bool("isWritablePrimary").ok(), Some(true));
    d.shutdown().await;
}

#[tokio::test]
async fn a_where_that_sleeps_delays_the_reply() {
    let d = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    let started = Instant::now();
    let reply = c
        .command(
            "db",
            doc! { "find": "c", "filter": { "$where": "sleep(300) || true" } },
        )
        .await;
    assert_eq!(ok(&reply), 1.0);
    assert!(started.elapsed() >= Duration::from_millis(290));
    d.shutdown().await;
}
