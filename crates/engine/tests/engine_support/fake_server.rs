//! A fake MongoDB server for the engine's tests: it answers the handshake and every hello as
//! the primary of a one-member replica set of its own ([`FAKE_SET`]), and every other
//! command as its script says: a reply document, or one of the ways a server can misbehave.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Document};
use mongo_topology::wire::framing::MessageReader;
use mongo_topology::wire::{encode_message, Message, OpMsg, Payload, MAX_MESSAGE_SIZE_BYTES};
use mongo_topology::ServerAddress;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// The replica set name every fake server reports.
pub const FAKE_SET: &str = "fake";

/// How the fake server answers one command other than hello.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A well-formed OP_MSG reply with this body.
    Reply(Document),
    /// A valid header and a body that is not a BSON document.
    Garbage,
    /// A well-formed reply that answers another request.
    WrongResponseTo,
    /// A header announcing a message above maxMessageSizeBytes, then nothing: the
    /// connection stays open.
    OversizedLength,
    /// The first half of a well-formed reply, then a reset.
    HalfThenReset,
    /// Nothing, ever: the connection stays open.
    Silence,
}

/// What the fake server's hello replies say about it.
#[derive(Clone, Copy, Debug)]
pub struct FakeHello {
    /// maxWireVersion (8 is MongoDB 4.2).
    pub max_wire_version: i32,
    /// maxBsonObjectSize.
    pub max_bson_object_size: i32,
}

impl FakeHello {
    /// A 4.2 primary (no topologyVersion, so errors are never stale) with the usual 16 MiB
    /// maxBsonObjectSize.
    pub const V4_2: FakeHello = FakeHello {
        max_wire_version: 8,
        max_bson_object_size: 16 * 1024 * 1024,
    };
}

struct Script {
    answers: Mutex<VecDeque<Answer>>,
    commands: AtomicUsize,
}

/// A running fake server; it stops with the test's runtime.
pub struct FakeServer {
    /// Where it listens.
    pub address: ServerAddress,
    script: Arc<Script>,
}

impl FakeServer {
    /// Listens on a loopback port and serves every connection.
    pub async fn start(hello: FakeHello) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let address = ServerAddress::tcp("127.0.0.1", port);
        let script = Arc::new(Script {
            answers: Mutex::new(VecDeque::new()),
            commands: AtomicUsize::new(0),
        });
        let (me, shared) = (address.to_string(), script.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, hello, me.clone(), shared.clone()));
            }
        });
        FakeServer { address, script }
    }

    /// Answers the next command (other than hello) with `answer`; once the queued answers
    /// are used up, commands get `{ok: 1, n: 1}`.
    pub fn then(&self, answer: Answer) {
        self.script
            .answers
            .lock()
            .expect("script lock")
            .push_back(answer);
    }

    /// How many commands other than hello it has read.
    pub fn commands(&self) -> usize {
        self.script.commands.load(Ordering::SeqCst)
    }
}

fn is_hello(command: &Document) -> bool {
    matches!(
        command.keys().next().map(String::as_str),
        Some("hello" | "isMaster" | "ismaster")
    )
}

fn hello_reply(hello: FakeHello, me: &str, command: &Document) -> Document {
    let legacy = !command.contains_key("hello");
    let mut reply = doc! {
        "helloOk": true,
        "setName": FAKE_SET,
        "setVersion": 1,
        "electionId": ObjectId::from_bytes([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]),
        "hosts": [me],
        "primary": me,
        "me": me,
        "minWireVersion": 0,
        "maxWireVersion": hello.max_wire_version,
        "maxBsonObjectSize": hello.max_bson_object_size,
        "maxMessageSizeBytes": MAX_MESSAGE_SIZE_BYTES,
        "maxWriteBatchSize": 100_000,
        "localTime": bson::DateTime::now(),
        "logicalSessionTimeoutMinutes": 30,
        "ok": 1,
    };
    let primary_field = if legacy {
        "ismaster"
    } else {
        "isWritablePrimary"
    };
    reply.insert(primary_field, true);
    reply
}

/// An OP_MSG reply to `response_to` with `body`.
fn op_msg(response_to: i32, body: Document) -> Vec<u8> {
    encode_message(&Message {
        request_id: 9_000,
        response_to,
        payload: Payload::Msg(OpMsg::new(body)),
    })
    .expect("encodable")
}

/// A message header (and flags) announcing `length` bytes, followed by `sections`.
fn raw_op_msg(length: i32, response_to: i32, sections: &[u8]) -> Vec<u8> {
    const OP_MSG: i32 = 2013;
    let mut bytes = Vec::new();
    for field in [length, 9_000, response_to, OP_MSG, 0] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.extend_from_slice(sections);
    bytes
}

async fn serve(stream: TcpStream, hello: FakeHello, me: String, script: Arc<Script>) {
    let mut reader = MessageReader::new(stream, MAX_MESSAGE_SIZE_BYTES);
    while let Ok(Some(request)) = reader.read_message().await {
        let Payload::Msg(message) = &request.payload else {
            return;
        };
        let id = request.request_id;
        let answer = if is_hello(&message.body) {
            Answer::Reply(hello_reply(hello, &me, &message.body))
        } else {
            script.commands.fetch_add(1, Ordering::SeqCst);
            let next = script.answers.lock().expect("script lock").pop_front();
            next.unwrap_or_else(|| Answer::Reply(doc! { "n": 1, "ok": 1 }))
        };
        let bytes = match answer {
            Answer::Reply(body) => op_msg(id, body),
            // A body section (kind 0) whose document ends with 7 instead of 0.
            Answer::Garbage => raw_op_msg(26, id, &[0, 5, 0, 0, 0, 7]),
            Answer::WrongResponseTo => op_msg(id.wrapping_add(1_000), doc! { "ok": 1 }),
            Answer::OversizedLength => {
                let header = raw_op_msg(MAX_MESSAGE_SIZE_BYTES * 2, id, &[]);
                let _ = reader.get_mut().write_all(&header).await;
                drain(reader).await;
                return;
            }
            Answer::HalfThenReset => {
                let reply = op_msg(id, doc! { "n": 1, "ok": 1 });
                let _ = reader.get_mut().write_all(&reply[..reply.len() / 2]).await;
                // SO_LINGER 0: closing sends a reset rather than an orderly end.
                #[allow(deprecated)]
                let _ = reader.get_mut().set_linger(Some(Duration::ZERO));
                return;
            }
            Answer::Silence => {
                drain(reader).await;
                return;
            }
        };
        if reader.get_mut().write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// Reads (and ignores) whatever the client still sends, until it closes the connection.
async fn drain(mut reader: MessageReader<TcpStream>) {
    while let Ok(Some(_)) = reader.read_message().await {}
}
