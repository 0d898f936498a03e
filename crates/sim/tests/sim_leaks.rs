//! Connections a client abandons are freed: after floods of connections dropped in every
//! state (idle, half a message sent, waiting on a frozen node or a slow one, awaiting a
//! hello, streaming, replies left unread), the process's open file descriptors return to
//! their baseline.

mod sim_support;

use std::time::Duration;

use bson::doc;
use mongo_topology_core::wire::{encode_message, Message, MsgFlags, OpMsg, Payload};
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use sim_support::RawClient;
use tokio::task::JoinSet;

/// Connections per kind and per flood.
const PER_KIND: usize = 60;

/// Floods in a row (a leak grows with each).
const FLOODS: usize = 3;

/// How long the server may take to notice that the peers are gone.
const SETTLE: Duration = Duration::from_secs(10);

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count())
        .unwrap_or_default()
}

/// Waits until the fd count is at most `baseline`; returns the last count seen.
async fn settle_to(baseline: usize) -> usize {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let now = open_fds();
        if now <= baseline || tokio::time::Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn hello_bytes(extra: bson::Document, flags: MsgFlags) -> Vec<u8> {
    let mut body = doc! { "hello": 1, "$db": "admin" };
    body.extend(extra);
    encode_message(&Message {
        request_id: 1,
        response_to: 0,
        payload: Payload::Msg(OpMsg {
            flags,
            body,
            sequences: Vec::new(),
        }),
    })
    .unwrap()
}

/// Ways of abandoning a connection.
#[derive(Debug, Clone, Copy)]
enum Abandon {
    /// Connect, send nothing, close.
    Idle,
    /// Send the first half of a message, close.
    HalfMessage,
    /// Send a hello to a frozen node (never answered), close.
    Frozen,
    /// Send a hello to a node whose replies take ten minutes, close.
    Slow,
    /// Send an awaitable hello (the server waits for a change), close.
    Awaiting,
    /// Start exhaust streaming, close.
    Streaming,
    /// Send many pings without reading the replies, close.
    Unread,
}

async fn abandon(address: String, kind: Abandon, awaitable: Vec<u8>) {
    let mut c = RawClient::connect(&address).await;
    match kind {
        Abandon::Idle => {}
        Abandon::HalfMessage => {
            let bytes = hello_bytes(doc! {}, MsgFlags::empty());
            c.send_raw(&bytes[..bytes.len() / 2]).await;
        }
        Abandon::Frozen | Abandon::Slow => {
            c.send_raw(&hello_bytes(doc! {}, MsgFlags::empty())).await
        }
        Abandon::Awaiting | Abandon::Streaming => c.send_raw(&awaitable).await,
        Abandon::Unread => {
            let ping = hello_bytes(doc! {}, MsgFlags::empty());
            for _ in 0..200 {
                c.send_raw(&ping).await;
            }
        }
    }
    // Let the server start on the request before the client goes.
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_connections_are_freed() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let [live, frozen, slow] = [0, 1, 2].map(|i| d.addresses()[i].clone());
    d.set_frozen(&MemberRef::Index(1), true).unwrap();
    d.set_latency(&MemberRef::Index(2), Duration::from_secs(600))
        .unwrap();
    let tv = RawClient::connect(&live)
        .await
        .hello()
        .await
        .get_document("topologyVersion")
        .unwrap()
        .clone();
    let awaiting = hello_bytes(
        doc! { "topologyVersion": tv.clone(), "maxAwaitTimeMS": 600_000 },
        MsgFlags::empty(),
    );
    let streaming = hello_bytes(
        doc! { "topologyVersion": tv, "maxAwaitTimeMS": 50 },
        MsgFlags::EXHAUST_ALLOWED,
    );
    let baseline = open_fds();
    for flood in 0..FLOODS {
        let mut clients = JoinSet::new();
        for kind in [
            Abandon::Idle,
            Abandon::HalfMessage,
            Abandon::Frozen,
            Abandon::Slow,
            Abandon::Awaiting,
            Abandon::Streaming,
            Abandon::Unread,
        ] {
            let (address, request) = match kind {
                Abandon::Frozen => (&frozen, Vec::new()),
                Abandon::Slow => (&slow, Vec::new()),
                Abandon::Streaming => (&live, streaming.clone()),
                _ => (&live, awaiting.clone()),
            };
            for _ in 0..PER_KIND {
                clients.spawn(abandon(address.clone(), kind, request.clone()));
            }
        }
        while let Some(done) = clients.join_next().await {
            done.unwrap();
        }
        let after = settle_to(baseline).await;
        assert!(
            after <= baseline,
            "flood {flood}: {after} fds open, {baseline} before the floods"
        );
    }
    d.shutdown().await;
}
