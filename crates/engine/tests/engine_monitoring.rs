//! Monitoring behaviour of the live engine: events, check requests, streaming, RTT, and the
//! Server Monitoring prose tests that need no real server.

mod engine_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::{doc, Document};
use engine_support::*;
use mongo_topology::sdam::{SdamEvent, ServerType};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::wire::{encode_message, Message, OpMsg, Payload};
use mongo_topology::{
    ClusterEvent, ClusterSettings, EventKind, EventRecvError, EventSubscriber, ServerAddress,
};
use mongo_topology_sim::{DeploymentSpec, MemberRef};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

fn with_events(uri: &str) -> (mongo_topology::Cluster, EventSubscriber) {
    mongo_topology::Cluster::with_events(ClusterSettings::parse(uri).unwrap()).unwrap()
}

/// Every event received until `deadline` (or until the stream closes).
async fn events_until(events: &mut EventSubscriber, deadline: Instant) -> Vec<ClusterEvent> {
    let mut seen = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        seen.push(event);
    }
    seen
}

fn heartbeats_started(events: &[ClusterEvent], address: &ServerAddress) -> usize {
    events
        .iter()
        .filter(
            |e| matches!(&e.kind, EventKind::HeartbeatStarted { address: a, .. } if a == address),
        )
        .count()
}

fn name(event: &ClusterEvent) -> &'static str {
    match &event.kind {
        EventKind::Sdam(SdamEvent::TopologyOpening) => "TopologyOpening",
        EventKind::Sdam(SdamEvent::TopologyClosed) => "TopologyClosed",
        EventKind::Sdam(SdamEvent::ServerOpening { .. }) => "ServerOpening",
        EventKind::Sdam(SdamEvent::ServerClosed { .. }) => "ServerClosed",
        EventKind::Sdam(SdamEvent::ServerDescriptionChanged { .. }) => "ServerDescriptionChanged",
        EventKind::Sdam(SdamEvent::TopologyDescriptionChanged { .. }) => {
            "TopologyDescriptionChanged"
        }
        EventKind::HeartbeatStarted { .. } => "HeartbeatStarted",
        EventKind::HeartbeatSucceeded { .. } => "HeartbeatSucceeded",
        EventKind::HeartbeatFailed { .. } => "HeartbeatFailed",
        EventKind::Cmap(event) => event.kind.name(),
        _ => "other",
    }
}

#[tokio::test]
async fn events_arrive_in_order_from_opening_to_closing() {
    let sim = start(DeploymentSpec::standalone()).await;
    let server = address(&sim, 0);
    let (cluster, mut events) = with_events(&uri(std::slice::from_ref(&server), ""));
    wait_until(&cluster, "the standalone", all_known).await;
    cluster.close().await;
    let mut names = Vec::new();
    loop {
        match events.recv().await {
            Ok(event) => {
                assert_eq!(event.topology_id, cluster.topology_id());
                names.push(name(&event));
            }
            Err(EventRecvError::Closed) => break,
            Err(other) => panic!("{other}"),
        }
    }
    // Heartbeat events come from the monitor's task, so they interleave with the cluster
    // task's events; each stream is ordered, and a check's success precedes its effect.
    let position = |wanted: &str| names.iter().position(|n| *n == wanted).unwrap();
    assert!(
        position("HeartbeatStarted") < position("HeartbeatSucceeded"),
        "{names:?}"
    );
    assert!(
        position("HeartbeatSucceeded") < position("ServerDescriptionChanged"),
        "{names:?}"
    );
    let sdam: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !n.starts_with("Heartbeat") && !n.starts_with("Connection"))
        .collect();
    assert_eq!(
        sdam,
        [
            "TopologyOpening",
            "TopologyDescriptionChanged",
            "ServerOpening",
            "ServerDescriptionChanged",
            "TopologyDescriptionChanged",
            "ServerClosed",
            "TopologyDescriptionChanged",
            "TopologyClosed",
        ],
        "{names:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn check_requests_coalesce_and_respect_the_minimum_frequency() {
    let sim = start(DeploymentSpec::standalone()).await;
    let server = address(&sim, 0);
    let (cluster, mut events) = with_events(&uri(
        std::slice::from_ref(&server),
        "serverMonitoringMode=poll",
    ));
    wait_until(&cluster, "the standalone", all_known).await;
    // 200 requests over 1.2 s; heartbeatFrequencyMS is 10 s, the minimum 500 ms.
    let window = Instant::now() + Duration::from_millis(1_200);
    let requester = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                cluster.request_check();
                tokio::time::sleep(Duration::from_millis(6)).await;
            }
        })
    };
    let seen = events_until(&mut events, window).await;
    requester.abort();
    let checks = heartbeats_started(&seen, &server) - 1; // the discovery check
    assert!((1..=3).contains(&checks), "{checks} checks in 1.2 s");
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn streaming_replies_arrive_about_every_heartbeat() {
    // Prose test "Streaming protocol Tests" 1: heartbeatFrequencyMS=500.
    let sim = start(DeploymentSpec::replica_set("rs0", 1, 0, 0)).await;
    let server = address(&sim, 0);
    let (cluster, mut events) = with_events(&uri(
        std::slice::from_ref(&server),
        "replicaSet=rs0&heartbeatFrequencyMS=500",
    ));
    wait_until(&cluster, "the primary", |t| t.primary().is_some()).await;
    let seen = events_until(&mut events, Instant::now() + Duration::from_millis(2_100)).await;
    let awaited = seen
        .iter()
        .filter(|e| matches!(e.kind, EventKind::HeartbeatSucceeded { awaited: true, .. }))
        .count();
    assert!(
        (3..=6).contains(&awaited),
        "{awaited} awaited replies in 2.1 s"
    );
    cluster.close().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn rtt_is_continuously_updated_while_streaming() {
    // Prose test "RTT Tests" 1, with the simulator's reply latency as the failpoint.
    let sim = start(DeploymentSpec::replica_set("rs0", 1, 0, 0)).await;
    let server = address(&sim, 0);
    let cluster = connect(&uri(
        std::slice::from_ref(&server),
        "replicaSet=rs0&heartbeatFrequencyMS=500",
    ));
    let known = wait_until(&cluster, "the primary", |t| t.primary().is_some()).await;
    let first = known.server(&server).and_then(|s| s.round_trip_time);
    assert!(first.is_some_and(|rtt| rtt > Duration::ZERO), "{first:?}");
    sim.set_latency(&MemberRef::Index(0), Duration::from_millis(300))
        .unwrap();
    let slow = wait_until(&cluster, "an RTT above 250 ms", |t| {
        t.server(&server)
            .and_then(|s| s.round_trip_time)
            .is_some_and(|rtt| rtt > Duration::from_millis(250))
    })
    .await;
    assert_eq!(
        slow.server(&server).map(|s| s.server_type),
        Some(ServerType::RsPrimary)
    );
    cluster.close().await;
    sim.shutdown().await;
}

/// A mock server: records when a client connects and when its first message arrives, then
/// closes the connection (Heartbeat prose test 1).
#[tokio::test]
async fn heartbeat_started_is_emitted_before_the_monitoring_socket_is_created() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let marks: Arc<Mutex<Vec<(&'static str, Instant)>>> = Arc::default();
    let server_marks = marks.clone();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        server_marks
            .lock()
            .unwrap()
            .push(("client connected", Instant::now()));
        let mut byte = [0u8; 1];
        let _ = socket.read(&mut byte).await;
        server_marks
            .lock()
            .unwrap()
            .push(("client hello received", Instant::now()));
    });
    let (cluster, mut events) = with_events(&format!(
        "mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=500"
    ));
    let _ = cluster.select_server(&SelectionCriteria::write()).await;
    server.await.unwrap();
    for event in events_until(&mut events, Instant::now() + Duration::from_millis(100)).await {
        match event.kind {
            EventKind::HeartbeatStarted { .. } => marks.lock().unwrap().push(("started", event.at)),
            EventKind::HeartbeatFailed { .. } => marks.lock().unwrap().push(("failed", event.at)),
            _ => {}
        }
    }
    let mut marks = marks.lock().unwrap().clone();
    marks.sort_by_key(|(_, at)| *at);
    let order: Vec<&str> = marks.iter().map(|(what, _)| *what).take(4).collect();
    assert_eq!(
        order,
        [
            "started",
            "client connected",
            "client hello received",
            "failed"
        ]
    );
    cluster.close().await;
}

async fn reply(socket: &mut TcpStream, request: &Message, body: Document) {
    let message = Message {
        request_id: request.request_id.wrapping_add(1_000),
        response_to: request.request_id,
        payload: Payload::Msg(OpMsg::new(body)),
    };
    let bytes = encode_message(&message).unwrap();
    let _ = socket.write_all(&bytes).await;
}

#[tokio::test]
async fn monitors_sleep_at_least_min_heartbeat_frequency_between_failed_checks() {
    // Prose test "Monitors sleep at least minHeartbeatFrequencyMS between checks": the
    // first five hellos fail with code 1234; selection must take 2 to 3.5 s.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hellos = Arc::new(Mutex::new(0u32));
    let counter = hellos.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                while let Some(request) = read_message(&mut socket).await {
                    let seen = {
                        let mut count = counter.lock().unwrap();
                        *count += 1;
                        *count
                    };
                    let body = if seen <= 5 {
                        doc! { "ok": 0, "code": 1234, "errmsg": "injected hello failure" }
                    } else {
                        doc! {
                            "ok": 1, "isWritablePrimary": true, "helloOk": true,
                            "minWireVersion": 0, "maxWireVersion": 21,
                        }
                    };
                    reply(&mut socket, &request, body).await;
                }
            });
        }
    });
    let cluster = connect(&format!(
        "mongodb://127.0.0.1:{port}/?directConnection=true&appName=SDAMMinHeartbeatFrequencyTest&serverSelectionTimeoutMS=5000&serverMonitoringMode=poll"
    ));
    let started = Instant::now();
    let selected = cluster.select_server(&SelectionCriteria::write()).await;
    let took = started.elapsed();
    assert!(selected.is_ok(), "{:?}", selected.err());
    assert!(
        took >= Duration::from_secs(2) && took <= Duration::from_millis(3_500),
        "selection took {took:?}"
    );
    cluster.close().await;
}
