//! The 16-byte standard message header.

use super::bytes::Cursor;
use super::error::{WireError, MAX_MESSAGE_SIZE_BYTES};

/// Size of the standard message header in bytes.
pub const HEADER_LEN: usize = 16;

/// The opCodes this codec understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum OpCode {
    /// OP_REPLY: reply to an OP_QUERY.
    Reply = 1,
    /// OP_QUERY: legacy query / command.
    Query = 2004,
    /// OP_MSG: extensible message format.
    Msg = 2013,
}

impl OpCode {
    /// The opCode with this numeric value, if known.
    pub fn from_i32(value: i32) -> Option<OpCode> {
        match value {
            1 => Some(OpCode::Reply),
            2004 => Some(OpCode::Query),
            2013 => Some(OpCode::Msg),
            _ => None,
        }
    }
}

/// The standard message header (MsgHeader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgHeader {
    /// Total message size in bytes, header included.
    pub message_length: i32,
    /// Identifier of this message.
    pub request_id: i32,
    /// requestID of the message this one answers.
    pub response_to: i32,
    /// The request type.
    pub op_code: i32,
}

impl MsgHeader {
    /// Decodes a header from the first 16 bytes of `bytes` and checks that messageLength
    /// lies in `16..=MAX_MESSAGE_SIZE_BYTES`.
    pub fn decode(bytes: &[u8]) -> Result<MsgHeader, WireError> {
        MsgHeader::decode_with_limit(bytes, MAX_MESSAGE_SIZE_BYTES)
    }

    /// Like [`MsgHeader::decode`] with a caller-chosen size limit.
    pub fn decode_with_limit(bytes: &[u8], max_len: i32) -> Result<MsgHeader, WireError> {
        let mut cur = Cursor::new(bytes);
        let header = MsgHeader {
            message_length: cur.i32("header messageLength")?,
            request_id: cur.i32("header requestID")?,
            response_to: cur.i32("header responseTo")?,
            op_code: cur.i32("header opCode")?,
        };
        if header.message_length < HEADER_LEN as i32 || header.message_length > max_len {
            return Err(WireError::BadLength {
                length: i64::from(header.message_length),
                min: HEADER_LEN as i64,
                max: i64::from(max_len),
            });
        }
        Ok(header)
    }

    /// Encodes the header into 16 little-endian bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.message_length.to_le_bytes());
        out[4..8].copy_from_slice(&self.request_id.to_le_bytes());
        out[8..12].copy_from_slice(&self.response_to.to_le_bytes());
        out[12..16].copy_from_slice(&self.op_code.to_le_bytes());
        out
    }
}
