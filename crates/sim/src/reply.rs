//! Reply documents shared by the command handlers, the request parser and the connection.

use bson::{doc, Document};

/// A `{ok: 0}` error reply.
pub fn error_reply(code: i32, code_name: &str, errmsg: impl Into<String>) -> Document {
    doc! { "ok": 0.0, "errmsg": errmsg.into(), "code": code, "codeName": code_name }
}
