//! The `failCommand` fail point over real sockets: every mode and data field, on hello as
//! on any other command, through the load balancer too.

mod sim_support;

use std::time::{Duration, Instant};

use bson::{doc, Document};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use sim_support::{code, ok, RawClient};

async fn standalone() -> (Deployment, String) {
    let d = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let address = d.addresses()[0].clone();
    (d, address)
}

async fn configure(address: &str, mode: bson::Bson, data: Document) -> Document {
    let mut admin = RawClient::connect(address).await;
    admin
        .command(
            "admin",
            doc! { "configureFailPoint": "failCommand", "mode": mode, "data": data },
        )
        .await
}

async fn client_named(address: &str, app: &str) -> RawClient {
    let mut c = RawClient::connect(address).await;
    let reply = c
        .command(
            "admin",
            doc! { "hello": 1, "client": { "application": { "name": app } } },
        )
        .await;
    assert_eq!(ok(&reply), 1.0);
    c
}

#[tokio::test]
async fn times_fails_the_next_n_commands_with_the_code_and_labels() {
    let (d, address) = standalone().await;
    let reply = configure(
        &address,
        doc! { "times": 2 }.into(),
        doc! { "failCommands": ["insert"], "errorCode": 91, "errorLabels": ["SystemOverloadedError"] },
    )
    .await;
    assert_eq!(ok(&reply), 1.0);
    let mut c = RawClient::connect(&address).await;
    let insert = doc! { "insert": "c", "documents": [{ "x": 1 }] };
    for _ in 0..2 {
        let failed = c.command("db", insert.clone()).await;
        assert_eq!(code(&failed), 91);
        assert_eq!(failed.get_str("codeName").ok(), Some("ShutdownInProgress"));
        assert_eq!(
            failed.get_array("errorLabels").unwrap(),
            &vec![bson::Bson::String("SystemOverloadedError".into())]
        );
    }
    assert_eq!(ok(&c.command("db", insert).await), 1.0);
    // Other commands were never affected.
    assert_eq!(ok(&c.command("admin", doc! { "ping": 1 }).await), 1.0);
    d.shutdown().await;
}

#[tokio::test]
async fn skip_lets_the_first_through_and_close_connection_closes() {
    let (d, address) = standalone().await;
    configure(
        &address,
        doc! { "skip": 1 }.into(),
        doc! { "failCommands": ["find"], "closeConnection": true },
    )
    .await;
    let mut c = RawClient::connect(&address).await;
    let find = doc! { "find": "c", "filter": {} };
    assert_eq!(ok(&c.command("db", find.clone()).await), 1.0);
    c.send_msg("db", find.clone(), Default::default()).await;
    assert!(c.closed_within(Duration::from_secs(5)).await);
    // alwaysOn after the skip: a new connection is closed too.
    let mut again = RawClient::connect(&address).await;
    again.send_msg("db", find, Default::default()).await;
    assert!(again.closed_within(Duration::from_secs(5)).await);
    d.shutdown().await;
}

#[tokio::test]
async fn always_on_hello_for_one_application_until_off() {
    let (d, address) = standalone().await;
    configure(
        &address,
        "alwaysOn".into(),
        doc! { "failCommands": ["hello", "isMaster"], "errorCode": 11600, "appName": "probe" },
    )
    .await;
    // Another application's handshake is untouched.
    let mut other = client_named(&address, "other").await;
    assert_eq!(ok(&other.hello().await), 1.0);
    for _ in 0..2 {
        let mut c = RawClient::connect(&address).await;
        let reply = c
            .command(
                "admin",
                doc! { "isMaster": 1, "client": { "application": { "name": "probe" } } },
            )
            .await;
        assert_eq!(code(&reply), 11600);
    }
    let off = configure(&address, "off".into(), doc! {}).await;
    assert_eq!(off.get_i64("count").ok(), Some(2));
    client_named(&address, "probe").await;
    d.shutdown().await;
}

#[tokio::test]
async fn block_connection_delays_and_write_concern_errors_ride_on_ok() {
    let (d, address) = standalone().await;
    configure(
        &address,
        doc! { "times": 1 }.into(),
        doc! { "failCommands": ["insert"], "blockConnection": true, "blockTimeMS": 300,
        "writeConcernError": { "code": 91, "errmsg": "Replication is being shut down" } },
    )
    .await;
    let mut c = RawClient::connect(&address).await;
    let started = Instant::now();
    let reply = c
        .command("db", doc! { "insert": "c", "documents": [{ "_id": 1 }] })
        .await;
    assert!(started.elapsed() >= Duration::from_millis(290));
    assert_eq!(ok(&reply), 1.0);
    assert_eq!(reply.get_i32("n").ok(), Some(1), "the insert ran");
    assert_eq!(
        reply
            .get_document("writeConcernError")
            .unwrap()
            .get_i32("code")
            .ok(),
        Some(91)
    );
    let stored = c.command("db", doc! { "find": "c", "filter": {} }).await;
    let batch = stored
        .get_document("cursor")
        .unwrap()
        .get_array("firstBatch")
        .unwrap();
    assert_eq!(batch.len(), 1);
    d.shutdown().await;
}

#[tokio::test]
async fn the_fail_point_works_behind_the_load_balancer() {
    let d = Deployment::start(DeploymentSpec::sharded(1).with_load_balancer(0))
        .await
        .unwrap();
    let address = d.load_balancer_address().unwrap();
    let mut admin = RawClient::connect(&address).await;
    let reply = admin
        .command(
            "admin",
            doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 },
            "data": { "failCommands": ["ping"], "errorCode": 2 } },
        )
        .await;
    assert_eq!(ok(&reply), 1.0);
    let mut c = RawClient::connect(&address).await;
    assert_eq!(code(&c.command("admin", doc! { "ping": 1 }).await), 2);
    assert_eq!(ok(&c.command("admin", doc! { "ping": 1 }).await), 1.0);
    d.shutdown().await;
}
