//! What a connection reads: a reply, and the command error an `ok: 0` reply stands for.

use bson::Document;

use mongo_topology_core::reply::{self as reply_fields, CommandFailure};

use crate::connection::error::ConnectionError;

/// A reply read from a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The reply document.
    pub body: Document,
    /// The OP_MSG moreToCome flag: the server will send another reply without a new request
    /// (exhaust streaming).
    pub more_to_come: bool,
}

/// The error of a reply whose `ok` is not 1 (missing counts as failure), else `None`. An
/// `ok` that is neither a number nor a boolean makes the reply malformed: a protocol error
/// (as the SDAM core judges such a hello reply), not a command failure. The fields are read
/// by the core's reply reader ([`mongo_topology_core::reply`]).
pub(crate) fn command_error(reply: &Document) -> Option<ConnectionError> {
    match reply_fields::ok(reply) {
        Ok(true) => None,
        Ok(false) => Some(ConnectionError::Command(Box::new(
            CommandFailure::from_failed_reply(reply),
        ))),
        Err(malformed) => Some(ConnectionError::Protocol {
            cause: format!("malformed reply: {malformed}"),
        }),
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
}
