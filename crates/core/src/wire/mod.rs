//! The MongoDB wire protocol codec, shared by the simulator and the client: message
//! header, OP_MSG, OP_QUERY and OP_REPLY, with size limits.
//!
//! Everything here is pure: [`decode_message`], [`encode_message`] and
//! [`encode_message_into`] work on byte slices, and [`MessageDecoder`] splits a byte stream
//! into messages as bytes arrive; none performs I/O. The one exception is [`framing`], thin
//! tokio wrappers ([`framing::MessageReader`], [`framing::MessageWriter`]) around them.

pub mod checksum;
pub mod decoder;
pub mod depth;
#[cfg(feature = "tokio")]
pub mod framing;
pub mod header;
pub mod op_msg;
pub mod op_query;

use thiserror::Error;

pub use decoder::MessageDecoder;
pub use header::{MsgHeader, OpCode, HEADER_LEN};
pub use op_msg::{DocumentSequence, MsgFlags, OpMsg};
pub use op_query::{OpQuery, OpReply};

/// The largest message a server accepts (`maxMessageSizeBytes` in a hello reply).
pub const MAX_MESSAGE_SIZE_BYTES: i32 = 48_000_000;

/// The largest BSON document a server accepts (`maxBsonObjectSize` in a hello reply).
pub const MAX_BSON_OBJECT_SIZE: i32 = 16 * 1024 * 1024;

/// The largest number of writes in one batch (`maxWriteBatchSize` in a hello reply).
pub const MAX_WRITE_BATCH_SIZE: i32 = 100_000;

/// Why bytes could not be decoded into a message, or a message could not be encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than the header or a field needs.
    #[error("truncated {what}: need {needed} bytes, have {available}")]
    Truncated {
        /// Which part of the message was cut short.
        what: &'static str,
        /// How many bytes the part needs.
        needed: usize,
        /// How many bytes remain.
        available: usize,
    },
    /// The header's messageLength is below the header size or above the limit.
    #[error("messageLength {length} is outside the allowed range {min}..={max}")]
    BadLength {
        /// The length announced by the header.
        length: i64,
        /// The smallest acceptable length.
        min: i64,
        /// The largest acceptable length.
        max: i64,
    },
    /// The header's messageLength disagrees with the bytes given.
    #[error("messageLength {announced} does not match the {actual} bytes of the message")]
    LengthMismatch {
        /// The length announced by the header.
        announced: i64,
        /// The number of bytes actually present.
        actual: usize,
    },
    /// An opCode this codec does not handle.
    #[error("unsupported opCode {0}")]
    UnsupportedOpCode(i32),
    /// A BSON document (at the named place) is invalid.
    #[error("invalid BSON in {what}: {reason}")]
    InvalidBson {
        /// Which document was invalid.
        what: &'static str,
        /// What the BSON decoder said.
        reason: String,
    },
    /// A C string (at the named place) has no terminating NUL or is not UTF-8.
    #[error("invalid C string in {0}")]
    InvalidCString(&'static str),
    /// OP_MSG flag bits that a receiver must reject (required bits 0-15 that are unknown).
    #[error("OP_MSG has unknown required flag bits {0:#x}")]
    UnknownRequiredFlags(u32),
    /// OP_MSG section kind other than 0 or 1.
    #[error("OP_MSG section kind {0} is unknown")]
    UnknownSectionKind(u8),
    /// OP_MSG must carry exactly one kind-0 body section.
    #[error("OP_MSG has {0} body sections, expected exactly one")]
    BodyCount(usize),
    /// The CRC-32C checksum at the end of an OP_MSG does not match its contents.
    #[error(
        "OP_MSG checksum mismatch: message says {expected:#010x}, contents give {actual:#010x}"
    )]
    ChecksumMismatch {
        /// The checksum carried by the message.
        expected: u32,
        /// The checksum computed over the message.
        actual: u32,
    },
    /// A message being encoded would exceed the size limit.
    #[error("encoded message of {0} bytes exceeds maxMessageSizeBytes")]
    TooLarge(usize),
}

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

/// A little-endian reader over a byte slice that reports truncation as [`WireError`].
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError::Truncated {
                what,
                needed: n,
                available: self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?.first().copied().unwrap_or_default())
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, WireError> {
        let b = self.take(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }

    /// Reads a NUL-terminated UTF-8 string.
    pub(crate) fn cstring(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        let end = self
            .bytes
            .iter()
            .position(|b| *b == 0)
            .ok_or(WireError::InvalidCString(what))?;
        let raw = self.take(end + 1, what)?;
        std::str::from_utf8(&raw[..end]).map_err(|_| WireError::InvalidCString(what))
    }

    /// Reads one BSON document, bounded by its own length prefix.
    pub(crate) fn document(&mut self, what: &'static str) -> Result<bson::Document, WireError> {
        let len_bytes = self.bytes.get(..4).ok_or(WireError::Truncated {
            what,
            needed: 4,
            available: self.bytes.len(),
        })?;
        let len = i32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l >= 5)
            .ok_or_else(|| WireError::InvalidBson {
                what,
                reason: format!("document length {len} is invalid"),
            })?;
        let raw = self.take(len, what)?;
        depth::check_depth(raw, what)?;
        bson::Document::from_reader(raw).map_err(|e| WireError::InvalidBson {
            what,
            reason: e.to_string(),
        })
    }
}

/// Appends a BSON document to `out`.
pub(crate) fn put_document(
    doc: &bson::Document,
    what: &'static str,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let bytes = doc.to_vec().map_err(|e| WireError::InvalidBson {
        what,
        reason: e.to_string(),
    })?;
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Appends a NUL-terminated string to `out`; interior NULs are an error.
pub(crate) fn put_cstring(s: &str, what: &'static str, out: &mut Vec<u8>) -> Result<(), WireError> {
    if s.as_bytes().contains(&0) {
        return Err(WireError::InvalidCString(what));
    }
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    Ok(())
}
