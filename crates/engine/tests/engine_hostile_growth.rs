//! A hostile secondary that lists hundreds of new hosts on every check (each list under the
//! per-reply limit) cannot grow the topology without bound: the engine stops at the seeds
//! plus `sdam::MAX_SERVERS_ADDED_BY_REPLIES`, and keeps monitoring the server that tried.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Document};
use mongo_topology::sdam::{ServerType, MAX_SERVERS_ADDED_BY_REPLIES};
use mongo_topology::wire::framing::MessageReader;
use mongo_topology::wire::{encode_message, Message, OpMsg, Payload, MAX_MESSAGE_SIZE_BYTES};
use mongo_topology::{Cluster, ServerAddress};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// New hosts per reply: under the per-list limit of a hello reply.
const NEW_HOSTS_PER_REPLY: usize = 998;

/// A secondary of set "rs" whose every hello lists itself and `NEW_HOSTS_PER_REPLY` hosts it
/// never listed before (loopback addresses on ports nobody is expected to serve).
async fn start_hostile_secondary() -> (ServerAddress, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    let address = ServerAddress::tcp("127.0.0.1", port);
    let hellos = Arc::new(AtomicUsize::new(0));
    let (me, counter) = (address.to_string(), hellos.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, me.clone(), counter.clone()));
        }
    });
    (address, hellos)
}

fn hello_reply(me: &str, check: usize) -> Document {
    let mut hosts = vec![me.to_string()];
    // Hosts 127.0.0.2.. with a port per check: never the same twice.
    for index in 0..NEW_HOSTS_PER_REPLY {
        let octet = 2 + index / 250;
        let host_port = 20_000 + check * 250 + index % 250;
        hosts.push(format!("127.0.0.{octet}:{host_port}"));
    }
    doc! {
        "helloOk": true,
        "isWritablePrimary": false,
        "secondary": true,
        "setName": "rs",
        "hosts": hosts,
        "me": me,
        "minWireVersion": 0,
        "maxWireVersion": 17,
        "maxBsonObjectSize": 16 * 1024 * 1024,
        "maxMessageSizeBytes": MAX_MESSAGE_SIZE_BYTES,
        "maxWriteBatchSize": 100_000,
        "localTime": bson::DateTime::now(),
        "ok": 1,
    }
}

async fn serve(stream: TcpStream, me: String, hellos: Arc<AtomicUsize>) {
    let mut reader = MessageReader::new(stream, MAX_MESSAGE_SIZE_BYTES);
    while let Ok(Some(request)) = reader.read_message().await {
        let Payload::Msg(message) = &request.payload else {
            return;
        };
        let body = if message.body.contains_key("hello") || message.body.contains_key("isMaster") {
            let check = hellos.fetch_add(1, Ordering::SeqCst);
            hello_reply(&me, check)
        } else {
            doc! { "ok": 1 }
        };
        let reply = encode_message(&Message {
            request_id: 1,
            response_to: request.request_id,
            payload: Payload::Msg(OpMsg::new(body)),
        })
        .expect("encodable");
        if reader.get_mut().write_all(&reply).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_listing_new_hosts_on_every_check_cannot_grow_the_topology_past_the_cap() {
    let (hostile, hellos) = start_hostile_secondary().await;
    let uri =
        format!("mongodb://{hostile}/?replicaSet=rs&heartbeatFrequencyMS=500&connectTimeoutMS=200");
    let cluster = Cluster::connect(&uri).expect("valid connection string");
    let limit = 1 + MAX_SERVERS_ADDED_BY_REPLIES;
    // Enough checks that, without the cap, the hosts listed would be several times the limit.
    let wanted_checks = 2 + limit / NEW_HOSTS_PER_REPLY * 3;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while hellos.load(Ordering::SeqCst) < wanted_checks {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hostile server was checked only {} times in 30 s",
            hellos.load(Ordering::SeqCst)
        );
        cluster.request_check();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let servers = cluster.topology().servers.len();
        assert!(
            servers <= limit,
            "{servers} servers after {} checks: more than the seed plus {MAX_SERVERS_ADDED_BY_REPLIES}",
            hellos.load(Ordering::SeqCst)
        );
    }
    let topology = cluster.topology();
    assert!(
        topology.servers.len() > NEW_HOSTS_PER_REPLY,
        "the first reply's hosts were added ({} servers)",
        topology.servers.len()
    );
    assert!(topology.servers.len() <= limit);
    let server = topology
        .servers
        .get(&hostile)
        .expect("the server that tried is still in the topology");
    assert_eq!(server.server_type, ServerType::RsSecondary);
    // It is still checked after the refusals.
    let before = hellos.load(Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hellos.load(Ordering::SeqCst) == before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no check after the cap"
        );
        cluster.request_check();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.close().await;
}
