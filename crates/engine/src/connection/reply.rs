//! What a connection reads: a reply, and the command error an `ok: 0` reply stands for.

use bson::{Document, RawDocument};

use mongo_topology_core::reply::{self as reply_fields, CommandFailure, DocumentRef};

use crate::connection::error::ConnectionError;

/// A reply read from a connection: its body decoded ([`Document`]), or as received
/// ([`bson::RawDocumentBuf`], from [`crate::connection::Connection::receive_raw_within`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<B = Document> {
    /// The reply document.
    pub body: B,
    /// The OP_MSG moreToCome flag: the server will send another reply without a new request
    /// (exhaust streaming).
    pub more_to_come: bool,
}

/// The error of a reply whose `ok` is not 1 (missing counts as failure), else `None`. An
/// `ok` that is neither a number nor a boolean makes the reply malformed: a protocol error
/// (as the SDAM core judges such a hello reply), not a command failure. The fields are read
/// by the core's reply reader ([`mongo_topology_core::reply`]). A failure without a message
/// (no `errmsg`) is given one that says what is wrong with the reply, so the error never
/// reads `command failed: ` with nothing after it.
pub(crate) fn command_error(reply: &Document) -> Option<ConnectionError> {
    match reply_fields::ok(reply) {
        Ok(true) => None,
        Ok(false) => {
            let mut failure = CommandFailure::from_failed_reply(reply);
            if failure.message.is_empty() {
                failure.message = missing_message_explanation(reply);
            }
            Some(ConnectionError::Command(Box::new(failure)))
        }
        Err(malformed) => Some(ConnectionError::Protocol {
            cause: format!("malformed reply: {malformed}"),
        }),
    }
}

/// [`command_error`] of a reply as received: its `ok` is read where it is, and only a
/// reply that failed is decoded (to build the error).
pub(crate) fn raw_command_error(reply: &RawDocument) -> Option<ConnectionError> {
    let ok = DocumentRef::Raw(reply)
        .get("ok")
        .and_then(reply_fields::ok_value);
    if let Ok(true) = ok {
        return None;
    }
    match Document::try_from(reply) {
        Ok(decoded) => command_error(&decoded),
        Err(error) => Some(ConnectionError::Protocol {
            cause: format!("malformed reply: {error}"),
        }),
    }
}

/// What a failed reply that carries no message is missing: its `ok` field, or (with an `ok`
/// that is not 1) its `errmsg`. The code, if any, is added by [`CommandFailure`]'s display.
fn missing_message_explanation(reply: &Document) -> String {
    if reply.contains_key("ok") {
        "the reply has `ok` other than 1 and no `errmsg`".to_string()
    } else {
        "the reply has no `ok` field".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn ok_one_in_any_numeric_form_is_success() {
        for reply in [
            doc! { "ok": 1.0 },
            doc! { "ok": 1 },
            doc! { "ok": 1i64 },
            doc! { "ok": true },
        ] {
            assert_eq!(command_error(&reply), None, "{reply}");
        }
    }

    #[test]
    fn ok_zero_or_missing_is_a_command_error_with_its_details() {
        let reply = doc! {
            "ok": 0.0, "errmsg": "not primary", "code": 10107, "codeName": "NotWritablePrimary",
            "errorLabels": ["RetryableWriteError", 5],
        };
        assert_eq!(
            command_error(&reply),
            Some(ConnectionError::Command(Box::new(CommandFailure {
                code: Some(10107),
                code_name: Some("NotWritablePrimary".into()),
                message: "not primary".into(),
                labels: vec!["RetryableWriteError".into()],
                topology_version: None,
            })))
        );
        assert!(matches!(
            command_error(&doc! { "isWritablePrimary": true }),
            Some(ConnectionError::Command(failure)) if failure.code.is_none()
        ));
    }

    #[test]
    fn an_ok_that_is_not_a_number_is_a_protocol_error() {
        for reply in [
            doc! { "ok": "yes" },
            doc! { "ok": [1] },
            doc! { "ok": null },
        ] {
            assert!(
                matches!(
                    command_error(&reply),
                    Some(ConnectionError::Protocol { .. })
                ),
                "{reply}"
            );
        }
    }

    #[test]
    fn a_failure_without_errmsg_says_what_the_reply_lacks() {
        let missing_ok = command_error(&doc! { "isWritablePrimary": true });
        assert_eq!(
            missing_ok.map(|error| error.to_string()),
            Some("command failed: the reply has no `ok` field".to_string())
        );
        let no_errmsg = command_error(&doc! { "ok": 0, "code": 5 });
        assert_eq!(
            no_errmsg.map(|error| error.to_string()),
            Some(
                "command failed: the reply has `ok` other than 1 and no `errmsg` (code 5)"
                    .to_string()
            )
        );
    }
}
