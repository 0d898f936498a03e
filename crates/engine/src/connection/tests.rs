//! The client connection and the handshake (internal to the engine) against the simulator
//! and against tiny hand-rolled fake servers.

use std::time::Duration;

use crate::connection::handshake::{handshake, hello_command, HandshakeOptions};
use crate::sdam::ServerErrorKind;
use crate::wire::framing::MessageReader;
use crate::wire::{encode_message, Message, MsgFlags, OpMsg, Payload, MAX_MESSAGE_SIZE_BYTES};
use crate::ServerAddress;
use crate::{ConnectOptions, Connection, ConnectionError};
use bson::{doc, Document};
use mongo_topology_sim::{Deployment, DeploymentSpec, FaultKind, MemberRef};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A generous bound for replies that should come at once (only hit when something is
/// broken).
const PROMPTLY: Duration = Duration::from_secs(3);

fn address(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

async fn replica_set(members: usize) -> Deployment {
    Deployment::start(DeploymentSpec::replica_set("rs0", members, 0, 0))
        .await
        .unwrap()
}

async fn connect(text: &str, options: ConnectOptions) -> Connection {
    Connection::connect(&address(text), &options).await.unwrap()
}

/// A connected and handshaken connection to `text`.
async fn ready(text: &str, options: ConnectOptions) -> Connection {
    let mut conn = connect(text, options).await;
    handshake(&mut conn, &HandshakeOptions::default())
        .await
        .unwrap();
    conn
}

fn topology_version(reply: &Document) -> Document {
    reply.get_document("topologyVersion").unwrap().clone()
}

/// An OP_MSG reply answering `response_to`.
fn reply_bytes(response_to: i32, body: Document) -> Vec<u8> {
    encode_message(&Message {
        request_id: 7_000,
        response_to,
        payload: Payload::Msg(OpMsg::new(body)),
    })
    .unwrap()
}

/// A fake server on 127.0.0.1 that hands its first accepted connection to `serve`.
async fn fake_server<F, Fut>(serve: F) -> ServerAddress
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        serve(stream).await;
    });
    ServerAddress::tcp("127.0.0.1", port)
}

/// Reads one request from a fake server's stream: its requestID and OP_MSG body.
async fn read_request(stream: &mut TcpStream) -> (i32, Document) {
    // The client sends one request and waits for its reply, so no byte of a later request
    // can be left in this reader's buffer.
    let message = MessageReader::new(stream, MAX_MESSAGE_SIZE_BYTES)
        .read_message()
        .await
        .unwrap()
        .unwrap();
    match message.payload {
        Payload::Msg(msg) => (message.request_id, msg.body),
        other => panic!("expected OP_MSG, got {other:?}"),
    }
}

#[tokio::test]
async fn handshake_with_a_replica_set_member() {
    let d = replica_set(3).await;
    let mut conn = connect(&d.addresses()[1], ConnectOptions::default()).await;
    let options = HandshakeOptions::new(Some("engine-test"), false);
    let done = handshake(&mut conn, &options).await.unwrap();
    assert_eq!(done.reply.get_str("setName").unwrap(), "rs0");
    assert_eq!(done.reply.get_array("hosts").unwrap().len(), 3);
    assert!(done.hello_ok);
    assert!(done.round_trip_time > Duration::ZERO);
    // The server's answers to later hellos, in the form the handshake negotiated.
    let later = hello_command(!done.hello_ok, None, false, None);
    let reply = conn.command("admin", later).await.unwrap();
    assert_eq!(reply.get_bool("isWritablePrimary").ok(), Some(false));
    assert_eq!(conn.address(), &address(&d.addresses()[1]));
    d.shutdown().await;
}

#[tokio::test]
async fn the_handshake_sends_legacy_hello_with_client_metadata() {
    let (captured_tx, captured_rx) = oneshot::channel();
    let server = fake_server(|mut stream| async move {
        let (request_id, body) = read_request(&mut stream).await;
        let reply = doc! { "helloOk": true, "isWritablePrimary": true, "ok": 1.0 };
        stream
            .write_all(&reply_bytes(request_id, reply))
            .await
            .unwrap();
        let _ = captured_tx.send(body);
    })
    .await;
    let mut conn = Connection::connect(&server, &ConnectOptions::default())
        .await
        .unwrap();
    let options = HandshakeOptions::new(Some("reporting"), false);
    let done = handshake(&mut conn, &options).await.unwrap();
    assert!(done.hello_ok);
    let sent = captured_rx.await.unwrap();
    assert_eq!(sent.keys().next().map(String::as_str), Some("isMaster"));
    assert_eq!(sent.get_bool("helloOk").ok(), Some(true));
    assert_eq!(sent.get_str("$db").unwrap(), "admin");
    assert_eq!(sent.get_str("backpressure").unwrap(), "2");
    assert!(!sent.contains_key("loadBalanced"));
    let client = sent.get_document("client").unwrap();
    let driver = client.get_document("driver").unwrap();
    assert_eq!(driver.get_str("name").unwrap(), "mongo-topology");
    assert_eq!(
        client
            .get_document("application")
            .unwrap()
            .get_str("name")
            .unwrap(),
        "reporting"
    );
    assert!(client.get_document("os").unwrap().contains_key("type"));
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_a_dns_error_with_its_cause() {
    let error = Connection::connect(
        &address("no-such-host.invalid:27017"),
        &ConnectOptions::default(),
    )
    .await
    .unwrap_err();
    match &error {
        ConnectionError::Dns { host, cause } => {
            assert_eq!(host, "no-such-host.invalid");
            assert!(!cause.is_empty());
        }
        other => panic!("expected Dns, got {other:?}"),
    }
    let server_error = error.to_server_error();
    assert_eq!(server_error.kind, ServerErrorKind::Dns);
    assert!(server_error.message.contains("no-such-host.invalid"));
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = Connection::connect(
        &ServerAddress::tcp("127.0.0.1", port),
        &ConnectOptions::default(),
    )
    .await
    .unwrap_err();
    match &error {
        ConnectionError::Connect { address, cause } => {
            assert_eq!(address, &format!("127.0.0.1:{port}"));
            assert!(cause.to_lowercase().contains("refused"), "{cause}");
        }
        other => panic!("expected Connect, got {other:?}"),
    }
    assert_eq!(error.to_server_error().kind, ServerErrorKind::Connect);
}

#[tokio::test]
async fn localhost_connects_whichever_of_its_addresses_listens() {
    let resolved: Vec<_> = tokio::net::lookup_host("localhost:0")
        .await
        .map(|addresses| addresses.collect())
        .unwrap_or_default();
    let has_v4 = resolved.iter().any(|a: &std::net::SocketAddr| a.is_ipv4());
    let has_v6 = resolved.iter().any(|a| a.is_ipv6());
    if !(has_v4 && has_v6) {
        eprintln!(
            "skipped: localhost resolves to {resolved:?} here, not to both ::1 and 127.0.0.1 \
             (the try-each-address logic is also covered by engine::resolve unit tests)"
        );
        return;
    }
    // Listen only on the family the resolver lists last, so the first attempt is refused.
    let last = resolved.last().unwrap().ip();
    let listener = TcpListener::bind((last, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let conn = Connection::connect(
        &ServerAddress::tcp("localhost", port),
        &ConnectOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(conn.address(), &ServerAddress::tcp("localhost", port));
    let (accepted, _) = listener.accept().await.unwrap();
    assert_eq!(accepted.local_addr().unwrap().ip(), last);
}

#[tokio::test]
async fn a_frozen_node_times_out_after_the_socket_timeout() {
    let d = replica_set(2).await;
    let socket_timeout = Duration::from_millis(300);
    let options = ConnectOptions {
        socket_timeout: Some(socket_timeout),
        ..ConnectOptions::default()
    };
    let mut conn = ready(&d.addresses()[0], options).await;
    d.set_frozen(&MemberRef::Index(0), true).unwrap();
    let started = Instant::now();
    let error = conn.command("admin", doc! { "ping": 1 }).await.unwrap_err();
    assert_eq!(error, ConnectionError::Timeout { during: "read" });
    assert!(
        started.elapsed() >= socket_timeout,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.to_server_error().kind, ServerErrorKind::Timeout);
    d.shutdown().await;
}

#[tokio::test]
async fn the_handshake_times_out_after_the_connect_timeout() {
    let d = replica_set(1).await;
    d.set_frozen(&MemberRef::Index(0), true).unwrap();
    let connect_timeout = Duration::from_millis(300);
    let options = ConnectOptions {
        connect_timeout: Some(connect_timeout),
        socket_timeout: None,
        name_server: None,
    };
    let mut conn = connect(&d.addresses()[0], options).await;
    let started = Instant::now();
    let error = handshake(&mut conn, &HandshakeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error, ConnectionError::Timeout { during: "read" });
    assert!(started.elapsed() >= connect_timeout);
    d.shutdown().await;
}

/// The error of a `ping` on a handshaken connection to a node with `fault` armed.
async fn ping_with_fault(fault: FaultKind) -> (ConnectionError, Connection) {
    let d = replica_set(1).await;
    let mut conn = ready(&d.addresses()[0], ConnectOptions::default()).await;
    d.fault(&MemberRef::Index(0), fault).unwrap();
    let error = conn.command("admin", doc! { "ping": 1 }).await.unwrap_err();
    d.shutdown().await;
    (error, conn)
}

#[tokio::test]
async fn a_garbage_reply_is_a_protocol_error_and_ends_the_connection() {
    let (error, mut conn) = ping_with_fault(FaultKind::GarbageReply).await;
    assert!(
        matches!(&error, ConnectionError::Protocol { cause } if cause.contains("malformed")),
        "{error:?}"
    );
    assert_eq!(error.to_server_error().kind, ServerErrorKind::Protocol);
    let again = conn.command("admin", doc! { "ping": 1 }).await.unwrap_err();
    assert!(
        matches!(&again, ConnectionError::Network { cause } if cause.contains("malformed")),
        "{again:?}"
    );
}

#[tokio::test]
async fn an_oversized_length_is_a_protocol_error() {
    let (error, _) = ping_with_fault(FaultKind::OversizedLength).await;
    assert!(
        matches!(&error, ConnectionError::Protocol { cause } if cause.contains("messageLength")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_reset_in_the_middle_of_a_reply_is_a_network_error() {
    let (error, _) = ping_with_fault(FaultKind::ResetAfterBytes(10)).await;
    assert!(
        matches!(&error, ConnectionError::Network { cause } if cause.contains("middle")),
        "{error:?}"
    );
    assert_eq!(error.to_server_error().kind, ServerErrorKind::Network);
}

#[tokio::test]
async fn ok_zero_is_a_command_error_with_code_and_name() {
    let d = replica_set(1).await;
    let mut conn = ready(&d.addresses()[0], ConnectOptions::default()).await;
    d.fault(&MemberRef::Index(0), FaultKind::NotWritablePrimary(1))
        .unwrap();
    let error = conn.command("admin", doc! { "ping": 1 }).await.unwrap_err();
    match &error {
        ConnectionError::Command(failure) => {
            assert_eq!(failure.code, Some(10107));
            assert_eq!(failure.code_name.as_deref(), Some("NotWritablePrimary"));
        }
        other => panic!("expected Command, got {other:?}"),
    }
    let server_error = error.to_server_error();
    assert_eq!(server_error.kind, ServerErrorKind::Command);
    assert_eq!(server_error.code, Some(10107));
    // A command error leaves the connection usable.
    let reply = conn.command("admin", doc! { "ping": 1 }).await.unwrap();
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0));
    d.shutdown().await;
}

#[tokio::test]
async fn a_reply_to_another_request_is_a_protocol_error() {
    let server = fake_server(|mut stream| async move {
        let (request_id, _) = read_request(&mut stream).await;
        let reply = reply_bytes(request_id.wrapping_add(1), doc! { "ok": 1.0 });
        stream.write_all(&reply).await.unwrap();
        // Keep the connection open until the client is done.
        let _ = read_request(&mut stream).await;
    })
    .await;
    let mut conn = Connection::connect(&server, &ConnectOptions::default())
        .await
        .unwrap();
    let error = conn.command("admin", doc! { "ping": 1 }).await.unwrap_err();
    assert!(
        matches!(&error, ConnectionError::Protocol { cause } if cause.contains("answers request")),
        "{error:?}"
    );
}

/// Starts a streaming (exhaust) awaitable hello on `conn`; returns the maxAwaitTime.
async fn start_streaming(conn: &mut Connection, max_await: Duration) {
    let current = conn
        .command("admin", hello_command(false, None, false, None))
        .await
        .unwrap();
    let tv = topology_version(&current);
    let command = hello_command(false, None, false, Some((&tv, max_await)));
    conn.send("admin", command, MsgFlags::EXHAUST_ALLOWED)
        .await
        .unwrap();
    assert!(conn.awaiting_reply());
}

#[tokio::test]
async fn exhaust_streams_replies_without_new_requests() {
    let d = replica_set(2).await;
    let mut conn = ready(&d.addresses()[1], ConnectOptions::default()).await;
    let max_await = Duration::from_millis(150);
    start_streaming(&mut conn, max_await).await;
    let mut counters = Vec::new();
    for _ in 0..3 {
        let reply = conn.receive_within(Some(PROMPTLY)).await.unwrap();
        assert!(reply.more_to_come);
        assert!(conn.awaiting_reply());
        assert_eq!(reply.body.get_f64("ok").ok(), Some(1.0));
        counters.push(topology_version(&reply.body).get_i64("counter").unwrap());
    }
    // Nothing changed: every reply was sent when maxAwaitTime ran out.
    assert!(counters.windows(2).all(|w| w[0] == w[1]), "{counters:?}");
    d.shutdown().await;
}

#[tokio::test]
async fn exhaust_streams_a_stepdown_and_an_election_at_once() {
    let d = replica_set(2).await;
    let primary = d.addresses()[0].clone();
    let mut conn = ready(&d.addresses()[1], ConnectOptions::default()).await;
    // A maxAwaitTime far longer than PROMPTLY: a reply in time was caused by the change.
    start_streaming(&mut conn, Duration::from_secs(30)).await;
    d.stepdown().unwrap();
    let after_stepdown = conn.receive_within(Some(PROMPTLY)).await.unwrap();
    assert!(after_stepdown.more_to_come);
    assert!(!after_stepdown.body.contains_key("primary"));
    d.elect(&MemberRef::Index(0)).unwrap();
    let after_election = conn.receive_within(Some(PROMPTLY)).await.unwrap();
    assert!(after_election.more_to_come);
    assert_eq!(after_election.body.get_str("primary").unwrap(), primary);
    d.shutdown().await;
}

#[tokio::test]
async fn a_timed_out_receive_leaves_the_reply_for_the_next_one() {
    let d = replica_set(1).await;
    let mut conn = ready(&d.addresses()[0], ConnectOptions::default()).await;
    d.set_latency(&MemberRef::Index(0), Duration::from_millis(300))
        .unwrap();
    let request = conn
        .send("admin", doc! { "ping": 1 }, MsgFlags::empty())
        .await
        .unwrap();
    assert_ne!(request, 0);
    // Our own timeout, then a caller dropping the future: neither loses the reply.
    let error = conn
        .receive_within(Some(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert_eq!(error, ConnectionError::Timeout { during: "read" });
    assert!(
        tokio::time::timeout(Duration::from_millis(50), conn.receive())
            .await
            .is_err(),
        "the reply came before the latency"
    );
    let reply = conn.receive_within(Some(PROMPTLY)).await.unwrap();
    assert_eq!(reply.body.get_f64("ok").ok(), Some(1.0));
    assert!(!reply.more_to_come);
    d.shutdown().await;
}

#[tokio::test]
async fn a_receive_dropped_in_the_middle_of_a_reply_loses_no_bytes() {
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let server = fake_server(|mut stream| async move {
        let (request_id, _) = read_request(&mut stream).await;
        let bytes = reply_bytes(request_id, doc! { "ok": 1.0, "answer": 42 });
        let (head, tail) = bytes.split_at(10);
        stream.write_all(head).await.unwrap();
        let _ = release_rx.await;
        stream.write_all(tail).await.unwrap();
        let _ = read_request(&mut stream).await;
    })
    .await;
    let mut conn = Connection::connect(&server, &ConnectOptions::default())
        .await
        .unwrap();
    conn.send("admin", doc! { "ping": 1 }, MsgFlags::empty())
        .await
        .unwrap();
    // The first 10 bytes arrive; the rest waits for the release.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), conn.receive())
            .await
            .is_err(),
        "the reply cannot be complete yet"
    );
    release_tx.send(()).unwrap();
    let reply = conn.receive_within(Some(PROMPTLY)).await.unwrap();
    assert_eq!(reply.body.get_i32("answer").ok(), Some(42));
}

#[tokio::test]
async fn connection_ids_increase() {
    let d = replica_set(1).await;
    let first = connect(&d.addresses()[0], ConnectOptions::default()).await;
    let second = connect(&d.addresses()[0], ConnectOptions::default()).await;
    assert!(second.id() > first.id());
    d.shutdown().await;
}
