//! Whether a reply read is the one awaited: it must answer the last request (or, in an
//! exhaust stream, the previous reply), else the connection's place in the message flow is
//! lost.

use bson::RawDocumentBuf;

use super::frames::protocol;
use super::Connection;
use crate::connection::error::ConnectionError;
use crate::connection::reply::Reply;
use crate::wire::{MsgFlags, RawMessage};

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
