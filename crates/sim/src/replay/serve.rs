//! One replay node: accepts connections and answers each request from the recording.

use std::sync::Arc;

use bson::{doc, Document};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::timeline::{Outcome, Recording};
use crate::commands::is_handshake;
use crate::reply::error_reply;
use crate::request::parse_request;
use mongo_topology_core::wire::framing::{MessageReader, MessageWriter};
use mongo_topology_core::wire::{Message, OpMsg, OpReply, Payload, MAX_MESSAGE_SIZE_BYTES};

/// Commands answered `ok: 1` as a server would (drivers send them around their work).
const ANSWERED_OK: [&str; 3] = ["ping", "endSessions", "killCursors"];

/// Serves the recorded `address` on `listener` until aborted.
pub(crate) async fn serve_node(
    listener: TcpListener,
    recording: Arc<Recording>,
    address: String,
    started: Instant,
    speed: f64,
) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            continue;
        };
        let recording = recording.clone();
        let address = address.clone();
        tokio::spawn(async move {
            serve_connection(stream, &recording, &address, started, speed).await;
        });
    }
}

/// µs into the recording that now corresponds to.
fn recording_time(started: Instant, speed: f64) -> u64 {
    let scaled = started.elapsed().as_secs_f64() * speed * 1e6;
    if scaled.is_finite() && scaled >= 0.0 && scaled < u64::MAX as f64 {
        scaled as u64
    } else {
        u64::MAX
    }
}

async fn serve_connection(
    stream: TcpStream,
    recording: &Recording,
    address: &str,
    started: Instant,
    speed: f64,
) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut reader = MessageReader::new(read, MAX_MESSAGE_SIZE_BYTES);
    let mut writer = MessageWriter::new(write);
    let mut next_request_id = 1;
    // A failed check is replayed as a closed connection; an address never checked is one
    // that never answered.
    let Some(Outcome::Reply(_)) = recording.outcome_at(address, recording_time(started, speed))
    else {
        return;
    };
    while let Ok(Some(message)) = reader.read_message().await {
        let Ok(request) = parse_request(message) else {
            return;
        };
        let name = request.name().to_owned();
        let reply = if let Some(error) = request.error.clone() {
            error
        } else if is_handshake(&name) {
            match recording.outcome_at(address, recording_time(started, speed)) {
                Some(Outcome::Reply(reply)) => reply.clone(),
                _ => return,
            }
        } else if ANSWERED_OK.contains(&name.as_str()) {
            doc! { "ok": 1.0 }
        } else {
            error_reply(
                59,
                "CommandNotFound",
                format!("a replayed server answers hello only, not {name}"),
            )
        };
        if request.more_to_come {
            continue;
        }
        if send(&mut writer, &request, reply, next_request_id)
            .await
            .is_err()
        {
            return;
        }
        next_request_id += 1;
    }
}

async fn send<W: tokio::io::AsyncWrite + Unpin>(
    writer: &mut MessageWriter<W>,
    request: &crate::request::Request,
    reply: Document,
    request_id: i32,
) -> Result<(), ()> {
    let payload = if request.op_query {
        Payload::Reply(OpReply::single(reply))
    } else {
        Payload::Msg(OpMsg::new(reply))
    };
    let message = Message {
        request_id,
        response_to: request.request_id,
        payload,
    };
    writer.write_message(&message).await.map_err(|_| ())
}
