//! Resource limits: a server whose hello advertises absurdly many hosts. The core accepts
//! at most `MAX_MEMBERS_PER_LIST` entries per list from one reply; above that the server is
//! Unknown with a protocol error naming the field and the limit (logged as a warning), no
//! monitor starts for the advertised hosts, and memory does not grow with every heartbeat.
//! A reply too big to be one document (`MAX_HELLO_REPLY_SIZE`: a million hosts take 42 MB)
//! is refused by the monitor on its header, before it is read.

#[path = "../crates/engine/tests/engine_support/mod.rs"]
mod engine_support;
mod limits_support;

use std::time::Duration;

use bson::{doc, Bson};
use engine_support::{connect, uri, wait_until};
use limits_support::{reply_frame, rss_kib, ScriptedServer};
use mongo_topology::sdam::hello::MAX_MEMBERS_PER_LIST;
use mongo_topology::sdam::{ServerError, ServerErrorKind};
use mongo_topology::MAX_HELLO_REPLY_SIZE;

/// The tests run one at a time: each measures the memory of the whole process.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn hello_with_hosts(me: &str, count: usize) -> bson::Document {
    let mut hosts: Vec<Bson> = vec![Bson::String(me.to_owned())];
    hosts.extend((1..count).map(|i| Bson::String(format!("h{i}.example.invalid:27017"))));
    doc! {
        "helloOk": true, "isWritablePrimary": true, "setName": "huge", "setVersion": 1,
        "hosts": hosts, "primary": me, "me": me,
        "minWireVersion": 0, "maxWireVersion": 21, "ok": 1,
    }
}

async fn advertise(count: usize) -> ServerError {
    let _serial = SERIAL.lock().await;
    let rss_before = rss_kib();
    let server = ScriptedServer::start(|me| {
        let hello = reply_frame(hello_with_hosts(me, count));
        println!("{count} hosts: the hello reply is {} bytes", hello.len());
        (hello, reply_frame(doc! { "ok": 1 }))
    })
    .await;
    let cluster = connect(&uri(
        std::slice::from_ref(&server.address),
        "replicaSet=huge&heartbeatFrequencyMS=500",
    ));
    let seen = wait_until(&cluster, "the server to carry an error", |d| {
        d.servers.values().any(|s| s.error.is_some())
    })
    .await;
    let rss_first = rss_kib();
    // Several more heartbeats, each with the same huge reply.
    let mut rss_peak = rss_first;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss_peak = rss_peak.max(rss_kib());
    }
    let rss_later = rss_kib();
    let now = cluster.topology();
    assert_eq!(
        now.servers.len(),
        1,
        "no advertised host may enter the topology"
    );
    let error = seen.servers.values().find_map(|s| s.error.clone()).unwrap();
    println!(
        "{count} hosts: RSS {rss_before} KiB before, {rss_first} KiB at the first rejection, \
         {rss_later} KiB after 3 s more of heartbeats (peak {rss_peak} KiB); error: {}",
        error.message
    );
    // Growth across the later heartbeats stays small: no reply is read whole, nothing
    // accumulates per check.
    assert!(
        rss_peak.saturating_sub(rss_first) < 16 * 1024,
        "RSS grew from {rss_first} to {rss_peak} KiB"
    );
    cluster.close().await;
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_over_the_limit_is_refused_with_a_clear_error() {
    let error = advertise(MAX_MEMBERS_PER_LIST + 1).await;
    assert_eq!(error.kind, ServerErrorKind::Protocol, "{error:?}");
    let message = error.message;
    assert!(message.contains("`hosts`"), "{message}");
    assert!(message.contains("more than the 1000 accepted"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_at_the_limit_is_accepted() {
    let _serial = SERIAL.lock().await;
    let server = ScriptedServer::start(|me| {
        (
            reply_frame(hello_with_hosts(me, MAX_MEMBERS_PER_LIST)),
            reply_frame(doc! { "ok": 1 }),
        )
    })
    .await;
    let cluster = connect(&uri(
        std::slice::from_ref(&server.address),
        "replicaSet=huge&heartbeatFrequencyMS=500",
    ));
    let seen = wait_until(&cluster, "the advertised hosts", |d| {
        d.servers.len() == MAX_MEMBERS_PER_LIST
    })
    .await;
    assert!(seen.primary().is_some());
    cluster.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_hosts_are_refused_with_bounded_memory() {
    let error = advertise(1_000_000).await;
    let message = &error.message;
    assert!(
        message.contains(&format!("allowed range 16..={MAX_HELLO_REPLY_SIZE}")),
        "{message}"
    );
}
