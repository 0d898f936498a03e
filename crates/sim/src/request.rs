//! Turning a decoded message into a command request: the command document, its database,
//! and the flags that matter for the reply.

use bson::{Bson, Document};

use super::reply::error_reply;
use mongo_topology_core::wire::{Message, MsgFlags, OpQuery, Payload};

/// A command request received by a node.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The command (OP_MSG document sequences merged in as arrays).
    pub(crate) command: Document,
    /// The database (`$db`, or the OP_QUERY namespace's database).
    pub(crate) db: String,
    /// Arrived as OP_QUERY (answer with OP_REPLY).
    pub(crate) op_query: bool,
    /// OP_QUERY SecondaryOk bit.
    pub(crate) secondary_ok_flag: bool,
    /// The request's requestID.
    pub(crate) request_id: i32,
    /// OP_MSG exhaustAllowed.
    pub(crate) exhaust_allowed: bool,
    /// OP_MSG moreToCome: the client expects no reply.
    pub(crate) more_to_come: bool,
    /// The request is well-framed but unusable: answer with this error instead.
    pub(crate) error: Option<Document>,
}

impl Request {
    /// The command name (first key).
    pub(crate) fn name(&self) -> &str {
        self.command.keys().next().map(String::as_str).unwrap_or("")
    }
}

/// Builds the request; `Err` is a protocol violation that closes the connection.
pub(crate) fn parse_request(message: Message) -> Result<Request, String> {
    match message.payload {
        Payload::Msg(msg) => {
            let mut command = msg.body;
            for seq in msg.sequences {
                let docs: Vec<Bson> = seq.documents.into_iter().map(Bson::Document).collect();
                command.insert(seq.identifier, docs);
            }
            let (db, error) = match command.get("$db") {
                Some(Bson::String(db)) => (db.clone(), None),
                _ => (
                    String::new(),
                    Some(error_reply(
                        40571,
                        "Location40571",
                        "OP_MSG requests require a $db argument",
                    )),
                ),
            };
            Ok(Request {
                command,
                db,
                op_query: false,
                secondary_ok_flag: false,
                request_id: message.request_id,
                exhaust_allowed: msg.flags.contains(MsgFlags::EXHAUST_ALLOWED),
                more_to_come: msg.flags.contains(MsgFlags::MORE_TO_COME),
                error,
            })
        }
        Payload::Query(query) => Ok(from_op_query(query, message.request_id)),
        Payload::Reply(_) => Err("client sent OP_REPLY, which only servers send".into()),
    }
}

fn from_op_query(query: OpQuery, request_id: i32) -> Request {
    let (db, collection) = query
        .full_collection_name
        .split_once('.')
        .unwrap_or((query.full_collection_name.as_str(), ""));
    let db = db.to_owned();
    let error = if collection != "$cmd" {
        Some(error_reply(
            352,
            "UnsupportedOpQueryCommand",
            format!(
                "OP_QUERY is only supported for commands, not on namespace {:?}",
                query.full_collection_name
            ),
        ))
    } else {
        None
    };
    // Drivers wrap a command as {$query: cmd, $readPreference: ...} when they add options.
    let command = match query.query.get("$query") {
        Some(Bson::Document(inner)) => {
            let mut cmd = inner.clone();
            if let Some(pref) = query.query.get("$readPreference") {
                cmd.insert("$readPreference", pref.clone());
            }
            cmd
        }
        _ => query.query,
    };
    Request {
        command,
        db,
        op_query: true,
        secondary_ok_flag: query.flags & OpQuery::SECONDARY_OK != 0,
        request_id,
        exhaust_allowed: false,
        more_to_come: false,
        error,
    }
}
