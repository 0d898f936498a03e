//! A small raw client built on the `wire` module, for the simulator's integration tests.
#![allow(dead_code)]

use std::time::Duration;

use bson::{doc, Document};
use mongo_topology_core::wire::framing::{FrameError, MessageReader};
use mongo_topology_core::wire::{
    encode_message, Message, MsgFlags, OpMsg, OpQuery, Payload, MAX_MESSAGE_SIZE_BYTES,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// How long a test waits for any expected reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// One raw connection to a simulated node.
pub struct RawClient {
    /// The connection, with the bytes received but not yet taken as messages.
    pub conn: MessageReader<TcpStream>,
    next_id: i32,
    /// How long [`RawClient::recv`] waits: [`REPLY_TIMEOUT`] unless a test sets another.
    reply_timeout: Duration,
}

impl RawClient {
    pub async fn connect(address: &str) -> RawClient {
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        RawClient {
            conn: MessageReader::new(stream, MAX_MESSAGE_SIZE_BYTES),
            next_id: 1,
            reply_timeout: REPLY_TIMEOUT,
        }
    }

    /// Waits up to `wait` for each reply from now on (a test whose point is that every
    /// request is answered, not how fast, on a loaded machine).
    pub fn set_reply_timeout(&mut self, wait: Duration) {
        self.reply_timeout = wait;
    }

    /// The socket itself (writing to it or shutting it down; reads go through `conn`).
    pub fn stream(&mut self) -> &mut TcpStream {
        self.conn.get_mut()
    }

    pub fn next_id(&mut self) -> i32 {
        self.next_id += 1;
        self.next_id
    }

    pub async fn send(&mut self, message: &Message) {
        let bytes = encode_message(message).unwrap();
        self.send_raw(&bytes).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).await.unwrap();
        self.stream().flush().await.unwrap();
    }

    /// The next message, or an error if none arrives in time or it is malformed.
    pub async fn try_recv(&mut self, wait: Duration) -> Result<Option<Message>, String> {
        match tokio::time::timeout(wait, self.conn.read_message()).await {
            Err(_) => Err("timeout".into()),
            Ok(Err(FrameError::Io(e))) => Err(format!("io: {e}")),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(m)) => Ok(m),
        }
    }

    pub async fn recv(&mut self) -> Message {
        self.try_recv(self.reply_timeout)
            .await
            .expect("a reply")
            .expect("connection still open")
    }

    /// The next message, which must be an OP_MSG: its requestID, responseTo and content.
    pub async fn recv_msg(&mut self) -> (i32, i32, OpMsg) {
        let reply = self.recv().await;
        match reply.payload {
            Payload::Msg(msg) => (reply.request_id, reply.response_to, msg),
            other => panic!("expected OP_MSG, got {other:?}"),
        }
    }

    /// Sends an OP_MSG and returns its requestID.
    pub async fn send_msg(&mut self, db: &str, mut body: Document, flags: MsgFlags) -> i32 {
        body.insert("$db", db);
        let id = self.next_id();
        let msg = Message {
            request_id: id,
            response_to: 0,
            payload: Payload::Msg(OpMsg {
                flags,
                body,
                sequences: Vec::new(),
            }),
        };
        self.send(&msg).await;
        id
    }

    /// Runs a command over OP_MSG and returns the reply body.
    pub async fn command(&mut self, db: &str, body: Document) -> Document {
        let id = self.send_msg(db, body, MsgFlags::empty()).await;
        let (_, response_to, msg) = self.recv_msg().await;
        assert_eq!(response_to, id);
        msg.body
    }

    /// Runs a command over legacy OP_QUERY on `<db>.$cmd` and returns the single reply document.
    pub async fn op_query(&mut self, db: &str, command: Document) -> Document {
        let id = self.next_id();
        let msg = Message {
            request_id: id,
            response_to: 0,
            payload: Payload::Query(OpQuery::command(db, command)),
        };
        self.send(&msg).await;
        let reply = self.recv().await;
        assert_eq!(reply.response_to, id);
        match reply.payload {
            Payload::Reply(r) => {
                assert_eq!(r.documents.len(), 1);
                r.documents.into_iter().next().unwrap()
            }
            other => panic!("expected OP_REPLY, got {other:?}"),
        }
    }

    pub async fn hello(&mut self) -> Document {
        self.command("admin", doc! { "hello": 1 }).await
    }

    /// Whether the server closed the connection (EOF or reset) within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.conn.read_available()).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
            }
        }
    }
}

/// The reply's `ok` as a number.
/// `lastWrite.opTime.ts` of a hello reply: the position of the node's latest write.
pub fn last_write_ts(hello: &Document) -> bson::Timestamp {
    hello
        .get_document("lastWrite")
        .unwrap()
        .get_document("opTime")
        .unwrap()
        .get_timestamp("ts")
        .unwrap()
}

pub fn ok(reply: &Document) -> f64 {
    match reply.get("ok") {
        Some(bson::Bson::Double(v)) => *v,
        Some(bson::Bson::Int32(v)) => f64::from(*v),
        other => panic!("reply has no numeric ok: {other:?} in {reply}"),
    }
}

/// The reply's error code.
pub fn code(reply: &Document) -> i32 {
    reply
        .get_i32("code")
        .unwrap_or_else(|_| panic!("no code in {reply}"))
}
