//! Helpers for the resource-limit tests: the process's resident memory, and a scripted
//! server that answers hello and every other command with fixed, pre-encoded replies (so a
//! huge reply is built once, not per request).
#![allow(dead_code)]

use std::sync::Arc;

use bson::Document;
use mongo_topology::wire::framing::MessageReader;
use mongo_topology::wire::{encode_message, Message, OpMsg, Payload, MAX_MESSAGE_SIZE_BYTES};
use mongo_topology::ServerAddress;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// The resident set size of this process, in KiB (Linux `/proc/self/status`); 0 elsewhere.
pub fn rss_kib() -> u64 {
    rss_kib_of("self")
}

/// The resident set size of process `pid` (or `"self"`), in KiB; 0 when unknown.
pub fn rss_kib_of(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat` (clock
/// ticks of 10 ms on Linux); zero elsewhere.
pub fn cpu_time() -> std::time::Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    std::time::Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Open file descriptors of this process (Linux `/proc/self/fd`).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// An OP_MSG reply with `body`, to be patched with each request's id.
pub fn reply_frame(body: Document) -> Vec<u8> {
    encode_message(&Message {
        request_id: 77,
        response_to: 0,
        payload: Payload::Msg(OpMsg::new(body)),
    })
    .expect("encodable reply")
}

fn is_hello(command: &Document) -> bool {
    matches!(
        command.keys().next().map(String::as_str),
        Some("hello" | "isMaster" | "ismaster")
    )
}

/// A server that answers hello with one frame and every other command with another.
pub struct ScriptedServer {
    /// Where it listens.
    pub address: ServerAddress,
}

impl ScriptedServer {
    /// Binds a loopback port; `frames(me)` gives the hello reply frame and the reply frame
    /// of every other command (both answered with their responseTo patched).
    pub async fn start(frames: impl FnOnce(&str) -> (Vec<u8>, Vec<u8>)) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let address = ServerAddress::tcp("127.0.0.1", port);
        let (hello, other) = frames(&address.to_string());
        let (hello, other) = (Arc::new(hello), Arc::new(other));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (hello, other) = (hello.clone(), other.clone());
                tokio::spawn(async move {
                    // The client must accept what the server sends; allow the full limit
                    // plus room for the over-the-limit tests' requests (they are small).
                    let mut reader = MessageReader::new(stream, MAX_MESSAGE_SIZE_BYTES);
                    while let Ok(Some(request)) = reader.read_message().await {
                        let Payload::Msg(message) = &request.payload else {
                            return;
                        };
                        let template = if is_hello(&message.body) {
                            &hello
                        } else {
                            &other
                        };
                        // The header with responseTo patched, then the shared body: a huge
                        // reply is never copied per request.
                        let mut header = [0u8; 16];
                        header.copy_from_slice(&template[..16]);
                        header[8..12].copy_from_slice(&request.request_id.to_le_bytes());
                        let stream = reader.get_mut();
                        if stream.write_all(&header).await.is_err()
                            || stream.write_all(&template[16..]).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        ScriptedServer { address }
    }
}
