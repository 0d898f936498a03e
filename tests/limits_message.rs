//! Resource limits: a reply of exactly maxMessageSizeBytes (48,000,000 bytes) is read; one
//! byte more is refused with an error naming the limit, before the body is read.

mod limits_support;

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Document};
use limits_support::{reply_frame, rss_kib, ScriptedServer};
use mongo_topology::wire::{
    encode_message, DocumentSequence, Message, MsgFlags, OpMsg, Payload, MAX_MESSAGE_SIZE_BYTES,
};
use mongo_topology::{ConnectOptions, Connection, ConnectionError};

const LIMIT: usize = MAX_MESSAGE_SIZE_BYTES as usize;

fn blob(len: usize) -> Document {
    doc! { "d": Binary { subtype: BinarySubtype::Generic, bytes: vec![0x5a; len] } }
}

/// An OP_MSG reply `{ok: 1}` with a document sequence, `total` bytes long in all. Our
/// encoder refuses to build one over the limit, so `LIMIT + 1` is the `LIMIT` reply with one
/// more byte and its header saying so (the client must refuse it on the header alone).
fn reply_of(total: usize) -> Vec<u8> {
    if total > LIMIT {
        let mut frame = reply_of(LIMIT);
        frame.resize(total, 0);
        frame[..4].copy_from_slice(&i32::try_from(total).unwrap().to_le_bytes());
        return frame;
    }
    let message = |last: usize| Message {
        request_id: 77,
        response_to: 0,
        payload: Payload::Msg(OpMsg {
            flags: MsgFlags::empty(),
            body: doc! { "ok": 1 },
            sequences: vec![DocumentSequence {
                identifier: "docs".into(),
                documents: vec![blob(15_000_000), blob(15_000_000), blob(last)],
            }],
        }),
    };
    let without_last = encode_message(&message(0)).unwrap().len();
    let frame = encode_message(&message(total - without_last)).unwrap();
    assert_eq!(frame.len(), total);
    frame
}

async fn command_with_reply_of(total: usize) -> Result<Document, ConnectionError> {
    let server = ScriptedServer::start(|_| (reply_frame(doc! { "ok": 1 }), reply_of(total))).await;
    let mut connection = Connection::connect(&server.address, &ConnectOptions::default())
        .await
        .unwrap();
    connection.command("admin", doc! { "find": "big" }).await
}

#[tokio::test]
async fn a_reply_of_exactly_max_message_size_is_read() {
    let before = rss_kib();
    let reply = command_with_reply_of(LIMIT).await.unwrap();
    assert_eq!(reply.get_i32("ok").ok(), Some(1));
    println!(
        "48,000,000-byte reply read; RSS {before} KiB -> {} KiB",
        rss_kib()
    );
}

#[tokio::test]
async fn a_reply_one_byte_over_is_a_clear_error() {
    let error = command_with_reply_of(LIMIT + 1).await.unwrap_err();
    let text = error.to_string();
    println!("48,000,001-byte reply: {text}");
    assert!(text.contains("48000001"), "{text}");
    assert!(text.contains("48000000"), "{text}");
}
