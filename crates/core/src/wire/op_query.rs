//! Legacy OP_QUERY (opCode 2004) and its answer OP_REPLY (opCode 1). Servers still accept
//! the initial handshake (`isMaster` / `hello` on `admin.$cmd`) this way; older servers
//! accept every command.

use bson::Document;

use super::bytes::{put_cstring, put_document, Cursor};
use super::error::WireError;

/// An OP_QUERY request.
#[derive(Debug, Clone, PartialEq)]
pub struct OpQuery {
    /// Query flag bits (bit 2 is SecondaryOk).
    pub flags: i32,
    /// `"<db>.<collection>"`; commands use `"<db>.$cmd"`.
    pub full_collection_name: String,
    /// Documents to skip.
    pub number_to_skip: i32,
    /// Documents to return (-1 for commands).
    pub number_to_return: i32,
    /// The query or command document.
    pub query: Document,
    /// Optional projection.
    pub return_fields_selector: Option<Document>,
}

impl OpQuery {
    /// OP_QUERY flag bit 2: the query may run on a secondary.
    pub const SECONDARY_OK: i32 = 1 << 2;

    /// A command on `<db>.$cmd`, as drivers send it.
    pub fn command(db: &str, command: Document) -> OpQuery {
        OpQuery {
            flags: 0,
            full_collection_name: format!("{db}.$cmd"),
            number_to_skip: 0,
            number_to_return: -1,
            query: command,
            return_fields_selector: None,
        }
    }
}

/// An OP_REPLY answer.
#[derive(Debug, Clone, PartialEq)]
pub struct OpReply {
    /// Response flag bits (bit 3 is AwaitCapable).
    pub response_flags: i32,
    /// The cursor the documents come from (0: none).
    pub cursor_id: i64,
    /// Position of the first document in the cursor.
    pub starting_from: i32,
    /// The returned documents.
    pub documents: Vec<Document>,
}

impl OpReply {
    /// OP_REPLY flag bit 3, set by every server since 1.6.
    pub const AWAIT_CAPABLE: i32 = 1 << 3;

    /// A command reply carrying one document, as servers send it.
    pub fn single(document: Document) -> OpReply {
        OpReply {
            response_flags: OpReply::AWAIT_CAPABLE,
            cursor_id: 0,
            starting_from: 0,
            documents: vec![document],
        }
    }
}

pub(crate) fn decode_query(body: &[u8]) -> Result<OpQuery, WireError> {
    let mut cur = Cursor::new(body);
    let flags = cur.i32("OP_QUERY flags")?;
    let full_collection_name = cur.cstring("OP_QUERY fullCollectionName")?.to_owned();
    let number_to_skip = cur.i32("OP_QUERY numberToSkip")?;
    let number_to_return = cur.i32("OP_QUERY numberToReturn")?;
    let query = cur.document("OP_QUERY query")?;
    let return_fields_selector = if cur.is_empty() {
        None
    } else {
        Some(cur.document("OP_QUERY returnFieldsSelector")?)
    };
    if !cur.is_empty() {
        return Err(WireError::InvalidBson {
            what: "OP_QUERY",
            reason: format!("{} unexpected trailing bytes", cur.remaining()),
        });
    }
    Ok(OpQuery {
        flags,
        full_collection_name,
        number_to_skip,
        number_to_return,
        query,
        return_fields_selector,
    })
}

pub(crate) fn encode_query(query: &OpQuery, out: &mut Vec<u8>) -> Result<(), WireError> {
    out.extend_from_slice(&query.flags.to_le_bytes());
    put_cstring(
        &query.full_collection_name,
        "OP_QUERY fullCollectionName",
        out,
    )?;
    out.extend_from_slice(&query.number_to_skip.to_le_bytes());
    out.extend_from_slice(&query.number_to_return.to_le_bytes());
    put_document(&query.query, "OP_QUERY query", out)?;
    if let Some(fields) = &query.return_fields_selector {
        put_document(fields, "OP_QUERY returnFieldsSelector", out)?;
    }
    Ok(())
}

pub(crate) fn decode_reply(body: &[u8]) -> Result<OpReply, WireError> {
    let mut cur = Cursor::new(body);
    let response_flags = cur.i32("OP_REPLY responseFlags")?;
    let cursor_id = cur.i64("OP_REPLY cursorID")?;
    let starting_from = cur.i32("OP_REPLY startingFrom")?;
    let number_returned = cur.i32("OP_REPLY numberReturned")?;
    let mut documents = Vec::new();
    while !cur.is_empty() {
        documents.push(cur.document("OP_REPLY documents")?);
    }
    if usize::try_from(number_returned).ok() != Some(documents.len()) {
        return Err(WireError::InvalidBson {
            what: "OP_REPLY",
            reason: format!(
                "numberReturned is {number_returned} but {} documents follow",
                documents.len()
            ),
        });
    }
    Ok(OpReply {
        response_flags,
        cursor_id,
        starting_from,
        documents,
    })
}

pub(crate) fn encode_reply(reply: &OpReply, out: &mut Vec<u8>) -> Result<(), WireError> {
    out.extend_from_slice(&reply.response_flags.to_le_bytes());
    out.extend_from_slice(&reply.cursor_id.to_le_bytes());
    out.extend_from_slice(&reply.starting_from.to_le_bytes());
    let count = i32::try_from(reply.documents.len()).map_err(|_| WireError::TooLarge(0))?;
    out.extend_from_slice(&count.to_le_bytes());
    for doc in &reply.documents {
        put_document(doc, "OP_REPLY documents", out)?;
    }
    Ok(())
}
