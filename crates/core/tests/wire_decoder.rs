//! The incremental decoder and its async reader: any split of the input decodes the same,
//! invalid lengths are rejected from the prefix, and a cancelled read loses no byte. (Memory
//! use is measured in `wire_decoder_alloc.rs`.)

#![forbid(unsafe_code)]

use std::time::Duration;

use bson::{doc, Document};
use mongo_topology_core::wire::framing::{FrameError, MessageReader, MessageWriter};
use mongo_topology_core::wire::{
    decode_message, encode_message, encode_message_into, DocumentSequence, Message, MessageDecoder,
    MsgFlags, OpMsg, OpQuery, OpReply, Payload, WireError, MAX_MESSAGE_SIZE_BYTES,
};
use proptest::prelude::*;
use tokio::io::AsyncWriteExt;

fn hello(id: i32, padding: usize) -> Message {
    Message {
        request_id: id,
        response_to: 0,
        payload: Payload::Msg(OpMsg::new(
            doc! { "hello": 1, "pad": "x".repeat(padding), "$db": "admin" },
        )),
    }
}

fn any_document() -> impl Strategy<Value = Document> {
    proptest::collection::vec(("[a-z]{1,6}", any::<i64>(), ".{0,40}"), 0..5).prop_map(|fields| {
        let mut d = Document::new();
        for (key, n, s) in fields {
            d.insert(format!("{key}_n"), n);
            d.insert(format!("{key}_s"), s);
        }
        d
    })
}

fn any_message() -> impl Strategy<Value = Message> {
    let msg = (
        any::<bool>(),
        any_document(),
        proptest::collection::vec(any_document(), 0..3),
    )
        .prop_map(|(checksum, body, docs)| {
            Payload::Msg(OpMsg {
                flags: if checksum {
                    MsgFlags::CHECKSUM_PRESENT
                } else {
                    MsgFlags::empty()
                },
                body,
                sequences: if docs.is_empty() {
                    Vec::new()
                } else {
                    vec![DocumentSequence {
                        identifier: "documents".into(),
                        documents: docs,
                    }]
                },
            })
        });
    let query = any_document().prop_map(|d| Payload::Query(OpQuery::command("admin", d)));
    let reply = any_document().prop_map(|d| Payload::Reply(OpReply::single(d)));
    (any::<i32>(), any::<i32>(), prop_oneof![msg, query, reply]).prop_map(
        |(request_id, response_to, payload)| Message {
            request_id,
            response_to,
            payload,
        },
    )
}

/// Feeds `stream` in pieces cut at `cuts` (offsets, any order) and collects the messages.
fn decode_in_pieces(stream: &[u8], cuts: &[usize]) -> Vec<Message> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.push(stream.len());
    cuts.sort_unstable();
    let mut decoder = MessageDecoder::new(MAX_MESSAGE_SIZE_BYTES);
    let mut out = Vec::new();
    let mut from = 0;
    for to in cuts {
        decoder.extend(&stream[from..to]);
        from = to;
        while let Some(m) = decoder.decode().unwrap() {
            out.push(m);
        }
    }
    assert!(decoder.is_empty(), "{} bytes left", decoder.buffered_len());
    out
}

proptest! {
    #[test]
    fn any_split_decodes_like_whole_messages(
        messages in proptest::collection::vec(any_message(), 1..4),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut stream = Vec::new();
        for m in &messages {
            encode_message_into(m, &mut stream).unwrap();
        }
        // Each message decodes alone exactly as encode_message framed it.
        for m in &messages {
            prop_assert_eq!(&decode_message(&encode_message(m).unwrap()).unwrap(), m);
        }
        prop_assert_eq!(&decode_in_pieces(&stream, &cuts), &messages);
        let every_byte: Vec<usize> = (0..stream.len()).collect();
        prop_assert_eq!(&decode_in_pieces(&stream, &every_byte), &messages);
    }
}

#[test]
fn several_messages_in_one_chunk_come_out_in_order() {
    let messages: Vec<Message> = (1..=5)
        .map(|i| hello(i, usize::try_from(i).unwrap() * 7))
        .collect();
    let mut chunk = Vec::new();
    for m in &messages {
        encode_message_into(m, &mut chunk).unwrap();
    }
    // And the first bytes of one more.
    let next = encode_message(&hello(6, 3)).unwrap();
    chunk.extend_from_slice(&next[..10]);
    let mut decoder = MessageDecoder::new(MAX_MESSAGE_SIZE_BYTES);
    decoder.extend(&chunk);
    for m in &messages {
        assert_eq!(decoder.decode().unwrap().as_ref(), Some(m));
    }
    assert_eq!(decoder.decode(), Ok(None));
    assert_eq!(decoder.buffered_len(), 10);
    decoder.extend(&next[10..]);
    assert_eq!(decoder.decode().unwrap(), Some(hello(6, 3)));
    assert!(decoder.is_empty());
}

#[test]
fn an_invalid_body_is_taken_and_the_next_message_still_decodes() {
    let mut bad = encode_message(&hello(1, 0)).unwrap();
    bad[20] = 9; // unknown section kind
    let good = encode_message(&hello(2, 0)).unwrap();
    let mut decoder = MessageDecoder::new(MAX_MESSAGE_SIZE_BYTES);
    decoder.extend(&bad);
    decoder.extend(&good);
    assert_eq!(decoder.decode(), Err(WireError::UnknownSectionKind(9)));
    assert_eq!(decoder.decode().unwrap(), Some(hello(2, 0)));
}

#[test]
fn an_oversized_length_is_rejected_from_its_four_bytes() {
    let mut decoder = MessageDecoder::new(1_000_000);
    decoder.extend(&i32::MAX.to_le_bytes());
    let result = decoder.decode();
    assert!(
        matches!(result, Err(WireError::BadLength { length, .. }) if length == i64::from(i32::MAX)),
        "{result:?}"
    );
    // The limit can be lowered later (from a hello's maxMessageSizeBytes).
    let mut decoder = MessageDecoder::new(MAX_MESSAGE_SIZE_BYTES);
    decoder.extend(&encode_message(&hello(1, 100)).unwrap()[..4]);
    assert_eq!(decoder.decode(), Ok(None));
    decoder.set_max_message_size(64);
    assert!(matches!(decoder.decode(), Err(WireError::BadLength { .. })));
}

#[tokio::test]
async fn a_one_byte_pipe_delivers_every_message_intact() {
    let messages: Vec<Message> = (1..=4).map(|i| hello(i, 50)).collect();
    let (client, server) = tokio::io::duplex(1);
    let sent = messages.clone();
    let writer = tokio::spawn(async move {
        let mut writer = MessageWriter::new(client);
        for m in &sent {
            writer.write_message(m).await.unwrap();
        }
        // Dropping the writer closes the stream between messages.
    });
    let mut reader = MessageReader::new(server, MAX_MESSAGE_SIZE_BYTES);
    for m in &messages {
        assert_eq!(reader.read_message().await.unwrap().as_ref(), Some(m));
    }
    assert!(reader.read_message().await.unwrap().is_none(), "clean EOF");
    writer.await.unwrap();
}

#[tokio::test]
async fn end_of_stream_in_the_middle_of_a_message_is_an_error() {
    let bytes = encode_message(&hello(1, 10)).unwrap();
    let (mut client, server) = tokio::io::duplex(1024);
    client.write_all(&bytes[..bytes.len() - 1]).await.unwrap();
    drop(client);
    let mut reader = MessageReader::new(server, MAX_MESSAGE_SIZE_BYTES);
    assert!(matches!(
        reader.read_message().await,
        Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof
    ));
}

/// The old free function read the header into a local array and the body into a local
/// Vec: a read abandoned half way lost those bytes, and the next read started in the middle
/// of a message. The reader keeps them.
#[tokio::test(start_paused = true)]
async fn a_read_cancelled_mid_message_loses_no_byte() {
    let first = hello(1, 200);
    let second = hello(2, 5);
    let mut bytes = encode_message(&first).unwrap();
    encode_message_into(&second, &mut bytes).unwrap();
    let half = 100;
    let (mut client, server) = tokio::io::duplex(4096);
    let writer = tokio::spawn(async move {
        client.write_all(&bytes[..half]).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        client.write_all(&bytes[half..]).await.unwrap();
        client
    });
    let mut reader = MessageReader::new(server, MAX_MESSAGE_SIZE_BYTES);
    let cancelled = tokio::time::timeout(Duration::from_millis(100), reader.read_message()).await;
    assert!(cancelled.is_err(), "the first read must time out");
    assert_eq!(
        reader.decoder_mut().buffered_len(),
        half,
        "the cancelled read had taken the first half from the stream"
    );
    assert_eq!(reader.read_message().await.unwrap(), Some(first));
    assert_eq!(reader.read_message().await.unwrap(), Some(second));
    drop(writer.await.unwrap());
    assert!(reader.read_message().await.unwrap().is_none());
}
