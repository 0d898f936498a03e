//! Every emulated server version: the driver works with those it supports and refuses the
//! others promptly with a wire-version incompatibility error.

use std::time::{Duration, Instant};

use mongo_topology_rust_driver_interop::{
    all_known, client, describe, reply_ok, shut_down, within, SdamLog, SERVER_SELECTION_TIMEOUT,
};
use mongo_topology_sim::versions::ALL_VERSIONS;
use mongo_topology_sim::{Deployment, DeploymentSpec, ServerVersion};
use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::TopologyType;

/// The oldest wire version the driver speaks (`DRIVER_MIN_WIRE_VERSION` in the driver's
/// src/sdam/description/server.rs: 9, MongoDB 4.4, for driver 3.x).
const DRIVER_MIN_WIRE_VERSION: i32 = 9;

fn supported(version: ServerVersion) -> bool {
    version.max_wire_version() >= DRIVER_MIN_WIRE_VERSION
}

/// The deployments tried for each version, with the topology type the driver must see.
fn shapes(version: ServerVersion) -> [(DeploymentSpec, TopologyType); 3] {
    [
        (
            DeploymentSpec::replica_set("rs0", 2, 1, 0),
            TopologyType::ReplicaSetWithPrimary,
        ),
        (DeploymentSpec::sharded(2), TopologyType::Sharded),
        (DeploymentSpec::standalone(), TopologyType::Single),
    ]
    .map(|(spec, kind)| (spec.with_version(version), kind))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_version_and_topology_works() {
    let versions: Vec<_> = ALL_VERSIONS.into_iter().filter(|v| supported(*v)).collect();
    assert_eq!(versions.first(), Some(&ServerVersion::V4_4), "{versions:?}");
    for version in versions {
        for (spec, expected) in shapes(version) {
            let deployment = Deployment::start(spec).await.unwrap();
            let log = SdamLog::new();
            let client = client(&deployment.connection_string(), &log).await.unwrap();
            let admin = client.database("admin");
            let context = format!("{version} {expected:?}");

            let reply = admin.run_command(doc! { "ping": 1 }).await.unwrap();
            assert!(reply_ok(&reply), "{context}: {reply:?}");
            let info = admin.run_command(doc! { "buildInfo": 1 }).await.unwrap();
            let reported = info.get_str("version").unwrap_or_default();
            assert!(
                reported.starts_with(&format!("{}.", version.series())),
                "{context}: buildInfo says {reported:?}"
            );
            let things = client.database("test").collection::<Document>("things");
            things
                .insert_one(doc! { "v": version.series() })
                .await
                .unwrap();
            // The simulator keeps documents, as a server does: the insert is read back.
            let found = things.find_one(doc! {}).await.unwrap();
            assert_eq!(
                found.as_ref().and_then(|found| found.get_str("v").ok()),
                Some(version.series()),
                "{context}: {found:?}"
            );

            let topology = within(
                Duration::from_secs(5),
                "every server known",
                log.wait_for_topology(&context, Duration::from_secs(5), all_known),
            )
            .await
            .unwrap()
            .unwrap();
            assert_eq!(
                topology.topology_type(),
                expected,
                "{context}: {}",
                describe(&topology)
            );
            let wires: Vec<_> = topology
                .servers()
                .values()
                .map(|s| s.max_wire_version())
                .collect();
            assert!(
                wires.iter().all(|w| *w == Some(version.max_wire_version())),
                "{context}: max wire versions {wires:?}"
            );
            assert_eq!(log.heartbeat_failures(), Vec::<String>::new(), "{context}");
            eprintln!("{context}: ok");
            shut_down(client, deployment).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_unsupported_version_is_refused_promptly() {
    let versions: Vec<_> = ALL_VERSIONS
        .into_iter()
        .filter(|v| !supported(*v))
        .collect();
    assert!(versions.contains(&ServerVersion::V4_2), "{versions:?}");
    for version in versions {
        for (spec, _) in shapes(version) {
            let deployment = Deployment::start(spec).await.unwrap();
            let log = SdamLog::new();
            let client = client(&deployment.connection_string(), &log).await.unwrap();
            let context = format!("{version} {:?}", deployment.connection_string());

            let started = Instant::now();
            let error = client
                .database("admin")
                .run_command(doc! { "ping": 1 })
                .await
                .unwrap_err();
            let took = started.elapsed();
            let ErrorKind::ServerSelection { message, .. } = error.kind.as_ref() else {
                panic!("{context}: expected a server selection error, got {error}");
            };
            let wire = version.max_wire_version();
            assert!(
                message.contains(&format!("reports wire version {wire}"))
                    && message.contains(&format!("requires at least {DRIVER_MIN_WIRE_VERSION}")),
                "{context}: {message}"
            );
            // Refused as soon as the first handshake is seen, not after the selection timeout.
            assert!(
                took < SERVER_SELECTION_TIMEOUT / 2,
                "{context}: refused after {took:?}"
            );
            // The driver's published topology carries the same incompatibility (its SDAM
            // events are delivered asynchronously, so wait for it).
            log.wait_for_topology("the compatibility error", Duration::from_secs(2), |t| {
                t.compatibility_error()
                    .is_some_and(|e| e.contains(&format!("wire version {wire}")))
            })
            .await
            .unwrap();
            eprintln!("{context}: refused after {took:?}: {message}");
            shut_down(client, deployment).await.unwrap();
        }
    }
}
