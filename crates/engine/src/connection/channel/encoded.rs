//! Commands encoded once and sent many times (a monitor's hello, every check): the whole
//! OP_MSG is kept, and only its requestID is rewritten for each send.

use bson::{Document, RawDocumentBuf};

use super::frames::{decode_envelope_frame, frame_error, protocol};
use super::{next_request_id, non_zero, within, Connection};
use crate::connection::error::ConnectionError;
use crate::connection::reply::raw_command_error;
use crate::wire::{encode_message, set_request_id, Message, MsgFlags, OpMsg, Payload};

impl Connection {
    /// [`Connection::send`] of a command encoded beforehand by [`encode_command`] (a monitor
    /// sends the same hello every check): its requestID is rewritten to a new one.
    pub(crate) async fn send_encoded(
        &mut self,
        encoded: &mut [u8],
    ) -> Result<i32, ConnectionError> {
        self.check_usable()?;
        let request_id = next_request_id();
        if !set_request_id(encoded, request_id) {
            return Err(protocol(
                "a command encoded beforehand is not a message".to_owned(),
            ));
        }
        let written = within(non_zero(self.options.socket_timeout), "write", async {
            self.writer
                .write_encoded(encoded)
                .await
                .map_err(frame_error)
        })
        .await;
        self.sent(request_id, MsgFlags::empty(), written)
    }

    /// [`Connection::command`] of a command encoded beforehand (see
    /// [`Connection::send_encoded`]), the reply as received (see
    /// [`Connection::receive_raw_within`]); its `ok` is checked the same way.
    pub(crate) async fn command_raw_encoded(
        &mut self,
        encoded: &mut [u8],
    ) -> Result<RawDocumentBuf, ConnectionError> {
        self.send_encoded(encoded).await?;
        let timeout = self.options.socket_timeout;
        let reply = self.receive_raw_within(timeout).await?;
        match raw_command_error(&reply.body) {
            Some(error) => Err(error),
            None => Ok(reply.body),
        }
    }
}

impl Connection {
    /// Sends a command encoded beforehand and waits for its reply under the socket timeout,
    /// ignoring what the reply says (the RTT monitor's hello: "Clients MUST ignore the
    /// response to the hello or legacy hello command when measuring RTT"). The reply must
    /// still be a well-framed OP_MSG answering the request, else a protocol error; its
    /// documents are skipped unread, so a reply's contents cost nothing here.
    pub(crate) async fn round_trip_encoded(
        &mut self,
        encoded: &mut [u8],
    ) -> Result<(), ConnectionError> {
        self.send_encoded(encoded).await?;
        self.check_usable()?;
        let timeout = non_zero(self.options.socket_timeout);
        let read = within(timeout, "read", self.read_frame(decode_envelope_frame)).await;
        let envelope = self.note_failure(read)?;
        let expected = self.expect_reply(envelope.response_to, envelope.request_id, envelope.flags);
        self.note_failure(expected).map(|_more_to_come| ())
    }
}

/// `command` on database `db` (with `$db` added), encoded once as a whole OP_MSG to be sent
/// with [`Connection::send_encoded`] any number of times.
pub(crate) fn encode_command(db: &str, mut command: Document) -> Result<Vec<u8>, ConnectionError> {
    command.insert("$db", db);
    let message = Message {
        request_id: 0,
        response_to: 0,
        payload: Payload::Msg(OpMsg::new(command)),
    };
    encode_message(&message).map_err(|error| protocol(format!("cannot encode a command: {error}")))
}
