//! The RTT monitor of the streaming protocol ("Server Monitoring", "Measuring RTT"):
//! "Clients MUST ignore the response to the hello or legacy hello command when measuring
//! RTT". A reply that fails, or whose body is not even valid BSON, is still a round trip;
//! a message that is not a well-framed answer to the RTT hello breaks the RTT connection.

mod engine_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Document};
use engine_support::*;
use mongo_topology::wire::{encode_message, Message, OpMsg, Payload};
use mongo_topology::ServerAddress;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// How the server answers the plain hellos that follow a connection's handshake: the RTT
/// monitor's (the server monitor's awaitable hellos are answered after a heartbeat).
#[derive(Clone, Copy)]
enum RttReply {
    /// After 300 ms, `ok: 0` with an `errmsg` that is not UTF-8 (invalid BSON inside a
    /// well-framed OP_MSG).
    SlowFailureWithInvalidBson,
    /// At once, a well-formed reply answering another request.
    WrongResponseTo,
}

fn encoded_reply(response_to: i32, body: Document) -> Vec<u8> {
    let message = Message {
        request_id: response_to.wrapping_add(1_000),
        response_to,
        payload: Payload::Msg(OpMsg::new(body)),
    };
    encode_message(&message).unwrap()
}

fn command(message: &Message) -> Option<&Document> {
    match &message.payload {
        Payload::Msg(msg) => Some(&msg.body),
        _ => None,
    }
}

/// A standalone 7.0 server that streams (its hello has a topologyVersion), counting the
/// RTT connections: those that send a plain hello after their handshake (the monitor's
/// connection sends awaitable ones, the pool's warm-up connection none).
async fn start_server(rtt_reply: RttReply) -> (ServerAddress, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let rtt_connections = Arc::new(AtomicUsize::new(0));
    let counted = rtt_connections.clone();
    let process_id = ObjectId::new();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let (mut handshaken, mut pinged) = (false, false);
                while let Some(request) = read_message(&mut socket).await {
                    let Some(body) = command(&request) else {
                        return;
                    };
                    let hello = doc! {
                        "ok": 1, "helloOk": true, "isWritablePrimary": true,
                        "minWireVersion": 0, "maxWireVersion": 21,
                        "topologyVersion": { "processId": process_id, "counter": 0i64 },
                    };
                    let bytes = if !handshaken {
                        handshaken = true;
                        encoded_reply(request.request_id, hello)
                    } else if body.contains_key("maxAwaitTimeMS") {
                        // The server monitor's awaitable hello: answered after a heartbeat
                        // (its replies carry the RTT monitor's samples to the cluster).
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        encoded_reply(request.request_id, hello)
                    } else {
                        if !pinged {
                            pinged = true;
                            counted.fetch_add(1, Ordering::SeqCst);
                        }
                        match rtt_reply {
                            RttReply::SlowFailureWithInvalidBson => {
                                tokio::time::sleep(Duration::from_millis(300)).await;
                                let mut bytes = encoded_reply(
                                    request.request_id,
                                    doc! { "ok": 0, "errmsg": "zz" },
                                );
                                let at = bytes.windows(3).position(|w| w == b"zz\0").unwrap();
                                bytes[at] = 0xFF;
                                bytes[at + 1] = 0xFE;
                                bytes
                            }
                            RttReply::WrongResponseTo => {
                                encoded_reply(request.request_id.wrapping_add(7), doc! { "ok": 1 })
                            }
                        }
                    };
                    if socket.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (ServerAddress::tcp("127.0.0.1", port), rtt_connections)
}

#[tokio::test]
async fn a_failed_or_unreadable_rtt_reply_is_still_a_round_trip() {
    let (server, rtt_connections) = start_server(RttReply::SlowFailureWithInvalidBson).await;
    let cluster = connect(&uri(
        std::slice::from_ref(&server),
        "directConnection=true&heartbeatFrequencyMS=500",
    ));
    let slow = wait_until(&cluster, "an RTT above 250 ms from the RTT replies", |t| {
        t.server(&server)
            .and_then(|s| s.round_trip_time)
            .is_some_and(|rtt| rtt > Duration::from_millis(250))
    })
    .await;
    assert!(slow.server(&server).is_some_and(|s| s.error.is_none()));
    // One RTT connection, never reopened.
    assert_eq!(rtt_connections.load(Ordering::SeqCst), 1);
    cluster.close().await;
}

#[tokio::test]
async fn a_reply_to_another_request_breaks_the_rtt_connection() {
    let (server, rtt_connections) = start_server(RttReply::WrongResponseTo).await;
    let cluster = connect(&uri(
        std::slice::from_ref(&server),
        "directConnection=true&heartbeatFrequencyMS=500",
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rtt_connections.load(Ordering::SeqCst) < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each RTT hello gets a reply to another request: the RTT connection is dropped and
    // reopened at the next turn; the server's description is not touched.
    assert!(rtt_connections.load(Ordering::SeqCst) >= 3);
    let description = cluster.topology();
    assert!(description
        .server(&server)
        .is_some_and(|s| s.error.is_none() && s.round_trip_time.is_some()));
    cluster.close().await;
}
