//! From bytes read to a reply: a whole message must be an OP_MSG (its body kept as
//! received), and what went wrong reading it becomes a [`ConnectionError`].

use crate::connection::error::ConnectionError;
use crate::wire::framing::FrameError;
use crate::wire::{decode_message, decode_op_msg_raw, RawMessage};

/// One whole message read from the stream: an OP_MSG, its body as received, else a
/// protocol error naming what came instead.
pub(super) fn decode_reply_frame(bytes: &[u8]) -> Result<RawMessage, ConnectionError> {
    let wire = |e| frame_error(FrameError::Wire(e));
    match decode_op_msg_raw(bytes).map_err(wire)? {
        Some(message) => Ok(message),
        None => {
            let other = decode_message(bytes).map_err(wire)?;
            Err(protocol(format!(
                "expected an OP_MSG reply, got {:?}",
                other.payload.op_code()
            )))
        }
    }
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
