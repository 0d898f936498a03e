//! The official Rust driver and a blackholed primary (issue 18, item 5): inside a fresh
//! network namespace a traffic-control rule drops every packet to and from the primary's
//! port (the root package's tests/netns_support, shared here by `#[path]`); the driver runs
//! with its default settings and with the settings `doctor` suggests, at once. Measured:
//! the time from the blackhole until the driver's topology has no primary, and until its
//! first write on member 1 (elected a second after the driver noticed) succeeds.

#[path = "../../../tests/netns_support/mod.rs"]
mod netns_support;

use std::time::{Duration, Instant};

use mongo_topology_rust_driver_interop::{describe, primary, SdamLog};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use mongodb::bson::{doc, Document};
use mongodb::options::ClientOptions;
use mongodb::Client;
use netns_support::{blackhole, in_a_network_namespace};

/// The driver's defaults: heartbeatFrequencyMS 10 s, connectTimeoutMS 10 s.
const DEFAULTS: &str = "";
/// What `doctor` suggests for a silent server, as in tests/blackhole.rs but without
/// socketTimeoutMS, which this driver refuses ("does not support socketTimeoutMS").
const SUGGESTED: &str = "&heartbeatFrequencyMS=2000&connectTimeoutMS=2000";

#[test]
fn rust_driver_and_a_blackholed_primary() {
    in_a_network_namespace("rust_driver_and_a_blackholed_primary", both);
}

/// Milliseconds from the blackhole until the driver had no primary, and until its first
/// write on the new primary.
async fn case(name: &str, options: &str) -> (u128, u128) {
    let sim = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let members = sim.addresses();
    let uri = format!("mongodb://{}/?replicaSet=rs0{options}", members[0]);
    let log = SdamLog::new();
    let mut client_options = ClientOptions::parse(&uri).await.unwrap();
    client_options.sdam_event_handler = Some(log.handler());
    let client = Client::with_options(client_options).unwrap();
    let things = client.database("blackhole").collection::<Document>("probe");
    things.insert_one(doc! { "before": 1 }).await.unwrap();
    log.wait_for_topology("the first primary", Duration::from_secs(20), |t| {
        primary(t).as_deref() == Some(members[0].as_str())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    blackhole(sim.ports()[0]);
    let blackholed = Instant::now();
    let lost = log
        .wait_for_topology("no primary", Duration::from_secs(45), |t| {
            primary(t).is_none()
        })
        .await
        .unwrap();
    let noticed = blackholed.elapsed();
    eprintln!("{name}: no primary after {noticed:?}: {}", describe(&lost));
    tokio::time::sleep(Duration::from_secs(1)).await;
    sim.elect(&MemberRef::Index(1)).unwrap();
    tokio::time::timeout(
        Duration::from_secs(40),
        things.insert_one(doc! { "after": 1 }),
    )
    .await
    .expect("the write after the election hung")
    .unwrap();
    let written = blackholed.elapsed();
    let now = log.latest_topology().unwrap();
    assert_eq!(
        primary(&now).as_deref(),
        Some(members[1].as_str()),
        "{}",
        describe(&now)
    );
    // The blackholed member's monitor may hang in connect: do not wait for a shutdown.
    drop(client);
    sim.shutdown().await;
    (noticed.as_millis(), written.as_millis())
}

async fn both() {
    let ((default_noticed, default_written), (suggested_noticed, suggested_written)) =
        tokio::join!(case("defaults", DEFAULTS), case("suggested", SUGGESTED));
    for (name, noticed, written) in [
        ("defaults", default_noticed, default_written),
        ("suggested", suggested_noticed, suggested_written),
    ] {
        println!(
            "blackhole figures: Rust driver {name}: lost the primary after {noticed} ms, \
             first write on the new primary {written} ms after the blackhole"
        );
    }
    assert!(
        default_noticed >= 10_000,
        "defaults: a silent check waits connectTimeoutMS: {default_noticed} ms"
    );
    assert!(
        suggested_noticed < 8_000,
        "suggested: within heartbeat + connectTimeoutMS: {suggested_noticed} ms"
    );
    assert!(suggested_written < default_written);
}
