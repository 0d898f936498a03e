//! The MongoDB wire protocol codec, shared by the simulator and the client: message
//! header, OP_MSG, OP_QUERY and OP_REPLY, with size limits.
//!
//! Everything here is pure: [`decode_message`], [`encode_message`] and
//! [`encode_message_into`] work on byte slices, and [`MessageDecoder`] splits a byte stream
//! into messages as bytes arrive; none performs I/O. The one exception is `framing` (built
//! with the crate's `tokio` feature), thin tokio wrappers (`framing::MessageReader`,
//! `framing::MessageWriter`) around them.

mod bytes;
pub mod checksum;
pub mod decoder;
pub mod depth;
mod error;
#[cfg(feature = "tokio")]
pub mod framing;
pub mod header;
mod message;
pub mod op_msg;
pub mod op_query;

pub use decoder::MessageDecoder;
pub use error::{WireError, MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE_BYTES, MAX_WRITE_BATCH_SIZE};
pub use header::{MsgHeader, OpCode, HEADER_LEN};
pub use message::{
    decode_message, decode_op_msg_envelope, decode_op_msg_raw, encode_message, encode_message_into,
    set_request_id, Message, MessageEnvelope, Payload, RawMessage,
};
pub use op_msg::{DocumentSequence, MsgFlags, OpMsg, RawOpMsg};
pub use op_query::{OpQuery, OpReply};
