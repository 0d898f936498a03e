//! Awaitable hello (topologyVersion + maxAwaitTimeMS) and exhaust streaming (moreToCome).

mod sim_support;

use std::time::{Duration, Instant};

use bson::{doc, Document};
use mongo_topology_core::wire::MsgFlags;
use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef, ServerVersion};
use sim_support::RawClient;

fn tv(hello: &Document) -> Document {
    hello.get_document("topologyVersion").unwrap().clone()
}

fn awaitable(tv: Document, max_ms: i64) -> Document {
    doc! { "hello": 1, "topologyVersion": tv, "maxAwaitTimeMS": max_ms }
}

#[tokio::test]
async fn awaitable_hello_waits_for_max_await_time() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0))
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[1]).await;
    let first = c.hello().await;
    let t = Instant::now();
    let again = c.command("admin", awaitable(tv(&first), 300)).await;
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "answered after {:?}",
        t.elapsed()
    );
    assert_eq!(tv(&again), tv(&first));
    // A stale topologyVersion is answered at once.
    let mut stale = tv(&first);
    stale.insert("counter", -1i64);
    let t = Instant::now();
    c.command("admin", awaitable(stale, 5_000)).await;
    assert!(t.elapsed() < Duration::from_millis(1_000));
    d.shutdown().await;
}

#[tokio::test]
async fn state_change_answers_waiting_hellos_at_once() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let a = d.addresses();
    let mut waiters = Vec::new();
    for addr in &a {
        let mut c = RawClient::connect(addr).await;
        let h = c.hello().await;
        let id = c
            .send_msg("admin", awaitable(tv(&h), 10_000), MsgFlags::empty())
            .await;
        waiters.push((c, id, h));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    d.stepdown().unwrap();
    for (mut c, id, before) in waiters {
        let (_, response_to, msg) = c.recv_msg().await;
        assert_eq!(response_to, id);
        let counter = |d: &Document| tv(d).get_i64("counter").unwrap();
        assert_eq!(counter(&msg.body), counter(&before) + 1);
        assert!(!msg.body.contains_key("primary"));
    }
    assert!(
        t.elapsed() < Duration::from_millis(1_000),
        "took {:?}",
        t.elapsed()
    );
    d.shutdown().await;
}

#[tokio::test]
async fn exhaust_streams_replies_with_more_to_come() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0))
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[1]).await;
    let h = c.hello().await;
    let id = c
        .send_msg("admin", awaitable(tv(&h), 200), MsgFlags::EXHAUST_ALLOWED)
        .await;
    // First reply after maxAwaitTimeMS, then one per period, each answering the previous.
    let mut previous = id;
    for _ in 0..3 {
        let (request_id, response_to, msg) = c.recv_msg().await;
        assert_eq!(response_to, previous);
        assert!(msg.flags.contains(MsgFlags::MORE_TO_COME));
        previous = request_id;
    }
    // A state change is streamed at once.
    let t = Instant::now();
    d.elect(&MemberRef::Index(1)).unwrap();
    loop {
        let (_, _, msg) = c.recv_msg().await;
        if msg.body.get_bool("isWritablePrimary").ok() == Some(true) {
            break;
        }
    }
    assert!(
        t.elapsed() < Duration::from_millis(150),
        "took {:?}",
        t.elapsed()
    );
    d.shutdown().await;
}

#[tokio::test]
async fn versions_before_4_4_have_no_awaitable_hello() {
    let d = Deployment::start(
        DeploymentSpec::replica_set("rs0", 1, 0, 0).with_version(ServerVersion::V4_2),
    )
    .await
    .unwrap();
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    let t = Instant::now();
    let fake_tv = doc! { "processId": bson::oid::ObjectId::new(), "counter": 0i64 };
    let reply = c
        .command(
            "admin",
            doc! { "isMaster": 1, "topologyVersion": fake_tv, "maxAwaitTimeMS": 2_000 },
        )
        .await;
    assert!(
        t.elapsed() < Duration::from_millis(1_000),
        "4.2 answers at once"
    );
    assert!(!reply.contains_key("topologyVersion"));
    d.shutdown().await;
}

#[tokio::test]
async fn frozen_node_stops_streaming_and_huge_waits_are_fine() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0))
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[1]).await;
    let h = c.hello().await;
    // maxAwaitTimeMS far beyond any real value: waits, and a change still wakes it.
    let id = c
        .send_msg(
            "admin",
            awaitable(tv(&h), i64::MAX),
            MsgFlags::EXHAUST_ALLOWED,
        )
        .await;
    d.stepdown().unwrap();
    let first = c.recv().await;
    assert_eq!(first.response_to, id);
    // Frozen: the stream goes silent, even across state changes.
    d.set_frozen(&MemberRef::Index(1), true).unwrap();
    d.elect(&MemberRef::Index(0)).unwrap();
    assert!(
        c.try_recv(Duration::from_millis(300)).await.is_err(),
        "a frozen node streamed a reply"
    );
    // Thawed: the next change is streamed again.
    d.set_frozen(&MemberRef::Index(1), false).unwrap();
    d.stepdown().unwrap();
    d.elect(&MemberRef::Index(1)).unwrap();
    loop {
        let (_, _, msg) = c.recv_msg().await;
        assert!(msg.flags.contains(MsgFlags::MORE_TO_COME));
        if msg.body.get_bool("isWritablePrimary").ok() == Some(true) {
            break;
        }
    }
    d.shutdown().await;
}
