//! The wire codec: symmetric encode/decode, and rejection of malformed input without panics.

use bson::doc;
use mongo_topology_core::wire::framing::{FrameError, MessageReader};
use mongo_topology_core::wire::{
    checksum::crc32c, decode_message, decode_op_msg_envelope, decode_op_msg_raw, encode_message,
    set_request_id, DocumentSequence, Message, MsgFlags, MsgHeader, OpMsg, OpQuery, OpReply,
    Payload, WireError, HEADER_LEN, MAX_MESSAGE_SIZE_BYTES,
};
use proptest::prelude::*;

fn msg(flags: MsgFlags) -> Message {
    Message {
        request_id: 7,
        response_to: 3,
        payload: Payload::Msg(OpMsg {
            flags,
            body: doc! { "insert": "coll", "$db": "test" },
            sequences: vec![DocumentSequence {
                identifier: "documents".into(),
                documents: vec![doc! { "_id": 1 }, doc! { "_id": 2, "x": "y" }],
            }],
        }),
    }
}

#[test]
fn op_msg_round_trips_with_sequences_and_flags() {
    for flags in [
        MsgFlags::empty(),
        MsgFlags::MORE_TO_COME,
        MsgFlags::EXHAUST_ALLOWED,
        MsgFlags::CHECKSUM_PRESENT.with(MsgFlags::MORE_TO_COME),
    ] {
        let m = msg(flags);
        let bytes = encode_message(&m).unwrap();
        let header = MsgHeader::decode(&bytes).unwrap();
        assert_eq!(header.message_length as usize, bytes.len());
        assert_eq!(header.op_code, 2013);
        assert_eq!(decode_message(&bytes).unwrap(), m);
    }
}

#[test]
fn checksum_is_crc32c_of_everything_before_it() {
    let bytes = encode_message(&msg(MsgFlags::CHECKSUM_PRESENT)).unwrap();
    let (data, tail) = bytes.split_at(bytes.len() - 4);
    assert_eq!(u32::from_le_bytes(tail.try_into().unwrap()), crc32c(data));
}

#[test]
fn corrupted_checksum_is_rejected() {
    let mut bytes = encode_message(&msg(MsgFlags::CHECKSUM_PRESENT)).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x55;
    assert!(matches!(
        decode_message(&bytes),
        Err(WireError::ChecksumMismatch { .. })
    ));
}

#[test]
fn op_query_and_op_reply_round_trip() {
    let q = Message {
        request_id: 1,
        response_to: 0,
        payload: Payload::Query(OpQuery::command(
            "admin",
            doc! { "isMaster": 1, "helloOk": true },
        )),
    };
    let bytes = encode_message(&q).unwrap();
    assert_eq!(MsgHeader::decode(&bytes).unwrap().op_code, 2004);
    assert_eq!(decode_message(&bytes).unwrap(), q);

    let r = Message {
        request_id: 2,
        response_to: 1,
        payload: Payload::Reply(OpReply::single(doc! { "ismaster": true, "ok": 1.0 })),
    };
    let bytes = encode_message(&r).unwrap();
    assert_eq!(MsgHeader::decode(&bytes).unwrap().op_code, 1);
    assert_eq!(decode_message(&bytes).unwrap(), r);
}

#[test]
fn malformed_messages_are_errors() {
    let good = encode_message(&msg(MsgFlags::empty())).unwrap();
    // Truncated header.
    assert!(matches!(
        decode_message(&good[..10]),
        Err(WireError::Truncated { .. })
    ));
    // Length prefix disagreeing with the bytes.
    assert!(matches!(
        decode_message(&good[..good.len() - 1]),
        Err(WireError::LengthMismatch { .. })
    ));
    // Unknown opCode.
    let mut bad = good.clone();
    bad[12..16].copy_from_slice(&2010i32.to_le_bytes());
    assert_eq!(
        decode_message(&bad),
        Err(WireError::UnsupportedOpCode(2010))
    );
    // Unknown required flag bit.
    let mut bad = good.clone();
    bad[16] |= 0b100;
    assert!(matches!(
        decode_message(&bad),
        Err(WireError::UnknownRequiredFlags(4))
    ));
    // Unknown section kind.
    let mut bad = good.clone();
    bad[20] = 9;
    assert_eq!(decode_message(&bad), Err(WireError::UnknownSectionKind(9)));
    // Invalid BSON: a document length pointing past the end.
    let mut bad = good.clone();
    bad[21..25].copy_from_slice(&1_000i32.to_le_bytes());
    assert!(decode_message(&bad).is_err());
    // Length prefix above the limit, and below the header size.
    let mut bad = good.clone();
    bad[0..4].copy_from_slice(&(MAX_MESSAGE_SIZE_BYTES + 1).to_le_bytes());
    assert!(matches!(
        MsgHeader::decode(&bad),
        Err(WireError::BadLength { .. })
    ));
    bad[0..4].copy_from_slice(&3i32.to_le_bytes());
    assert!(matches!(
        MsgHeader::decode(&bad),
        Err(WireError::BadLength { .. })
    ));
}

#[test]
fn op_msg_needs_exactly_one_body() {
    let mut m = msg(MsgFlags::empty());
    let mut bytes = encode_message(&m).unwrap();
    // Drop the body section: keep header, flags, and the kind-1 section only.
    if let Payload::Msg(inner) = &mut m.payload {
        inner.body = doc! {};
    }
    let body_len = encode_message(&Message {
        payload: Payload::Msg(OpMsg::new(doc! { "insert": "coll", "$db": "test" })),
        ..m.clone()
    })
    .unwrap()
    .len()
        - HEADER_LEN
        - 4;
    bytes.drain(20..20 + body_len);
    let len = bytes.len() as i32;
    bytes[0..4].copy_from_slice(&len.to_le_bytes());
    assert_eq!(decode_message(&bytes), Err(WireError::BodyCount(0)));
}

#[tokio::test]
async fn framing_checks_the_length_before_allocating() {
    // A header announcing 2 GiB: rejected from the prefix alone.
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&i32::MAX.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 12]);
    let mut reader = MessageReader::new(&bytes[..], MAX_MESSAGE_SIZE_BYTES);
    let err = reader.read_frame().await.unwrap_err();
    assert!(
        matches!(err, FrameError::Wire(WireError::BadLength { .. })),
        "{err}"
    );
    // Clean EOF before a message is not an error.
    let mut empty = MessageReader::new(&[][..], MAX_MESSAGE_SIZE_BYTES);
    assert!(empty.read_frame().await.unwrap().is_none());
    // EOF in the middle of a message is an I/O error.
    let good = encode_message(&msg(MsgFlags::empty())).unwrap();
    let mut cut = MessageReader::new(&good[..good.len() - 3], MAX_MESSAGE_SIZE_BYTES);
    assert!(matches!(
        cut.read_frame().await,
        Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof
    ));
    // A whole message comes back byte for byte, then a clean EOF.
    let mut whole = MessageReader::new(&good[..], MAX_MESSAGE_SIZE_BYTES);
    assert_eq!(whole.read_frame().await.unwrap().unwrap(), &good[..]);
    assert!(whole.read_frame().await.unwrap().is_none());
}

/// The test message (with a checksum or not) with its byte at `pos` (modulo its length) set
/// to `value`.
fn mutated(pos: usize, value: u8, checksum: bool) -> Vec<u8> {
    let flags = if checksum {
        MsgFlags::CHECKSUM_PRESENT
    } else {
        MsgFlags::empty()
    };
    let mut bytes = encode_message(&msg(flags)).unwrap();
    let n = bytes.len();
    bytes[pos % n] = value;
    bytes
}

/// The raw OP_MSG decoder accepts exactly what the full decoder accepts as an OP_MSG, with
/// the same body, and leaves other opCodes (valid or not) to it.
fn raw_agrees_with_full(bytes: &[u8]) -> Result<(), String> {
    match (decode_message(bytes), decode_op_msg_raw(bytes)) {
        (Ok(message), Ok(Some(raw))) => match message.payload {
            Payload::Msg(msg) => {
                let body = bson::Document::try_from(raw.msg.body.as_ref())
                    .map_err(|e| format!("raw body does not decode: {e}"))?;
                if body != msg.body || raw.msg.flags != msg.flags {
                    return Err(format!("bodies differ: {body} vs {}", msg.body));
                }
                if raw.request_id != message.request_id || raw.response_to != message.response_to {
                    return Err("header fields differ".into());
                }
                Ok(())
            }
            other => Err(format!("raw accepted a {:?}", other.op_code())),
        },
        (Ok(message), Ok(None)) if !matches!(message.payload, Payload::Msg(_)) => Ok(()),
        // Not an OP_MSG (an unknown opCode included): left to the full decoder.
        (Err(_), Ok(None)) | (Err(_), Err(_)) => Ok(()),
        (full, raw) => Err(format!(
            "full {:?} but raw {:?}",
            full.map(|_| ()),
            raw.map(|r| r.is_some())
        )),
    }
}

/// An OP_MSG without flags, one with a checksum and moreToCome, and an OP_REPLY.
fn every_kind_of_message() -> [Message; 3] {
    let reply = Message {
        request_id: 1,
        response_to: 2,
        payload: Payload::Reply(OpReply {
            response_flags: 0,
            cursor_id: 0,
            starting_from: 0,
            documents: vec![doc! { "ok": 1 }],
        }),
    };
    [
        msg(MsgFlags::empty()),
        msg(MsgFlags::CHECKSUM_PRESENT.with(MsgFlags::MORE_TO_COME)),
        reply,
    ]
}

#[test]
fn the_raw_decoder_agrees_with_the_full_one_on_every_kind_of_message() {
    for message in every_kind_of_message() {
        raw_agrees_with_full(&encode_message(&message).unwrap()).unwrap();
    }
}

/// The envelope decoder (contents ignored) is never stricter than the raw one, agrees with
/// it on the header and flags, and rejects what breaks the framing whatever the contents.
fn envelope_agrees_with_raw(bytes: &[u8]) -> Result<(), String> {
    match (decode_op_msg_raw(bytes), decode_op_msg_envelope(bytes)) {
        (Ok(Some(raw)), Ok(Some(envelope))) => {
            let same = (raw.request_id, raw.response_to, raw.msg.flags)
                == (envelope.request_id, envelope.response_to, envelope.flags);
            same.then_some(())
                .ok_or_else(|| "header or flags differ".to_owned())
        }
        (Ok(None), Ok(None)) | (Err(_), Err(_)) => Ok(()),
        // Only what is inside a document may be wrong when the envelope accepts.
        (Err(WireError::InvalidBson { .. }), Ok(Some(_))) => Ok(()),
        (raw, envelope) => Err(format!(
            "raw {:?} but envelope {:?}",
            raw.map(|r| r.is_some()),
            envelope.map(|e| e.is_some())
        )),
    }
}

fn bson_bytes(document: &bson::Document) -> Vec<u8> {
    let mut bytes = Vec::new();
    document.to_writer(&mut bytes).unwrap();
    bytes
}

/// An OP_MSG reply (no checksum) whose body is `body`, bytes as given.
fn reply_with_body(body: &[u8]) -> Vec<u8> {
    let length = i32::try_from(HEADER_LEN + 4 + 1 + body.len()).unwrap();
    let mut bytes = Vec::new();
    for field in [length, 5, 4, 2013, 0] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.push(0);
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn the_envelope_decoder_skips_contents_but_not_framing() {
    // {errmsg: <invalid UTF-8>}, and 300 nested documents: unreadable, but well framed.
    let mut invalid_string = bson_bytes(&doc! { "errmsg": "zz" });
    let at = invalid_string
        .windows(3)
        .position(|w| w == b"zz\0")
        .unwrap();
    invalid_string[at] = 0xFF;
    let mut deep = bson_bytes(&doc! {});
    for _ in 0..300 {
        let inner = deep;
        deep = Vec::new();
        let length = i32::try_from(4 + 1 + 2 + inner.len() + 1).unwrap();
        deep.extend_from_slice(&length.to_le_bytes());
        deep.extend_from_slice(&[0x03, b'a', 0]);
        deep.extend_from_slice(&inner);
        deep.push(0);
    }
    for body in [&invalid_string, &deep] {
        let message = reply_with_body(body);
        assert!(decode_op_msg_raw(&message).is_err());
        let envelope = decode_op_msg_envelope(&message).unwrap().unwrap();
        assert_eq!((envelope.request_id, envelope.response_to), (5, 4));
    }
    // A body without its final NUL, or longer than its section, breaks the framing.
    let mut unterminated = bson_bytes(&doc! { "ok": 1 });
    if let Some(last) = unterminated.last_mut() {
        *last = 1;
    }
    assert!(decode_op_msg_envelope(&reply_with_body(&unterminated)).is_err());
    let mut overlong = bson_bytes(&doc! { "ok": 1 });
    overlong[0] += 1;
    assert!(decode_op_msg_envelope(&reply_with_body(&overlong)).is_err());
    // Two bodies, or none.
    let ok = bson_bytes(&doc! { "ok": 1 });
    let two = [ok.as_slice(), &[0], ok.as_slice()].concat();
    assert_eq!(
        decode_op_msg_envelope(&reply_with_body(&two)),
        Err(WireError::BodyCount(2))
    );
}

#[test]
fn the_envelope_decoder_agrees_with_the_raw_one_on_every_kind_of_message() {
    for message in every_kind_of_message() {
        envelope_agrees_with_raw(&encode_message(&message).unwrap()).unwrap();
    }
}

#[test]
fn a_request_id_is_rewritten_in_place_unless_a_checksum_covers_it() {
    let mut plain = encode_message(&msg(MsgFlags::empty())).unwrap();
    assert!(set_request_id(&mut plain, 99));
    let decoded = decode_message(&plain).unwrap();
    assert_eq!(decoded.request_id, 99);
    assert_eq!(decoded.payload, msg(MsgFlags::empty()).payload);
    let mut summed = encode_message(&msg(MsgFlags::CHECKSUM_PRESENT)).unwrap();
    let before = summed.clone();
    assert!(!set_request_id(&mut summed, 99));
    assert_eq!(summed, before);
    assert!(!set_request_id(&mut [0u8; 10], 99));
}

proptest! {
    #[test]
    fn the_raw_decoder_agrees_on_mutated_messages(pos in 0usize..200, value in any::<u8>(), checksum in any::<bool>()) {
        prop_assert_eq!(raw_agrees_with_full(&mutated(pos, value, checksum)), Ok(()));
    }

    #[test]
    fn the_envelope_decoder_agrees_on_mutated_messages(pos in 0usize..200, value in any::<u8>(), checksum in any::<bool>()) {
        prop_assert_eq!(envelope_agrees_with_raw(&mutated(pos, value, checksum)), Ok(()));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_message(&bytes);
        let _ = decode_op_msg_envelope(&bytes);
    }

    #[test]
    fn decoding_mutated_messages_never_panics(pos in 0usize..200, value in any::<u8>(), checksum in any::<bool>()) {
        let _ = decode_message(&mutated(pos, value, checksum));
    }

    #[test]
    fn op_msg_round_trips(id in any::<i32>(), to in any::<i32>(), key in "[a-z]{1,8}", n in any::<i64>(), seqs in 0usize..3) {
        let m = Message {
            request_id: id,
            response_to: to,
            payload: Payload::Msg(OpMsg {
                flags: MsgFlags::CHECKSUM_PRESENT,
                body: doc! { key.clone(): n },
                sequences: (0..seqs).map(|i| DocumentSequence { identifier: format!("s{i}"), documents: vec![doc! { "n": n }; i] }).collect(),
            }),
        };
        prop_assert_eq!(decode_message(&encode_message(&m).unwrap()).unwrap(), m);
    }
}
