//! What a connection reads: a reply, and the command error an `ok: 0` reply stands for.

use bson::{Bson, Document};

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
/// (as the SDAM core judges such a hello reply), not a command failure.
pub(crate) fn command_error(reply: &Document) -> Option<ConnectionError> {
    let ok = match reply.get("ok") {
        Some(Bson::Double(ok)) => *ok == 1.0,
        Some(Bson::Int32(ok)) => *ok == 1,
        Some(Bson::Int64(ok)) => *ok == 1,
        Some(Bson::Boolean(ok)) => *ok,
        None => false,
        Some(other) => {
            return Some(ConnectionError::Protocol {
                cause: format!(
                    "the reply's `ok` is a {:?}, not a number",
                    other.element_type()
                ),
            })
        }
    };
    if ok {
        return None;
    }
    let code = match reply.get("code") {
        Some(Bson::Int32(code)) => Some(*code),
        Some(Bson::Int64(code)) => i32::try_from(*code).ok(),
        Some(Bson::Double(code)) if code.fract() == 0.0 => i32::try_from(*code as i64).ok(),
        _ => None,
    };
    let labels = match reply.get("errorLabels") {
        Some(Bson::Array(labels)) => labels
            .iter()
            .filter_map(|label| label.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Some(ConnectionError::Command {
        code,
        code_name: reply.get_str("codeName").ok().map(str::to_owned),
        message: reply.get_str("errmsg").unwrap_or_default().to_owned(),
        labels,
    })
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
            Some(ConnectionError::Command {
                code: Some(10107),
                code_name: Some("NotWritablePrimary".into()),
                message: "not primary".into(),
                labels: vec!["RetryableWriteError".into()],
            })
        );
        assert!(matches!(
            command_error(&doc! { "isWritablePrimary": true }),
            Some(ConnectionError::Command { code: None, .. })
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
