//! The faithful replay (issue 18, Deliver 3) seen by the official Rust driver: an incident
//! scripted on the simulator is recorded by our engine **polling**
//! (tests/replay_support/mod.rs of the root package, shared with tests/replay_faithful.rs),
//! replayed at speed 1 by `mongo_topology_sim::replay`, and the driver (monitoring
//! **streaming**, its default) pointed at the replay sees the same server types per address
//! and topology types, in the same order, each within the stated tolerance of its recorded
//! time.

#[path = "../../../tests/replay_support/mod.rs"]
mod replay_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mongo_topology_rust_driver_interop::server_types;
use mongo_topology_sim::replay::Replay;
use mongodb::event::sdam::SdamEvent;
use mongodb::event::EventHandler;
use mongodb::options::ClientOptions;
use mongodb::Client;
use replay_support::*;
use tokio::time::Instant;

/// The driver's server type as the SDAM spec (and our recording) names it.
fn spec_name(server_type: mongodb::ServerType) -> String {
    let name = format!("{server_type:?}");
    match name.strip_prefix("Rs") {
        Some(rest) => format!("RS{rest}"),
        None => name,
    }
}

/// The topology type the driver's description implies by the SDAM spec: a replica set is
/// `ReplicaSetWithPrimary` exactly when one of its servers is an `RSPrimary`
/// (checkIfHasPrimary). The driver's own `topology_type()` is not used for replica sets:
/// mongodb 3.9.1 does not run checkIfHasPrimary when a primary reports itself a secondary
/// (`update_rs_with_primary_from_member` in src/sdam/description/topology.rs), so after a
/// stepdown it keeps reporting `ReplicaSetWithPrimary` with no primary among its servers,
/// whatever the deployment, replayed or live.
fn spec_topology_type(description: &mongodb::event::sdam::TopologyDescription) -> String {
    let reported = format!("{:?}", description.topology_type());
    if !reported.starts_with("ReplicaSet") {
        return reported;
    }
    let has_primary = server_types(description)
        .values()
        .any(|kind| *kind == mongodb::ServerType::RsPrimary);
    if has_primary {
        "ReplicaSetWithPrimary".to_owned()
    } else {
        "ReplicaSetNoPrimary".to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_sees_a_replayed_incident_as_recorded() {
    let dir = std::env::temp_dir().join(format!("driver-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let incident = record_replica_set_incident(&dir, "poll").await;
    let recorded = seen_in_recording(&incident.text, incident.end);
    assert_eq!(recorded.servers.len(), 3, "{recorded:#?}");
    assert_eq!(
        recorded.topology_types(),
        [
            "ReplicaSetNoPrimary",
            "ReplicaSetWithPrimary",
            "ReplicaSetNoPrimary",
            "ReplicaSetWithPrimary"
        ],
        "{recorded:#?}"
    );

    let replay = Replay::start(&incident.text, 1.0).await.unwrap();
    let zero = Instant::now();
    let events: Arc<Mutex<Vec<(Instant, SdamEvent)>>> = Arc::default();
    let sink = events.clone();
    let uri = with_options(&replay.connection_string(), TIMING);
    let mut options = ClientOptions::parse(&uri).await.unwrap();
    options.sdam_event_handler = Some(EventHandler::callback(move |event| {
        if let Ok(mut events) = sink.lock() {
            events.push((Instant::now(), event));
        }
    }));
    let client = Client::with_options(options).unwrap();
    tokio::time::sleep_until(zero + incident.end + AFTER_END).await;
    let events = std::mem::take(&mut *events.lock().unwrap());
    let _ = tokio::time::timeout(Duration::from_secs(10), client.shutdown()).await;
    // Replay port → recorded address.
    let mapped_back = |address: &str| replay.recorded(address).unwrap_or("unmapped").to_owned();
    let mut seen = Seen::default();
    let mut reported = Seen::default();
    for (at, event) in events {
        let at = at.saturating_duration_since(zero);
        match event {
            SdamEvent::ServerDescriptionChanged(changed) => seen.server(
                &mapped_back(&changed.address.to_string()),
                &spec_name(changed.new_description.server_type()),
                at,
            ),
            SdamEvent::ServerClosed(closed) => {
                seen.server(&mapped_back(&closed.address.to_string()), REMOVED, at)
            }
            SdamEvent::TopologyDescriptionChanged(changed) => {
                let description = &changed.new_description;
                reported.topology(&format!("{:?}", description.topology_type()), at);
                seen.topology(&spec_topology_type(description), at)
            }
            _ => {}
        }
    }
    replay.shutdown().await;
    let largest = recorded.assert_replayed_by(&seen, "the Rust driver", TOLERANCE);
    eprintln!("largest time difference from the recording: {largest:?}");
    eprintln!(
        "the topology types the driver reports (not those its servers imply): {:?}",
        reported.topology_types()
    );
}
