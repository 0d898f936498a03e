//! The request loop of one connection: read a message, run the command after the node's
//! latency, apply the hello rules, write the reply; exhaust streaming.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bson::oid::ObjectId;
use bson::{Bson, Document};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::accept::open_streams;
use super::awaitable::{await_spec, wait_for_change};
use super::io::{delay_unless_peer_leaves, peer_went_away, Close, Reader, Writer};
use crate::auth::AuthSession;
use crate::commands::{is_handshake, run_command, CommandContext};
use crate::fail_point::handshake_app_name;
use crate::faults::mangle;
use crate::horizons;
use crate::load_balancer::{on_hello, AfterHello};
use crate::request::{parse_request, Request};
use crate::shared::Shared;
use mongo_topology_core::wire::framing::{FrameError, MessageReader, MessageWriter};
use mongo_topology_core::wire::{
    encode_message, Message, MsgFlags, OpMsg, OpReply, Payload, MAX_MESSAGE_SIZE_BYTES,
};

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
    let Some((rd, wr, client_subject, sni)) = open_streams(&shared, idx, stream, port, id).await
    else {
        return;
    };
    let mut rd = MessageReader::new(rd, MAX_MESSAGE_SIZE_BYTES);
    let mut wr = MessageWriter::new(wr);
    // The server's `Client::supportsHello`: set by the `helloOk` of the last handshake.
    let mut client_hello_ok = false;
    let mut auth = AuthSession::with_client_subject(client_subject);
    let mut handshakes = 0u64;
    let mut app_name = None;
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
            sni: sni.as_deref(),
            client_hello_ok: &mut client_hello_ok,
            auth: &mut auth,
            handshakes: &mut handshakes,
            app_name: &mut app_name,
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

/// Per-connection state a request may read or change.
struct Conn<'a> {
    /// The connection's id (hello's connectionId).
    id: i64,
    /// The client's address (the load balancer's, for forwarded connections).
    peer: SocketAddr,
    /// The server name of the client's TLS handshake (selects a split horizon).
    sni: Option<&'a str>,
    /// Whether the connection's last handshake carried `helloOk: true`.
    client_hello_ok: &'a mut bool,
    /// Who is authenticated, and the SASL conversation in progress.
    auth: &'a mut AuthSession,
    /// Handshakes answered on this connection so far.
    handshakes: &'a mut u64,
    /// The application name the connection's first handshake gave (what the `failCommand`
    /// fail point's `appName` selects).
    app_name: &'a mut Option<String>,
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
    let version = shared.world().version_of(idx);
    let has_tv = version.has_topology_version();
    if is_handshake(&name) && version.answers_hello_ok() {
        if let Some(Bson::Boolean(hello_ok)) = request.command.get("helloOk") {
            *conn.client_hello_ok = *hello_ok;
        }
    }
    if is_handshake(&name) && *conn.handshakes == 0 {
        *conn.app_name = handshake_app_name(&request.command);
    }
    let id = conn.id;
    let client_hello_ok = *conn.client_hello_ok;
    let mut write_concern_error = None;
    if request.error.is_none() {
        match fail_point(shared, idx, &name, conn.app_name.as_deref(), rd).await? {
            Injected::Nothing => {}
            Injected::Reply(error) => {
                return send(shared, idx, wr, &request, error, request.request_id, false)
                    .await
                    .map(|_| ());
            }
            Injected::WriteConcernError(error) => write_concern_error = Some(error),
        }
        if let Some(sleep) = crate::crud::where_sleep(&request.command) {
            delay_unless_peer_leaves(sleep, rd).await?;
        }
        if crate::step_down::is_election_command(&name) {
            let reply = crate::step_down::run(shared, idx, &name);
            return send(shared, idx, wr, &request, reply, request.request_id, false)
                .await
                .map(|_| ());
        }
    }
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
        horizons::apply(&shared.world(), idx, conn.sni, &mut reply);
        let first = *conn.handshakes == 0;
        *conn.handshakes += 1;
        after_hello = on_hello(shared, idx, conn.peer, first, &request.command, &mut reply);
    }
    if let Some(error) = write_concern_error {
        reply.insert("writeConcernError", error);
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
    let app_name = conn.app_name.clone();
    loop {
        // Each awaited reply is a new hello to the server, which the fail point may fail.
        match fail_point(shared, idx, &name, app_name.as_deref(), rd).await? {
            Injected::Reply(error) => {
                send(shared, idx, wr, &request, error, last_id, false).await?;
                return Ok(());
            }
            Injected::Nothing | Injected::WriteConcernError(_) => {}
        }
        wait_for_change(shared, idx, changes, tv.0, tv.1, spec.max_await, rd).await?;
        let reply = match compute(shared, idx, id, client_hello_ok, conn.auth, &request, rd).await {
            Ok((mut reply, next_tv)) => {
                tv = next_tv;
                horizons::apply(&shared.world(), idx, conn.sni, &mut reply);
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

/// What the `failCommand` fail point did to a command.
enum Injected {
    /// Nothing: run it.
    Nothing,
    /// Answer this error instead.
    Reply(Document),
    /// Run it, and add this writeConcernError to its reply.
    WriteConcernError(Document),
}

/// Applies node `idx`'s `failCommand` fail point to command `name` from a client whose
/// handshake gave `app_name`: blocks, closes the connection, or says what to answer.
async fn fail_point(
    shared: &Shared,
    idx: usize,
    name: &str,
    app_name: Option<&str>,
    rd: &mut Reader,
) -> Result<Injected, Close> {
    let injection = shared.world().fail_points.check(idx, name, app_name);
    let Some(injection) = injection else {
        return Ok(Injected::Nothing);
    };
    if injection.close_connection {
        return Err(Close::Quietly);
    }
    if let Some(block) = injection.block {
        delay_unless_peer_leaves(block, rd).await?;
    }
    Ok(match (injection.error, injection.write_concern_error) {
        (Some(error), _) => Injected::Reply(error),
        (None, Some(error)) => Injected::WriteConcernError(error),
        (None, None) => Injected::Nothing,
    })
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
            let (name, version, users) = (ctx.name(), world.version_of(idx), &shared.users);
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
