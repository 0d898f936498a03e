//! From bytes read to a reply: a whole message must be an OP_MSG (its body kept as
//! received, or only its framing checked when its contents are ignored) answering the
//! request awaited, and what went wrong reading it becomes a [`ConnectionError`].

use bson::RawDocumentBuf;

use super::Connection;
use crate::connection::error::ConnectionError;
use crate::connection::reply::Reply;
use crate::wire::framing::FrameError;
use crate::wire::{
    decode_message, decode_op_msg_envelope, decode_op_msg_raw, MessageEnvelope, MsgFlags,
    RawMessage, WireError,
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

impl Connection {
    /// Checks that a message answering `response_to` is the reply we are waiting for, and
    /// notes whether another one follows (its `flags` have moreToCome): then the next
    /// reply answers this one, `request_id`.
    pub(super) fn expect_reply(
        &mut self,
        response_to: i32,
        request_id: i32,
        flags: MsgFlags,
    ) -> Result<bool, ConnectionError> {
        match self.awaiting {
            Some(expected) if expected == response_to => {}
            Some(expected) => {
                return Err(protocol(format!(
                    "reply answers request {response_to}, expected {expected}"
                )))
            }
            None => {
                return Err(protocol(format!(
                    "unsolicited reply to request {response_to}"
                )))
            }
        }
        let more_to_come = flags.contains(MsgFlags::MORE_TO_COME);
        self.awaiting = more_to_come.then_some(request_id);
        Ok(more_to_come)
    }

    /// [`Connection::expect_reply`] of a message with its body as received.
    pub(super) fn check_reply(
        &mut self,
        message: RawMessage,
    ) -> Result<Reply<RawDocumentBuf>, ConnectionError> {
        let more_to_come =
            self.expect_reply(message.response_to, message.request_id, message.msg.flags)?;
        Ok(Reply {
            body: message.msg.body,
            more_to_come,
        })
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
