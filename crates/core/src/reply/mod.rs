//! The one reader of the fields every layer reads in a server's reply: `ok`, `code`,
//! `codeName`, `errmsg` (or a legacy `$err`), `errorLabels` and `topologyVersion`, and
//! [`CommandFailure`], the one shape of a command that failed.
//!
//! Hello parsing ([`crate::sdam::hello`]), SDAM's error handling ([`crate::sdam::errors`]),
//! and the engine's connections, commands and monitors all read replies through here, with
//! one set of rules and one set of bounds:
//! - `ok` is success when it is a number equal to 1 (double, int32 or int64) or `true`
//!   (the server's convention is `1.0`; drivers accept every numeric form and booleans).
//!   A missing `ok` is a failure; any other type makes the reply malformed
//!   ([`ReplyFieldError`]); a NaN is not 1, so a failure.
//! - `code` is an int32, an int64 in int32 range, or an integral double in int32 range;
//!   anything else counts as no code.
//! - `codeName` and `errmsg` are strings, cut to [`MAX_CODE_NAME_BYTES`] and
//!   [`MAX_MESSAGE_BYTES`]; anything else counts as absent.
//! - `errorLabels` is an array of strings: at most [`MAX_ERROR_LABELS`] labels of at most
//!   [`MAX_LABEL_BYTES`] are kept; entries that are not strings, and longer labels, are
//!   skipped (a cut label would be a different label).
//! - `topologyVersion` is `{processId: ObjectId, counter: integer}`; anything else is a
//!   [`ReplyFieldError`] naming the bad field.
//!
//! The text comes from the network and is untrusted: every reader is bounded and none
//! panics, whatever the document.

use bson::spec::ElementType;
use bson::{Bson, Document};

use crate::sdam::server::TopologyVersion;

mod error;
#[cfg(test)]
mod tests;
mod view;

pub use error::ReplyFieldError;
pub use view::{ArrayRef, DocumentRef, Entries, ValueRef};

/// The longest `errmsg` kept, in bytes (cut at a character boundary beyond it).
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The longest `codeName` kept, in bytes (the server's names are under 64).
pub const MAX_CODE_NAME_BYTES: usize = 128;
/// The most `errorLabels` kept (the server sends a handful at most).
pub const MAX_ERROR_LABELS: usize = 32;
/// The longest error label kept, in bytes.
pub const MAX_LABEL_BYTES: usize = 128;

/// The value of `key` in a decoded `holder`.
fn field<'a>(holder: &'a Document, key: &str) -> Option<ValueRef<'a>> {
    holder.get(key).map(ValueRef::from)
}

/// Whether the reply's `ok` says success: a number equal to 1 or `true`. A missing `ok` is
/// a failure; an `ok` of another type makes the reply malformed.
pub fn ok(reply: &Document) -> Result<bool, ReplyFieldError> {
    ok_value(field(reply, "ok"))
}

/// [`ok`] of the reply's `ok` field, `None` when absent.
pub fn ok_value(ok: Option<ValueRef<'_>>) -> Result<bool, ReplyFieldError> {
    match ok {
        None => Ok(false),
        Some(ValueRef::Double(ok)) => Ok(ok == 1.0),
        Some(ValueRef::Int32(ok)) => Ok(ok == 1),
        Some(ValueRef::Int64(ok)) => Ok(ok == 1),
        Some(ValueRef::Boolean(ok)) => Ok(ok),
        Some(other) => Err(ReplyFieldError::of_type(
            "ok",
            "a number",
            other.element_type(),
        )),
    }
}

/// Whether the reply succeeded: [`ok`], with a malformed `ok` counted as a failure.
pub fn succeeded(reply: &Document) -> bool {
    ok(reply).unwrap_or(false)
}

/// The error code of `holder` (a reply or a `writeConcernError`), if it has a usable one.
pub fn code(holder: &Document) -> Option<i32> {
    code_value(field(holder, "code"))
}

/// [`code`] of a `code` field, `None` when absent.
pub fn code_value(code: Option<ValueRef<'_>>) -> Option<i32> {
    match code {
        Some(ValueRef::Int32(code)) => Some(code),
        Some(ValueRef::Int64(code)) => i32::try_from(code).ok(),
        Some(ValueRef::Double(code))
            if code.fract() == 0.0
                && code >= f64::from(i32::MIN)
                && code <= f64::from(i32::MAX) =>
        {
            // In range and integral: the conversion is exact.
            Some(code as i32)
        }
        _ => None,
    }
}

/// The `codeName` of `holder`, cut to [`MAX_CODE_NAME_BYTES`].
pub fn code_name(holder: &Document) -> Option<String> {
    bounded_string(field(holder, "codeName"), MAX_CODE_NAME_BYTES)
}

/// The error message of `holder`: its `errmsg`, else a legacy query failure's `$err`, cut
/// to [`MAX_MESSAGE_BYTES`].
pub fn error_message(holder: &Document) -> Option<String> {
    error_message_value(field(holder, "errmsg"), field(holder, "$err"))
}

/// [`error_message`] of the `errmsg` and `$err` fields (`None` when absent).
pub fn error_message_value(
    errmsg: Option<ValueRef<'_>>,
    legacy_err: Option<ValueRef<'_>>,
) -> Option<String> {
    bounded_string(errmsg, MAX_MESSAGE_BYTES)
        .or_else(|| bounded_string(legacy_err, MAX_MESSAGE_BYTES))
}

/// The reply's `errorLabels`: its string entries of at most [`MAX_LABEL_BYTES`], at most
/// [`MAX_ERROR_LABELS`] of them; none when the field is absent or not an array.
pub fn error_labels(reply: &Document) -> Vec<String> {
    let Some(Bson::Array(labels)) = reply.get("errorLabels") else {
        return Vec::new();
    };
    labels
        .iter()
        .filter_map(Bson::as_str)
        .filter(|label| label.len() <= MAX_LABEL_BYTES)
        .take(MAX_ERROR_LABELS)
        .map(str::to_owned)
        .collect()
}

/// The `topologyVersion` of `holder` (a hello reply or a command error reply): `None` when
/// absent or null, an error naming the bad field when malformed.
pub fn topology_version(holder: &Document) -> Result<Option<TopologyVersion>, ReplyFieldError> {
    topology_version_value(field(holder, "topologyVersion"))
}

/// [`topology_version`] of a `topologyVersion` field, `None` when absent.
pub fn topology_version_value(
    version: Option<ValueRef<'_>>,
) -> Result<Option<TopologyVersion>, ReplyFieldError> {
    let version = match version {
        None | Some(ValueRef::Null) => return Ok(None),
        Some(ValueRef::Document(version)) => version,
        Some(other) => {
            return Err(ReplyFieldError::of_type(
                "topologyVersion",
                "a document",
                other.element_type(),
            ))
        }
    };
    let process_id = match version.get("processId")? {
        Some(ValueRef::ObjectId(id)) => id,
        Some(other) => {
            return Err(ReplyFieldError::of_type(
                "topologyVersion.processId",
                "an ObjectId",
                other.element_type(),
            ))
        }
        None => return Err(ReplyFieldError::new("topologyVersion.processId", "missing")),
    };
    let counter = match integer(version.get("counter")?) {
        Ok(Some(counter)) => counter,
        Ok(None) => return Err(ReplyFieldError::new("topologyVersion.counter", "missing")),
        Err(found) => {
            return Err(ReplyFieldError::of_type(
                "topologyVersion.counter",
                "an integer",
                found,
            ))
        }
    };
    Ok(Some(TopologyVersion {
        process_id,
        counter,
    }))
}

/// An integer given as int32, int64 or an integral double within 2^53; `Ok(None)` when
/// absent or null, the offending value's type otherwise.
pub(crate) fn integer(value: Option<ValueRef<'_>>) -> Result<Option<i64>, ElementType> {
    match value {
        None | Some(ValueRef::Null) => Ok(None),
        Some(ValueRef::Int32(value)) => Ok(Some(i64::from(value))),
        Some(ValueRef::Int64(value)) => Ok(Some(value)),
        Some(ValueRef::Double(value))
            if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 =>
        {
            Ok(Some(value as i64))
        }
        Some(other) => Err(other.element_type()),
    }
}

/// A string cut to `max_bytes` (at a character boundary); `None` when absent or not a
/// string.
fn bounded_string(value: Option<ValueRef<'_>>, max_bytes: usize) -> Option<String> {
    value
        .as_ref()
        .and_then(ValueRef::as_str)
        .map(|text| cut(text, max_bytes).to_owned())
}

/// The longest prefix of `text` of at most `max_bytes` that ends at a character boundary.
fn cut(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A command that failed: a reply with `ok` other than 1, or a write concern error, as
/// every layer sees it — the connection ([`ok`] not 1), the engine's commands, and SDAM's
/// error handling (which classifies it by [`CommandFailure::code`] and
/// [`CommandFailure::message`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandFailure {
    /// The numeric error code, if the reply has one.
    pub code: Option<i32>,
    /// The server's name for the code, if the reply has one.
    pub code_name: Option<String>,
    /// The error message (`errmsg`, or `$err` for legacy queries); empty when absent.
    pub message: String,
    /// The reply's `errorLabels` (e.g. `RetryableWriteError`).
    pub labels: Vec<String>,
    /// The reply's topologyVersion, if present and well formed.
    pub topology_version: Option<TopologyVersion>,
}

impl CommandFailure {
    /// A failure with `code` and `message` only (no name, labels or topologyVersion).
    pub fn new(code: Option<i32>, message: impl Into<String>) -> Self {
        CommandFailure {
            code,
            message: message.into(),
            ..CommandFailure::default()
        }
    }

    /// The failure of a reply whose `ok` is not 1 (whatever its `ok`): its code, codeName,
    /// message, labels and (if well formed) topologyVersion.
    pub fn from_failed_reply(reply: &Document) -> Self {
        CommandFailure {
            code: code(reply),
            code_name: code_name(reply),
            message: error_message(reply).unwrap_or_default(),
            labels: error_labels(reply),
            topology_version: topology_version(reply).ok().flatten(),
        }
    }

    /// SDAM `parseCommandResponse`: the reply's `ok: 0` failure (a malformed `ok` counts as
    /// one), else its `writeConcernError` (with the reply's labels and topologyVersion),
    /// else `None`. `writeErrors` are never checked.
    pub fn from_reply(reply: &Document) -> Option<Self> {
        if !succeeded(reply) {
            return Some(CommandFailure::from_failed_reply(reply));
        }
        let Some(Bson::Document(write_concern_error)) = reply.get("writeConcernError") else {
            return None;
        };
        Some(CommandFailure {
            code: code(write_concern_error),
            code_name: code_name(write_concern_error),
            message: error_message(write_concern_error).unwrap_or_default(),
            labels: error_labels(reply),
            topology_version: topology_version(reply).ok().flatten(),
        })
    }

    /// Whether the failure carries `label`.
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|own| own == label)
    }
}

/// `"not primary (code 10107, NotWritablePrimary)"`, `"not primary (code 10107)"` or just
/// the message.
impl std::fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        match (self.code, &self.code_name) {
            (Some(code), Some(name)) => write!(f, " (code {code}, {name})"),
            (Some(code), None) => write!(f, " (code {code})"),
            (None, _) => Ok(()),
        }
    }
}
