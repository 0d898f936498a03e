//! Issue 18, Performance: "replay of a 10-minute recording at `--speed 60` within 1 % of the
//! intended timing".
//!
//! A synthetic 10-minute recording (written here in the format of docs/recording.md) of a
//! 3-member replica set whose replies change every 20 s (a stepdown, then an election of the
//! next member: a new primary every 40 s) is replayed at speed 60, i.e. in 10 s. Every
//! recorded change is due `t / 60` after the replay's time zero, and is measured twice:
//!
//! - **server side**: a raw streaming (exhaust) hello on each node, which the node answers
//!   the moment its reply changes; what it measures is the replay's own timing (plus the
//!   loopback and the scheduling of this machine). Each switch must come within 100 ms of its
//!   intended time (1 % of the 10 s), and so must the last one (the whole replay's length).
//! - **client side**: our engine, streaming, pointed at the replay; its primary (or its lack
//!   of one) must change in the recorded order, each change within 500 ms of the intended
//!   time. That is the replay's error plus the client's own detection delay (a streamed
//!   reply to read and apply), which no replay can remove.
//!
//! The measured figures are printed (`cargo test --test replay_timing -- --nocapture`).

use std::time::Duration;

use bson::{doc, Bson, Document};
use mongo_topology::sdam::SdamEvent;
use mongo_topology::wire::framing::{MessageReader, MessageWriter};
use mongo_topology::wire::{Message, MsgFlags, OpMsg, Payload, MAX_MESSAGE_SIZE_BYTES};
use mongo_topology::{Cluster, ClusterSettings, EventKind, EventRecvError};
use mongo_topology_sim::replay::Replay;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::time::Instant;

const SPEED: f64 = 60.0;
const MEMBERS: [&str; 3] = [
    "db0.example:27017",
    "db1.example:27017",
    "db2.example:27017",
];
/// Recording seconds between two changes.
const PHASE_S: u64 = 20;
/// Phases 0..=LAST_PHASE: the last change is at 600 s, the recording's end (10 minutes).
const LAST_PHASE: u64 = 30;
/// The bound: 1 % of the replay's intended length (600 s / 60 = 10 s).
const SERVER_TOLERANCE: Duration = Duration::from_millis(100);
/// The replay's error plus our streaming client's detection delay on a loaded machine.
const CLIENT_TOLERANCE: Duration = Duration::from_millis(500);
const GUARD: Duration = Duration::from_secs(30);

/// The primary during phase `k`: phases alternate between a primary and none (after its
/// stepdown, before the next member's election).
fn primary_of(phase: u64) -> Option<usize> {
    (phase % 2 == 0).then_some(((phase / 2) % 3) as usize)
}

/// When phase `k` is meant to be served, from the replay's time zero.
fn intended(phase: u64) -> Duration {
    Duration::from_secs_f64((phase * PHASE_S) as f64 / SPEED)
}

/// Member `member`'s hello reply during `phase`.
fn reply(member: usize, phase: u64) -> serde_json::Value {
    let primary = primary_of(phase);
    let mut reply = json!({
        "isWritablePrimary": primary == Some(member),
        "secondary": primary != Some(member),
        "setName": "rs0",
        "setVersion": 1,
        "hosts": MEMBERS,
        "me": MEMBERS[member],
        "maxWireVersion": 21,
        "minWireVersion": 0,
        "localTime": {"$date": {"$numberLong": (1_796_622_585_000 + phase * PHASE_S * 1000).to_string()}},
        "ok": 1.0,
    });
    if let Some(primary) = primary {
        reply["primary"] = json!(MEMBERS[primary]);
    }
    if primary == Some(member) {
        reply["electionId"] = json!({"$oid": format!("7fffffff{:016x}", phase / 2 + 1)});
    }
    reply
}

/// The 10-minute recording: a header with the recording client's settings, and at each
/// phase one hello record per member (the first polled, the others streamed).
fn recording() -> String {
    let started_wall_us: u64 = 1_796_622_585_000_000;
    let header = json!({
        "format": "mongo-topology-recording", "version": 1, "part": 0,
        "started_at": "2026-12-07T05:49:45.000Z", "started_wall_us": started_wall_us,
        "connection_string": "mongodb://db0.example:27017/?replicaSet=rs0",
        "settings": {
            "seeds": [MEMBERS[0]], "replicaSet": "rs0", "directConnection": null,
            "loadBalanced": false, "heartbeatFrequencyMS": 10000, "minHeartbeatFrequencyMS": 500,
            "connectTimeoutMS": 10000, "socketTimeoutMS": null, "serverSelectionTimeoutMS": 30000,
            "localThresholdMS": 15, "serverMonitoringMode": "stream", "tls": false,
            "authenticated": false, "srv": null,
        },
    });
    let mut lines = vec![header.to_string()];
    for phase in 0..=LAST_PHASE {
        for (member, address) in MEMBERS.iter().enumerate() {
            // The first check is a poll answered 1 ms after it started (in effect from 0);
            // later replies are streamed, in effect when they arrived.
            let (t_us, awaited, duration_us) = match phase {
                0 => (1000, false, 1000),
                _ => (phase * PHASE_S * 1_000_000, true, PHASE_S * 1_000_000),
            };
            let record = json!({
                "type": "hello", "t_us": t_us, "wall_us": started_wall_us + t_us,
                "address": address, "awaited": awaited, "duration_us": duration_us,
                "reply": reply(member, phase),
            });
            lines.push(record.to_string());
        }
    }
    let end_us = LAST_PHASE * PHASE_S * 1_000_000 + 1;
    lines.push(
        json!({"type": "sdam", "t_us": end_us, "wall_us": started_wall_us + end_us,
               "event": "topology_closed"})
        .to_string(),
    );
    lines.join("\n") + "\n"
}

fn request(request_id: i32, body: Document, flags: MsgFlags) -> Message {
    let mut msg = OpMsg::new(body);
    msg.flags = flags;
    Message {
        request_id,
        response_to: 0,
        payload: Payload::Msg(msg),
    }
}

fn body(message: Message) -> Document {
    match message.payload {
        Payload::Msg(msg) => msg.body,
        other => panic!("an OP_MSG reply, not {other:?}"),
    }
}

/// One switch of a node's reply as a streaming connection received it.
struct Switch {
    at: Instant,
    writable_primary: bool,
    primary: Option<String>,
}

/// Streams hello from the node at `address` (exhaust, as mongod serves streaming monitors)
/// and notes when each of the next `count` changes of its reply arrives.
async fn server_switches(address: String, count: usize) -> Vec<Switch> {
    let stream = TcpStream::connect(&address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (read, write) = stream.into_split();
    let mut reader = MessageReader::new(read, MAX_MESSAGE_SIZE_BYTES);
    let mut writer = MessageWriter::new(write);
    let hello = doc! { "hello": 1, "$db": "admin" };
    writer
        .write_message(&request(1, hello.clone(), MsgFlags::empty()))
        .await
        .unwrap();
    let first = body(reader.read_message().await.unwrap().unwrap());
    let version = first.get_document("topologyVersion").unwrap().clone();
    let mut counter = version.get("counter").cloned();
    let mut awaitable = hello;
    awaitable.insert("topologyVersion", version);
    awaitable.insert("maxAwaitTimeMS", 10_000_i64);
    writer
        .write_message(&request(2, awaitable, MsgFlags::EXHAUST_ALLOWED))
        .await
        .unwrap();
    let mut switches = Vec::new();
    while switches.len() < count {
        let reply = body(reader.read_message().await.unwrap().unwrap());
        let at = Instant::now();
        let now = reply
            .get_document("topologyVersion")
            .ok()
            .and_then(|v| v.get("counter").cloned());
        if now == counter {
            continue; // maxAwaitTimeMS passed without a change
        }
        counter = now;
        switches.push(Switch {
            at,
            writable_primary: reply.get_bool("isWritablePrimary").unwrap_or(false),
            primary: match reply.get("primary") {
                Some(Bson::String(primary)) => Some(primary.clone()),
                _ => None,
            },
        });
    }
    switches
}

/// Signed milliseconds from `intended` to `at`.
fn late_ms(at: Duration, intended: Duration) -> f64 {
    (at.as_secs_f64() - intended.as_secs_f64()) * 1000.0
}

fn summary(label: &str, lateness: &[f64]) {
    let mut sorted = lateness.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    println!(
        "{label}: {} changes, lateness min {min:.2} ms, median {median:.2} ms, max {max:.2} ms",
        sorted.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ten_minute_recording_replays_at_speed_60_within_one_percent() {
    let text = recording();
    let replay = Replay::start(&text, SPEED).await.unwrap();
    let zero = replay.time_zero();
    let mapped: Vec<String> = MEMBERS
        .iter()
        .map(|member| replay.mapped(member).unwrap().to_owned())
        .collect();

    // Server side: a streaming connection per node.
    let probes: Vec<_> = mapped
        .iter()
        .map(|address| tokio::spawn(server_switches(address.clone(), LAST_PHASE as usize)))
        .collect();

    // Client side: our engine, streaming, noting each change of its primary.
    let uri = format!(
        "{}&serverMonitoringMode=stream&heartbeatFrequencyMS=500",
        replay.connection_string()
    );
    let (client, mut events) = Cluster::with_events(ClusterSettings::parse(&uri).unwrap()).unwrap();
    let deadline = zero + intended(LAST_PHASE) + GUARD;
    let mut primaries: Vec<(Duration, Option<String>)> = Vec::new();
    let mut current: Option<String> = None;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = tokio::time::sleep_until(deadline) => break,
        };
        let event = match event {
            Ok(event) => event,
            Err(EventRecvError::Closed) => break,
            Err(error) => panic!("events: {error}"),
        };
        if let EventKind::Sdam(SdamEvent::TopologyDescriptionChanged { new, .. }) = &event.kind {
            let primary = new
                .primary()
                .and_then(|server| replay.recorded(&server.address.to_string()))
                .map(str::to_owned);
            if primary != current {
                current = primary.clone();
                primaries.push((event.at.saturating_duration_since(zero), primary));
            }
        }
        // Done once the last phase's primary is seen (after the discovery's and 30 more).
        if primaries.len() > LAST_PHASE as usize {
            break;
        }
    }
    client.close().await;

    // The server side: each node switched at each phase, in the recorded order, on time.
    let mut server_lateness = Vec::new();
    let mut last_switch = Duration::ZERO;
    for (member, probe) in probes.into_iter().enumerate() {
        let switches = tokio::time::timeout(GUARD, probe).await.unwrap().unwrap();
        for (index, switch) in switches.iter().enumerate() {
            let phase = index as u64 + 1;
            let primary = primary_of(phase);
            assert_eq!(
                switch.writable_primary,
                primary == Some(member),
                "phase {phase}"
            );
            assert_eq!(
                switch.primary,
                primary.map(|p| mapped[p].clone()),
                "member {member}, phase {phase}"
            );
            let at = switch.at.saturating_duration_since(zero);
            let late = late_ms(at, intended(phase));
            assert!(
                late.abs() <= SERVER_TOLERANCE.as_secs_f64() * 1000.0,
                "member {member} switched to phase {phase} {late:.1} ms from its intended time"
            );
            server_lateness.push(late);
            last_switch = last_switch.max(at);
        }
    }
    let total_error = late_ms(last_switch, intended(LAST_PHASE));
    println!(
        "server side: the last switch {:.3} s after time zero, intended {:.3} s ({total_error:+.1} ms, {:+.3} % of the intended length)",
        last_switch.as_secs_f64(),
        intended(LAST_PHASE).as_secs_f64(),
        total_error / 10.0 / intended(LAST_PHASE).as_secs_f64(),
    );
    summary("server side (exhaust hello per node)", &server_lateness);
    assert!(
        total_error.abs() <= SERVER_TOLERANCE.as_secs_f64() * 1000.0,
        "the replay lasted {total_error:+.1} ms more than intended"
    );

    // The client side: the discovery's primary, then one change per phase, in order.
    let expected: Vec<Option<String>> = (0..=LAST_PHASE)
        .map(|phase| primary_of(phase).map(|p| MEMBERS[p].to_owned()))
        .collect();
    let seen: Vec<Option<String>> = primaries.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(seen, expected, "the client's primaries, in order");
    let mut client_lateness = Vec::new();
    for (phase, (at, _)) in primaries.iter().enumerate().skip(1) {
        let late = late_ms(*at, intended(phase as u64));
        assert!(
            (-SERVER_TOLERANCE.as_secs_f64() * 1000.0..=CLIENT_TOLERANCE.as_secs_f64() * 1000.0)
                .contains(&late),
            "the client saw phase {phase} {late:.1} ms from its intended time"
        );
        client_lateness.push(late);
    }
    summary("client side (our engine, streaming)", &client_lateness);
    replay.shutdown().await;
}
