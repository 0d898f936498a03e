//! From bytes read to a reply: a whole message must be an OP_MSG (its body kept as
//! received, or only its framing checked when its contents are ignored), and what went
//! wrong reading it becomes a [`ConnectionError`].

use crate::connection::error::ConnectionError;
use crate::wire::framing::FrameError;
use crate::wire::{
    decode_message, decode_op_msg_envelope, decode_op_msg_raw, MessageEnvelope, RawMessage,
    WireError,
};

/// One whole message read from the stream: an OP_MSG, its body as received, else a
/// protocol error naming what came instead.
pub(super) fn decode_reply_frame(bytes: &[u8]) -> Result<RawMessage, ConnectionError> {
    match decode_op_msg_raw(bytes).map_err(wire_error)? {
        Some(message) => Ok(message),
        None => Err(not_an_op_msg(bytes)),
    }
}

/// One whole message read from the stream whose contents are ignored: an OP_MSG, its
/// framing checked and its documents skipped, else a protocol error as for
/// [`decode_reply_frame`].
pub(super) fn decode_envelope_frame(bytes: &[u8]) -> Result<MessageEnvelope, ConnectionError> {
    match decode_op_msg_envelope(bytes).map_err(wire_error)? {
        Some(envelope) => Ok(envelope),
        None => Err(not_an_op_msg(bytes)),
    }
}

/// The error for a whole message that is not an OP_MSG: what it is, or why it is invalid.
fn not_an_op_msg(bytes: &[u8]) -> ConnectionError {
    match decode_message(bytes) {
        Ok(other) => protocol(format!(
            "expected an OP_MSG reply, got {:?}",
            other.payload.op_code()
        )),
        Err(error) => wire_error(error),
    }
}

fn wire_error(error: WireError) -> ConnectionError {
    frame_error(FrameError::Wire(error))
}

pub(super) fn protocol(cause: String) -> ConnectionError {
    ConnectionError::Protocol { cause }
}

pub(super) fn frame_error(error: FrameError) -> ConnectionError {
    match error {
        FrameError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ConnectionError::Network {
                cause: "the server closed the connection in the middle of a message".to_owned(),
            }
        }
        FrameError::Io(e) => ConnectionError::Network {
            cause: e.to_string(),
        },
        FrameError::Wire(e) => protocol(format!("malformed message: {e}")),
    }
}
