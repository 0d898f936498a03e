//! One client connection to a node: read a message, run the command, write the reply;
//! awaitable hello and exhaust streaming. A malformed message closes this connection with
//! a log line and nothing else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bson::oid::ObjectId;
use bson::{Bson, Document};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::auth::AuthSession;
use super::commands::{is_handshake, run_command, CommandContext};
use super::faults::mangle;
use super::load_balancer::{on_hello, AfterHello};
use super::reply::error_reply;
use super::request::{parse_request, Request};
use super::shared::Shared;
use super::tls::certificate_subject;
use mongo_topology_core::wire::framing::{FrameError, MessageReader, MessageWriter};
use mongo_topology_core::wire::{
    encode_message, Message, MsgFlags, OpMsg, OpReply, Payload, MAX_MESSAGE_SIZE_BYTES,
};

/// The longest an awaitable hello waits, whatever maxAwaitTimeMS says.
const MAX_AWAIT_CAP: Duration = Duration::from_secs(24 * 3600);

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection's read side (TCP or TLS): buffered, so a wait may be abandoned without
/// losing bytes.
type Reader = MessageReader<Box<dyn AsyncRead + Send + Unpin>>;

/// The connection's write side, encoding replies into one reused buffer.
type Writer = MessageWriter<Box<dyn AsyncWrite + Send + Unpin>>;

/// Why a connection ends.
enum Close {
    /// The peer closed, or a fault asked for it: nothing to log beyond debug.
    Quietly,
    /// The peer misbehaved or I/O failed.
    Because(String),
}

/// An awaitable hello's parameters.
#[derive(Debug, Clone, Copy)]
struct AwaitSpec {
    process_id: ObjectId,
    counter: i64,
    max_await: Duration,
}

/// Serves one connection until the peer closes it, it misbehaves, or the node stops.
pub(crate) async fn serve_connection(
    shared: Arc<Shared>,
    idx: usize,
    stream: TcpStream,
    id: i64,
    peer: SocketAddr,
) {
    let port = shared.nodes.get(idx).map(|n| n.port).unwrap_or_default();
    let Some(mut changes) = shared.nodes.get(idx).map(|n| n.changes.subscribe()) else {
        return;
    };
    let Some((rd, wr, client_subject)) = open_streams(&shared, idx, stream, port, id).await else {
        return;
    };
    let mut rd = MessageReader::new(rd, MAX_MESSAGE_SIZE_BYTES);
    let mut wr = MessageWriter::new(wr);
    // The server's `Client::supportsHello`: set by the `helloOk` of the last handshake.
    let mut client_hello_ok = false;
    let mut auth = AuthSession::with_client_subject(client_subject);
    let mut handshakes = 0u64;
    let outcome = loop {
        let message = match rd.read_message().await {
            Ok(Some(message)) => message,
            Ok(None) => break Close::Quietly,
            Err(FrameError::Io(e)) if peer_went_away(&e) => break Close::Quietly,
            Err(e) => break Close::Because(e.to_string()),
        };
        let conn = Conn {
            id,
            peer,
            client_hello_ok: &mut client_hello_ok,
            auth: &mut auth,
            handshakes: &mut handshakes,
        };
        if let Err(close) =
            handle(&shared, idx, conn, message, &mut rd, &mut wr, &mut changes).await
        {
            break close;
        }
    };
    match outcome {
        Close::Quietly => tracing::debug!(port, connection = id, "connection closed"),
        Close::Because(reason) => {
            tracing::warn!(port, connection = id, "closing connection: {reason}")
        }
    }
}

/// The connection's read and write sides: the TCP stream's halves, or, when the deployment
/// serves TLS (and the client starts a TLS handshake, if plain clients are allowed too),
/// the TLS stream's after the handshake (with the subject of the client's
/// certificate, if it sent one). `None` when the handshake fails or times out (logged).
/// While `stall-tls-handshake` is armed, the handshake waits after the client's first bytes.
async fn open_streams(
    shared: &Shared,
    idx: usize,
    stream: TcpStream,
    port: u16,
    id: i64,
) -> Option<(
    Box<dyn AsyncRead + Send + Unpin>,
    Box<dyn AsyncWrite + Send + Unpin>,
    Option<String>,
)> {
    let Some(tls) = &shared.tls else {
        if starts_tls_handshake(&stream).await {
            // As mongod without TLS: refuse, so the client fails at once instead of
            // waiting for a "message" as long as the ClientHello's first bytes say.
            tracing::info!(
                port,
                connection = id,
                "TLS handshake received but the server is started without TLS"
            );
            return None;
        }
        let (rd, wr) = stream.into_split();
        return Some((Box::new(rd), Box::new(wr), None));
    };
    if tls.options().allow_plain && !starts_tls_handshake(&stream).await {
        let (rd, wr) = stream.into_split();
        return Some((Box::new(rd), Box::new(wr), None));
    }
    let accepted = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, async {
        stall_while_armed(shared, idx, &stream, port, id).await;
        tls.acceptor().accept(stream).await
    })
    .await;
    let stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::info!(port, connection = id, "TLS handshake failed: {e}");
            return None;
        }
        Err(_) => {
            tracing::info!(port, connection = id, "TLS handshake timed out");
            return None;
        }
    };
    let subject = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(certificate_subject);
    let (rd, wr) = tokio::io::split(stream);
    Some((Box::new(rd), Box::new(wr), subject))
}

/// How often a stalled handshake looks whether its fault was cleared.
const STALL_POLL: Duration = Duration::from_millis(10);

/// The `stall-tls-handshake` fault: when armed on node `idx`, waits for the client's first
/// bytes (leaving them unread), then answers nothing until the fault is cleared (the
/// caller's handshake timeout ends the wait otherwise). A stall that is cleared resumes:
/// the handshake goes on from the client's first bytes.
async fn stall_while_armed(shared: &Shared, idx: usize, stream: &TcpStream, port: u16, id: i64) {
    let armed = || {
        shared
            .world()
            .node(idx)
            .is_some_and(|n| n.faults.stall_tls_handshake)
    };
    if !armed() {
        return;
    }
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await.is_err() {
        return;
    }
    tracing::debug!(port, connection = id, "stalling the TLS handshake");
    while armed() {
        tokio::time::sleep(STALL_POLL).await;
    }
}

/// Whether the client's first bytes are a TLS handshake record (content type 22,
/// version 3.x). Waits for the client's first byte; the client always speaks first.
async fn starts_tls_handshake(stream: &TcpStream) -> bool {
    let mut first = [0u8; 2];
    matches!(stream.peek(&mut first).await, Ok(2..) if first == [0x16, 0x03])
}

/// A reset or a close in the middle of a message: the client left, nothing was malformed.
fn peer_went_away(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

/// Per-connection state a request may read or change.
struct Conn<'a> {
    /// The connection's id (hello's connectionId).
    id: i64,
    /// The client's address (the load balancer's, for forwarded connections).
    peer: SocketAddr,
    /// Whether the connection's last handshake carried `helloOk: true`.
    client_hello_ok: &'a mut bool,
    /// Who is authenticated, and the SASL conversation in progress.
    auth: &'a mut AuthSession,
    /// Handshakes answered on this connection so far.
    handshakes: &'a mut u64,
}

async fn handle(
    shared: &Shared,
    idx: usize,
    conn: Conn<'_>,
    message: Message,
    rd: &mut Reader,
    wr: &mut Writer,
    changes: &mut watch::Receiver<i64>,
) -> Result<(), Close> {
    let request = parse_request(message).map_err(Close::Because)?;
    let name = request.name().to_owned();
    let version = shared.world().version;
    let has_tv = version.has_topology_version();
    if is_handshake(&name) && version.answers_hello_ok() {
        if let Some(Bson::Boolean(hello_ok)) = request.command.get("helloOk") {
            *conn.client_hello_ok = *hello_ok;
        }
    }
    let id = conn.id;
    let client_hello_ok = *conn.client_hello_ok;
    let awaitable = if is_handshake(&name) && has_tv && request.error.is_none() {
        match await_spec(&request.command) {
            Ok(spec) => spec,
            Err(reply) => {
                return send(shared, idx, wr, &request, reply, request.request_id, false)
                    .await
                    .map(|_| ());
            }
        }
    } else {
        None
    };
    if let Some(spec) = awaitable {
        wait_for_change(
            shared,
            idx,
            changes,
            spec.process_id,
            spec.counter,
            spec.max_await,
            rd,
        )
        .await?;
    }
    let (mut reply, mut tv) =
        match compute(shared, idx, id, client_hello_ok, conn.auth, &request, rd).await {
            Ok(computed) => computed,
            // Frozen: never answer; the caller goes on reading, so a peer leaving is noticed.
            Err(NoReply::Frozen(_)) => return Ok(()),
            Err(NoReply::Close(close)) => return Err(close),
        };
    let mut after_hello = AfterHello::KeepOpen;
    if is_handshake(&name) {
        let first = *conn.handshakes == 0;
        *conn.handshakes += 1;
        after_hello = on_hello(shared, idx, conn.peer, first, &request.command, &mut reply);
    }
    if request.more_to_come {
        return Ok(()); // fire-and-forget request: no reply
    }
    let ok = matches!(reply.get("ok"), Some(Bson::Double(v)) if *v == 1.0);
    let streaming = awaitable.is_some() && request.exhaust_allowed && ok;
    let mut last_id = send(
        shared,
        idx,
        wr,
        &request,
        reply,
        request.request_id,
        streaming,
    )
    .await?;
    if after_hello == AfterHello::Close {
        return Err(Close::Quietly);
    }
    let Some(spec) = awaitable.filter(|_| streaming) else {
        return Ok(());
    };
    // Exhaust: keep answering, each reply responding to our previous one.
    loop {
        wait_for_change(shared, idx, changes, tv.0, tv.1, spec.max_await, rd).await?;
        let reply = match compute(shared, idx, id, client_hello_ok, conn.auth, &request, rd).await {
            Ok((reply, next_tv)) => {
                tv = next_tv;
                reply
            }
            Err(NoReply::Frozen(frozen_tv)) => {
                // Frozen: stay silent, and wait for the next change from here.
                tv = frozen_tv;
                continue;
            }
            Err(NoReply::Close(close)) => return Err(close),
        };
        last_id = send(shared, idx, wr, &request, reply, last_id, true).await?;
    }
}

/// A node's topologyVersion: processId and counter.
type Tv = (ObjectId, i64);

/// Why no reply was computed.
enum NoReply {
    /// The node is frozen: no reply; its topologyVersion at that moment.
    Frozen(Tv),
    /// The node no longer exists, or the peer left during the latency: close.
    Close(Close),
}

/// Runs the request's command after the node's latency, and returns the reply with the
/// node's topologyVersion at that moment.
async fn compute(
    shared: &Shared,
    idx: usize,
    id: i64,
    client_hello_ok: bool,
    auth: &mut AuthSession,
    request: &Request,
    rd: &mut Reader,
) -> Result<(Document, Tv), NoReply> {
    let latency = shared
        .world()
        .node(idx)
        .map(|n| n.latency)
        .unwrap_or_default();
    if !latency.is_zero() {
        delay_unless_peer_leaves(latency, rd)
            .await
            .map_err(NoReply::Close)?;
    }
    let mut world = shared.world();
    let node = world.node(idx).ok_or(NoReply::Close(Close::Quietly))?;
    let tv = (node.process_id, node.tv_counter);
    if node.frozen {
        return Err(NoReply::Frozen(tv));
    }
    let reply = match &request.error {
        Some(error) => error.clone(),
        None => {
            let ctx = CommandContext {
                command: &request.command,
                db: &request.db,
                connection_id: id,
                via_op_query: request.op_query,
                secondary_ok_flag: request.secondary_ok_flag,
                client_hello_ok,
            };
            let (name, version, users) = (ctx.name(), world.version, &shared.users);
            match auth.intercept(users, version, name, ctx.db, ctx.command) {
                Some(answer) => answer,
                None => {
                    let mut reply = run_command(&mut world, idx, SystemTime::now(), &ctx);
                    if is_handshake(name) && reply.get_f64("ok").ok() == Some(1.0) {
                        auth.complete_hello(users, version, ctx.command, &mut reply);
                    }
                    reply
                }
            }
        }
    };
    Ok((reply, tv))
}

/// Encodes and writes a reply (applying any reply fault); returns its requestID.
async fn send(
    shared: &Shared,
    idx: usize,
    wr: &mut Writer,
    request: &Request,
    reply: Document,
    response_to: i32,
    more_to_come: bool,
) -> Result<i32, Close> {
    use tokio::io::AsyncWriteExt;
    let request_id = shared.next_request_id();
    let payload = if request.op_query {
        Payload::Reply(OpReply::single(reply))
    } else {
        let mut msg = OpMsg::new(reply);
        if more_to_come {
            msg.flags = MsgFlags::MORE_TO_COME;
        }
        Payload::Msg(msg)
    };
    let message = Message {
        request_id,
        response_to,
        payload,
    };
    let fault = shared
        .world()
        .node(idx)
        .and_then(|n| n.faults.reply_fault());
    let close = match fault {
        None => {
            wr.write_message(&message).await.map_err(|e| match e {
                FrameError::Wire(e) => Close::Because(format!("cannot encode reply: {e}")),
                FrameError::Io(e) => Close::Because(format!("write failed: {e}")),
            })?;
            false
        }
        Some(fault) => {
            let bytes = encode_message(&message)
                .map_err(|e| Close::Because(format!("cannot encode reply: {e}")))?;
            let (bytes, close) = mangle(bytes, fault);
            let written = async {
                wr.get_mut().write_all(&bytes).await?;
                wr.get_mut().flush().await
            };
            written
                .await
                .map_err(|e| Close::Because(format!("write failed: {e}")))?;
            close
        }
    };
    if close {
        return Err(Close::Quietly);
    }
    Ok(request_id)
}

/// The granularity of tokio's timer.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// Sleeps `delay` (a node's simulated latency) while watching the connection, so that a
/// peer leaving meanwhile ends the connection at once. Bytes the peer sends meanwhile
/// (pipelined requests) stay buffered for later, up to one maximal message.
///
/// tokio's timer rounds up to whole milliseconds, which made a 5 ms latency about 6.2 ms: the
/// timer sleeps until one millisecond before the deadline, and the rest is spent yielding,
/// so the simulated latency is accurate to a few microseconds.
async fn delay_unless_peer_leaves(delay: Duration, rd: &mut Reader) -> Result<(), Close> {
    let deadline = Instant::now() + delay;
    let coarse = deadline.checked_sub(TIMER_RESOLUTION).unwrap_or(deadline);
    let sleep = tokio::time::sleep_until(coarse);
    tokio::pin!(sleep);
    loop {
        let room = rd.decoder_mut().buffered_len() < MAX_MESSAGE_SIZE_BYTES as usize;
        tokio::select! {
            _ = &mut sleep => {
                while Instant::now() < deadline {
                    tokio::task::yield_now().await;
                }
                return Ok(());
            }
            read = rd.read_available(), if room => match read {
                Ok(0) => return Err(Close::Quietly),
                Ok(_) => {}
                Err(FrameError::Io(e)) if peer_went_away(&e) => return Err(Close::Quietly),
                Err(e) => return Err(Close::Because(format!("read failed: {e}"))),
            },
        }
    }
}

/// Parses `topologyVersion` + `maxAwaitTimeMS` of an awaitable hello. `Ok(None)`: not
/// awaitable; `Err(reply)`: malformed, answer with this error.
fn await_spec(command: &Document) -> Result<Option<AwaitSpec>, Document> {
    let tv = command.get("topologyVersion");
    let max = command.get("maxAwaitTimeMS");
    let (tv, max) = match (tv, max) {
        (None, None) => return Ok(None),
        (Some(Bson::Document(tv)), Some(max)) => (tv, max),
        _ => {
            return Err(error_reply(
                9,
                "FailedToParse",
                "topologyVersion must be a document and come with maxAwaitTimeMS",
            ))
        }
    };
    let bad = |what: &str| {
        error_reply(
            9,
            "FailedToParse",
            format!("invalid {what} in awaitable hello"),
        )
    };
    let process_id = tv
        .get_object_id("processId")
        .map_err(|_| bad("topologyVersion.processId"))?;
    let counter = match tv.get("counter") {
        Some(Bson::Int64(c)) => *c,
        Some(Bson::Int32(c)) => i64::from(*c),
        _ => return Err(bad("topologyVersion.counter")),
    };
    let millis = match max {
        Bson::Int64(m) => *m,
        Bson::Int32(m) => i64::from(*m),
        Bson::Double(m) if m.is_finite() => *m as i64,
        _ => return Err(bad("maxAwaitTimeMS")),
    };
    let millis = u64::try_from(millis).map_err(|_| bad("maxAwaitTimeMS"))?;
    Ok(Some(AwaitSpec {
        process_id,
        counter,
        max_await: Duration::from_millis(millis),
    }))
}

/// Waits until node `idx`'s topologyVersion differs from (`process_id`, `counter`) or
/// `max_await` passes. Meanwhile the client must stay silent: its closing the connection
/// (or sending anything) ends the connection.
async fn wait_for_change(
    shared: &Shared,
    idx: usize,
    changes: &mut watch::Receiver<i64>,
    process_id: ObjectId,
    counter: i64,
    max_await: Duration,
    rd: &mut Reader,
) -> Result<(), Close> {
    // A client may ask for any wait: cap it so the deadline cannot overflow.
    let deadline = Instant::now() + max_await.min(MAX_AWAIT_CAP);
    loop {
        changes.borrow_and_update();
        let same = shared
            .world()
            .node(idx)
            .is_some_and(|n| n.process_id == process_id && n.tv_counter == counter);
        if !same {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            changed = changes.changed() => {
                if changed.is_err() {
                    return Err(Close::Quietly); // the deployment is gone
                }
            }
            read = rd.read_available() => {
                return Err(match read {
                    Ok(0) => Close::Quietly,
                    Ok(_) => Close::Because("client sent data while awaiting a hello reply".into()),
                    Err(FrameError::Io(e)) if peer_went_away(&e) => Close::Quietly,
                    Err(e) => Close::Because(format!("read failed: {e}")),
                });
            }
        }
    }
}
