//! One complete message: its payload by opCode, and the decoding and encoding of the whole
//! message, header included.

use super::checksum;
use super::error::{WireError, MAX_MESSAGE_SIZE_BYTES};
use super::header::{MsgHeader, OpCode, HEADER_LEN};
use super::op_msg::{self, MsgFlags, OpMsg, RawOpMsg};
use super::op_query::{self, OpQuery, OpReply};

/// The body of a message, by opCode.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// OP_MSG (opCode 2013), every modern command and reply.
    Msg(OpMsg),
    /// OP_QUERY (opCode 2004), legacy commands on `<db>.$cmd`.
    Query(OpQuery),
    /// OP_REPLY (opCode 1), the answer to an OP_QUERY.
    Reply(OpReply),
}

impl Payload {
    /// The opCode of this payload.
    pub fn op_code(&self) -> OpCode {
        match self {
            Payload::Msg(_) => OpCode::Msg,
            Payload::Query(_) => OpCode::Query,
            Payload::Reply(_) => OpCode::Reply,
        }
    }
}

/// One complete wire protocol message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The sender's identifier for this message.
    pub request_id: i32,
    /// The requestID this message answers (0 for requests).
    pub response_to: i32,
    /// The opCode-specific body.
    pub payload: Payload,
}

/// Decodes one complete message (header included). `bytes` must be exactly the
/// `messageLength` bytes announced by the header.
pub fn decode_message(bytes: &[u8]) -> Result<Message, WireError> {
    let header = MsgHeader::decode(bytes)?;
    let announced = i64::from(header.message_length);
    if usize::try_from(header.message_length).ok() != Some(bytes.len()) {
        return Err(WireError::LengthMismatch {
            announced,
            actual: bytes.len(),
        });
    }
    let body = bytes.get(HEADER_LEN..).unwrap_or_default();
    let payload = match OpCode::from_i32(header.op_code) {
        Some(OpCode::Msg) => Payload::Msg(op_msg::decode(bytes, body)?),
        Some(OpCode::Query) => Payload::Query(op_query::decode_query(body)?),
        Some(OpCode::Reply) => Payload::Reply(op_query::decode_reply(body)?),
        None => return Err(WireError::UnsupportedOpCode(header.op_code)),
    };
    Ok(Message {
        request_id: header.request_id,
        response_to: header.response_to,
        payload,
    })
}

/// An OP_MSG as received, its body checked but not decoded: see [`decode_op_msg_raw`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawMessage {
    /// The sender's identifier for this message.
    pub request_id: i32,
    /// The requestID this message answers.
    pub response_to: i32,
    /// The flags and the body.
    pub msg: RawOpMsg,
}

/// [`decode_message`] for a reader that wants an OP_MSG's body as received (to read a few of
/// its fields without decoding the rest): `Ok(None)` when `bytes` is not an OP_MSG (decode
/// it with [`decode_message`], which says what it is or why it is invalid). Checks what
/// [`decode_message`] checks.
pub fn decode_op_msg_raw(bytes: &[u8]) -> Result<Option<RawMessage>, WireError> {
    let Some((header, body)) = op_msg_header(bytes)? else {
        return Ok(None);
    };
    Ok(Some(RawMessage {
        request_id: header.request_id,
        response_to: header.response_to,
        msg: op_msg::decode_raw(bytes, body)?,
    }))
}

/// The header of the whole message `bytes` and the bytes after it, when the header is valid,
/// announces exactly `bytes.len()` bytes and names OP_MSG; `Ok(None)` for another opCode.
fn op_msg_header(bytes: &[u8]) -> Result<Option<(MsgHeader, &[u8])>, WireError> {
    let header = MsgHeader::decode(bytes)?;
    if usize::try_from(header.message_length).ok() != Some(bytes.len()) {
        return Err(WireError::LengthMismatch {
            announced: i64::from(header.message_length),
            actual: bytes.len(),
        });
    }
    if OpCode::from_i32(header.op_code) != Some(OpCode::Msg) {
        return Ok(None);
    }
    Ok(Some((header, bytes.get(HEADER_LEN..).unwrap_or_default())))
}

/// The header fields and flags of an OP_MSG whose contents are ignored (see
/// [`decode_op_msg_envelope`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageEnvelope {
    /// The sender's identifier for this message.
    pub request_id: i32,
    /// The requestID this message answers.
    pub response_to: i32,
    /// The OP_MSG flag bits.
    pub flags: MsgFlags,
}

/// [`decode_op_msg_raw`] for a reader that ignores the reply's contents (the RTT monitor:
/// "Clients MUST ignore the response to the hello or legacy hello command when measuring
/// RTT"): the header, flags, checksum and section framing are checked as there, the
/// documents are not read. `Ok(None)` when `bytes` is not an OP_MSG.
pub fn decode_op_msg_envelope(bytes: &[u8]) -> Result<Option<MessageEnvelope>, WireError> {
    let Some((header, body)) = op_msg_header(bytes)? else {
        return Ok(None);
    };
    Ok(Some(MessageEnvelope {
        request_id: header.request_id,
        response_to: header.response_to,
        flags: op_msg::decode_flags(bytes, body)?,
    }))
}

/// Rewrites the requestID of the encoded message `message` (to send it again as a new
/// request); `false`, changing nothing, when `message` is shorter than a header. A message
/// with a checksum must not be rewritten (its checksum covers the header).
pub fn set_request_id(message: &mut [u8], request_id: i32) -> bool {
    if !message_has_no_checksum(message) {
        return false;
    }
    match message.get_mut(4..8) {
        Some(field) => {
            field.copy_from_slice(&request_id.to_le_bytes());
            true
        }
        None => false,
    }
}

/// Whether an encoded message carries no OP_MSG checksum (other opCodes never do).
fn message_has_no_checksum(message: &[u8]) -> bool {
    let Ok(header) = MsgHeader::decode(message) else {
        return false;
    };
    if OpCode::from_i32(header.op_code) != Some(OpCode::Msg) {
        return true;
    }
    match message.get(HEADER_LEN..HEADER_LEN + 4) {
        Some(flags) => {
            let flags = u32::from_le_bytes([flags[0], flags[1], flags[2], flags[3]]);
            !MsgFlags(flags).contains(MsgFlags::CHECKSUM_PRESENT)
        }
        None => false,
    }
}

/// Encodes one complete message, header included (and the OP_MSG checksum when its flag
/// is set).
pub fn encode_message(message: &Message) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::new();
    encode_message_into(message, &mut out)?;
    Ok(out)
}

/// Appends one complete encoded message to `out` (like [`encode_message`], without
/// allocating when `out` has room). On error `out` is left as it was.
pub fn encode_message_into(message: &Message, out: &mut Vec<u8>) -> Result<(), WireError> {
    let start = out.len();
    let encoded = encode_at(message, start, out);
    if encoded.is_err() {
        out.truncate(start);
    }
    encoded
}

/// Encodes `message` at `out[start..]`, `start` being `out.len()` on entry.
fn encode_at(message: &Message, start: usize, out: &mut Vec<u8>) -> Result<(), WireError> {
    out.extend_from_slice(&[0u8; HEADER_LEN]);
    match &message.payload {
        Payload::Msg(msg) => op_msg::encode_body(msg, out)?,
        Payload::Query(query) => op_query::encode_query(query, out)?,
        Payload::Reply(reply) => op_query::encode_reply(reply, out)?,
    }
    let checksum =
        matches!(&message.payload, Payload::Msg(m) if m.flags.contains(MsgFlags::CHECKSUM_PRESENT));
    let total = out.len() - start + if checksum { 4 } else { 0 };
    let length = i32::try_from(total)
        .ok()
        .filter(|len| *len <= MAX_MESSAGE_SIZE_BYTES)
        .ok_or(WireError::TooLarge(total))?;
    let header = MsgHeader {
        message_length: length,
        request_id: message.request_id,
        response_to: message.response_to,
        op_code: message.payload.op_code() as i32,
    };
    out[start..start + HEADER_LEN].copy_from_slice(&header.encode());
    if checksum {
        let crc = checksum::crc32c(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    Ok(())
}
