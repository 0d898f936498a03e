//! One replay node: listens (except while the recording shows its server refusing
//! connections), and serves each connection from the recording: hello (plain, awaitable,
//! exhaust), failures as they failed, and a few commands drivers send around their work.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Document};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::hello::{awaitable, shaped, Awaitable};
use super::outcome::{entry_at, entry_for_request, next_change, Entry, Failure, Outcome};
use super::timeline::Recording;
use crate::commands::is_handshake;
use crate::reply::error_reply;
use crate::request::{parse_request, Request};
use mongo_topology_core::wire::framing::{MessageReader, MessageWriter};
use mongo_topology_core::wire::{
    Message, MsgFlags, OpMsg, OpReply, Payload, MAX_MESSAGE_SIZE_BYTES,
};

/// Commands answered `ok: 1` as a server would (drivers send them around their work).
const ANSWERED_OK: [&str; 3] = ["ping", "endSessions", "killCursors"];

/// How long a node that must listen again retries a port taken meanwhile.
const REBIND_PATIENCE: Duration = Duration::from_secs(5);

type Reader = MessageReader<OwnedReadHalf>;
type Writer = MessageWriter<OwnedWriteHalf>;

/// The replay's clock: recording time from the replay's start and speed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    /// When recording time zero was served.
    pub(crate) started: Instant,
    /// Recording seconds per replay second.
    pub(crate) speed: f64,
}

impl Clock {
    /// µs into the recording that now corresponds to.
    fn now_us(&self) -> u64 {
        let scaled = self.started.elapsed().as_secs_f64() * self.speed * 1e6;
        if scaled.is_finite() && scaled >= 0.0 && scaled < u64::MAX as f64 {
            scaled as u64
        } else {
            u64::MAX
        }
    }

    /// When recording time `at_us` is served.
    fn instant_of(&self, at_us: u64) -> Instant {
        let seconds = at_us as f64 / 1e6 / self.speed;
        Duration::try_from_secs_f64(seconds)
            .ok()
            .and_then(|offset| self.started.checked_add(offset))
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(24 * 3600))
    }
}

/// What a node serves: its recorded address, the recording, the clock, and the processId
/// of its topologyVersion.
pub(crate) struct Node {
    pub(crate) recording: Arc<Recording>,
    pub(crate) address: String,
    pub(crate) clock: Clock,
    pub(crate) process_id: ObjectId,
}

impl Node {
    fn entries(&self) -> &[Entry] {
        self.recording.entries(&self.address)
    }

    /// The failure in effect now, if any.
    fn failure_now(&self) -> Option<Failure> {
        entry_at(self.entries(), self.clock.now_us()).and_then(|entry| entry.outcome.failure())
    }

    /// When what the server says next changes.
    fn next_change(&self) -> Option<Instant> {
        next_change(self.entries(), self.clock.now_us()).map(|at| self.clock.instant_of(at))
    }
}

/// Sleeps until `deadline`, or forever.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Serves the node on `listener` until aborted; while the recording shows its server
/// refusing connections, nothing listens on the port.
pub(crate) async fn serve_node(listener: TcpListener, node: Arc<Node>) {
    let Ok(local) = listener.local_addr() else {
        return;
    };
    let mut listener = Some(listener);
    loop {
        if node.failure_now() == Some(Failure::Refused) {
            listener = None;
            sleep_until(node.next_change()).await;
            continue;
        }
        let Some(open) = &listener else {
            listener = rebind(local).await;
            if listener.is_none() {
                tracing::warn!(address = %node.address, %local, "replay: cannot listen again");
                return;
            }
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                if let Ok((stream, _peer)) = accepted {
                    let node = node.clone();
                    tokio::spawn(async move { serve_connection(stream, &node).await });
                }
            }
            _ = sleep_until(node.next_change()) => {}
        }
    }
}

/// Listens on `local` again (its port may be taken for a moment).
async fn rebind(local: SocketAddr) -> Option<TcpListener> {
    let deadline = Instant::now() + REBIND_PATIENCE;
    loop {
        match TcpListener::bind(local).await {
            Ok(listener) => return Some(listener),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return None,
        }
    }
}

/// How a connection goes on after a step.
enum Next {
    Continue,
    /// Stop answering; keep the connection open until the client closes it.
    Silent,
    Close,
}

async fn serve_connection(stream: TcpStream, node: &Node) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut reader = MessageReader::new(read, MAX_MESSAGE_SIZE_BYTES);
    let mut writer = MessageWriter::new(write);
    let mut next_request_id = 1;
    // A reset in effect when the connection opened was before it: it does not close it.
    let opened_version =
        entry_for_request(node.entries(), node.clock.now_us()).map(|entry| entry.version);
    let mut next = match entry_for_request(node.entries(), node.clock.now_us()) {
        // An address never checked never answered.
        None => Next::Close,
        Some(entry) => after_failure(entry.outcome.failure()),
    };
    while let Next::Continue = next {
        let message = tokio::select! {
            message = reader.read_message() => message,
            _ = sleep_until(node.next_change()) => {
                next = on_change(node, opened_version);
                continue;
            }
        };
        let Ok(Some(message)) = message else {
            return;
        };
        let Ok(request) = parse_request(message) else {
            return;
        };
        if request.more_to_come {
            // The client expects no reply.
            continue;
        }
        next = answer(
            node,
            &request,
            opened_version,
            &mut reader,
            &mut writer,
            &mut next_request_id,
        )
        .await;
    }
    if let Next::Silent = next {
        // Read and drop whatever the client sends until it gives up.
        while let Ok(Some(_)) = reader.read_message().await {}
    }
}

/// What a connection does with `failure` in effect.
fn after_failure(failure: Option<Failure>) -> Next {
    match failure {
        None => Next::Continue,
        Some(Failure::Silent) => Next::Silent,
        Some(Failure::Refused | Failure::Reset | Failure::Closed) => Next::Close,
    }
}

/// What an open connection does when what the server says changes: a failure that
/// started after it opened ends or silences it.
fn on_change(node: &Node, opened_version: Option<i64>) -> Next {
    let Some(entry) = entry_at(node.entries(), node.clock.now_us()) else {
        return Next::Close;
    };
    if entry.outcome.failure() == Some(Failure::Reset) && opened_version >= Some(entry.version) {
        return Next::Continue;
    }
    after_failure(entry.outcome.failure())
}

async fn answer(
    node: &Node,
    request: &Request,
    opened_version: Option<i64>,
    reader: &mut Reader,
    writer: &mut Writer,
    next_request_id: &mut i32,
) -> Next {
    let name = request.name().to_owned();
    let response_to = request.request_id;
    if let Some(error) = request.error.clone() {
        return send(writer, request, response_to, error, next_request_id, false).await;
    }
    if !is_handshake(&name) {
        let reply = if ANSWERED_OK.contains(&name.as_str()) {
            doc! { "ok": 1.0 }
        } else {
            error_reply(
                59,
                "CommandNotFound",
                format!("a replayed server answers hello only, not {name}"),
            )
        };
        return send(writer, request, response_to, reply, next_request_id, false).await;
    }
    let Some(mut waiting) = awaitable(&request.command).filter(|_| !request.op_query) else {
        return match current_reply(node, request) {
            Ok(reply) => send(writer, request, response_to, reply, next_request_id, false).await,
            Err(next) => next,
        };
    };
    // Awaitable hello: answer when what the server says changes, or at maxAwaitTimeMS; with
    // exhaustAllowed, go on streaming without further requests (each reply responding to
    // the one before).
    let mut response_to = response_to;
    loop {
        if let Err(next) = await_change(node, &waiting, reader).await {
            return next;
        }
        let next = on_change(node, opened_version);
        if !matches!(next, Next::Continue) {
            return next;
        }
        let (reply, version) = match current(node) {
            Ok(current) => current,
            Err(next) => return next,
        };
        let reply = shaped(&reply, &request.command, node.process_id, version);
        let streaming = request.exhaust_allowed;
        let sent_id = *next_request_id;
        let next = send(
            writer,
            request,
            response_to,
            reply,
            next_request_id,
            streaming,
        )
        .await;
        if !streaming || !matches!(next, Next::Continue) {
            return next;
        }
        response_to = sent_id;
        waiting = Awaitable {
            process_id: node.process_id,
            counter: version,
            ..waiting
        };
    }
}

/// The reply in effect now and its version, or what the connection does instead.
fn current(node: &Node) -> Result<(Document, i64), Next> {
    match entry_for_request(node.entries(), node.clock.now_us()) {
        Some(Entry {
            outcome: Outcome::Reply(reply),
            version,
            ..
        }) => Ok((reply.clone(), *version)),
        Some(entry) => Err(after_failure(entry.outcome.failure())),
        None => Err(Next::Close),
    }
}

fn current_reply(node: &Node, request: &Request) -> Result<Document, Next> {
    let (reply, version) = current(node)?;
    Ok(shaped(&reply, &request.command, node.process_id, version))
}

/// Waits while the client's topologyVersion is the current one, at most maxAwaitTimeMS;
/// the client must stay silent meanwhile.
async fn await_change(node: &Node, waiting: &Awaitable, reader: &mut Reader) -> Result<(), Next> {
    let deadline = Instant::now() + waiting.max_await;
    loop {
        let current = entry_for_request(node.entries(), node.clock.now_us());
        let same = waiting.process_id == node.process_id
            && current.is_some_and(|entry| entry.version == waiting.counter);
        if !same {
            return Ok(());
        }
        let change = node.next_change();
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            _ = sleep_until(change) => {}
            _ = reader.read_available() => return Err(Next::Close),
        }
    }
}

/// Sends `reply` (responding to `response_to`; `more_to_come`: a streamed reply).
async fn send(
    writer: &mut Writer,
    request: &Request,
    response_to: i32,
    reply: Document,
    next_request_id: &mut i32,
    more_to_come: bool,
) -> Next {
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
        request_id: *next_request_id,
        response_to,
        payload,
    };
    *next_request_id += 1;
    match writer.write_message(&message).await {
        Ok(()) => Next::Continue,
        Err(_) => Next::Close,
    }
}
