//! SDAM "Parsing a hello or legacy hello response": turning one reply document into a
//! [`ServerDescription`].
//!
//! The reply comes from the network and is untrusted. A field with the wrong BSON type, an
//! unparsable address, an absurd number or an oversized member list makes the whole reply
//! unusable: the server is described as Unknown with a [`ServerErrorKind::Protocol`] error
//! naming the offending field. Nothing here panics on any document.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{Bson, Document};

use crate::address::ServerAddress;
use crate::reply::{self, ReplyFieldError};
use crate::sdam::server::{
    ServerDescription, ServerError, ServerErrorKind, ServerType, TopologyVersion,
};
use crate::time::MonotonicTime;

/// The most entries accepted in one of `hosts`, `passives` or `arbiters` (a replica set has
/// at most 50 members; anything far beyond that is garbage, not a configuration).
pub const MAX_MEMBERS_PER_LIST: usize = 1000;

/// When and how fast a check happened: the client-tracked part of a new description.
///
/// RTT averaging belongs to the selection module; the values here are already computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckTiming {
    /// The server's (averaged) round trip time after this check, if known.
    pub round_trip_time: Option<Duration>,
    /// The server's minimum round trip time after this check, if known.
    pub min_round_trip_time: Option<Duration>,
    /// When the check completed; becomes `lastUpdateTime`.
    pub now: MonotonicTime,
}

impl CheckTiming {
    /// A check completed at `now` with no RTT information.
    pub fn at(now: MonotonicTime) -> Self {
        CheckTiming {
            round_trip_time: None,
            min_round_trip_time: None,
            now,
        }
    }
}

fn field_error(field: &str, problem: impl Into<String>) -> ReplyFieldError {
    ReplyFieldError::new(field, problem)
}

fn wrong_type(field: &str, expected: &str, found: &Bson) -> ReplyFieldError {
    ReplyFieldError::wrong_type(field, expected, found)
}

impl ServerDescription {
    /// Builds the description of the server at `address` from its hello (or legacy hello)
    /// `reply`, per SDAM "Parsing a hello or legacy hello response".
    ///
    /// A reply without `ok: 1` gives an Unknown description carrying the server's error; a
    /// malformed reply gives an Unknown description with a protocol error. Unknown
    /// descriptions carry no round trip time (SDAM "roundTripTime").
    pub fn from_hello(address: ServerAddress, reply: &Document, timing: CheckTiming) -> Self {
        let now = timing.now;
        match parse_reply(address.clone(), reply, timing) {
            Ok(description) => description,
            Err(error) => ServerDescription::unknown_with_error(
                address,
                ServerError::new(
                    ServerErrorKind::Protocol,
                    format!("invalid hello reply: {error}"),
                ),
                now,
            ),
        }
    }

    /// The description of a load balancer (SDAM "TopologyType LoadBalanced"): the server is
    /// never checked, only its address is set.
    pub fn load_balancer(address: ServerAddress, now: MonotonicTime) -> Self {
        ServerDescription {
            server_type: ServerType::LoadBalancer,
            last_update_time: Some(now),
            ..ServerDescription::unknown(address)
        }
    }
}

/// The server error carried by a reply whose `ok` is not 1.
fn not_ok_error(reply: &Document) -> ServerError {
    let message = match reply::error_message(reply) {
        Some(message) => format!("hello failed: {message}"),
        None => "hello failed: the reply does not have ok: 1".to_string(),
    };
    ServerError {
        kind: ServerErrorKind::Command,
        code: reply::code(reply),
        message,
    }
}

fn parse_reply(
    address: ServerAddress,
    reply: &Document,
    timing: CheckTiming,
) -> Result<ServerDescription, ReplyFieldError> {
    if !reply::ok(reply)? {
        return Ok(ServerDescription::unknown_with_error(
            address,
            not_ok_error(reply),
            timing.now,
        ));
    }
    let set_name = string(reply, "setName")?;
    let writable_primary = match reply.get("isWritablePrimary") {
        Some(_) => boolean(reply, "isWritablePrimary")?,
        None => boolean(reply, "ismaster")?,
    };
    let hidden = boolean(reply, "hidden")?;
    let server_type = server_type(
        string(reply, "msg")?.as_deref() == Some("isdbgrid"),
        boolean(reply, "isreplicaset")?,
        set_name.is_some(),
        hidden,
        writable_primary,
        boolean(reply, "secondary")?,
        boolean(reply, "arbiterOnly")?,
    );
    let (last_write_date, op_time) = last_write(reply)?;
    Ok(ServerDescription {
        address,
        server_type,
        error: None,
        round_trip_time: timing.round_trip_time,
        min_round_trip_time: timing.min_round_trip_time,
        last_write_date,
        op_time,
        min_wire_version: wire_version(reply, "minWireVersion")?,
        max_wire_version: wire_version(reply, "maxWireVersion")?,
        me: optional_address(reply, "me")?,
        hosts: address_list(reply, "hosts")?,
        passives: address_list(reply, "passives")?,
        arbiters: address_list(reply, "arbiters")?,
        tags: tags(reply)?,
        set_name,
        election_id: object_id(reply, "electionId")?,
        set_version: integer(reply, "setVersion")?,
        primary: optional_address(reply, "primary")?,
        last_update_time: Some(timing.now),
        logical_session_timeout_minutes: non_negative(reply, "logicalSessionTimeoutMinutes")?,
        topology_version: topology_version(reply)?,
        iscryptd: boolean(reply, "iscryptd")?,
        hidden,
        max_bson_object_size: non_negative(reply, "maxBsonObjectSize")?,
        max_message_size_bytes: non_negative(reply, "maxMessageSizeBytes")?,
        max_write_batch_size: non_negative(reply, "maxWriteBatchSize")?,
    })
}

/// The ServerType table of SDAM "Parsing a hello or legacy hello response", for a reply
/// with `ok: 1`.
fn server_type(
    isdbgrid: bool,
    isreplicaset: bool,
    has_set_name: bool,
    hidden: bool,
    writable_primary: bool,
    secondary: bool,
    arbiter_only: bool,
) -> ServerType {
    if isdbgrid {
        ServerType::Mongos
    } else if isreplicaset {
        ServerType::RsGhost
    } else if !has_set_name {
        ServerType::Standalone
    } else if hidden {
        ServerType::RsOther
    } else if writable_primary {
        ServerType::RsPrimary
    } else if secondary {
        ServerType::RsSecondary
    } else if arbiter_only {
        ServerType::RsArbiter
    } else {
        ServerType::RsOther
    }
}

/// A boolean field; absent (or null) means false.
fn boolean(reply: &Document, field: &str) -> Result<bool, ReplyFieldError> {
    match reply.get(field) {
        None | Some(Bson::Null) => Ok(false),
        Some(Bson::Boolean(value)) => Ok(*value),
        Some(other) => Err(wrong_type(field, "a boolean", other)),
    }
}

/// A string field; absent (or null) means `None`.
fn string(reply: &Document, field: &str) -> Result<Option<String>, ReplyFieldError> {
    match reply.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(value)) => Ok(Some(value.clone())),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

/// An integer field given as int32, int64 or an integral double; absent means `None`.
fn integer(reply: &Document, field: &str) -> Result<Option<i64>, ReplyFieldError> {
    reply::integer(reply.get(field)).map_err(|found| wrong_type(field, "an integer", found))
}

fn non_negative(reply: &Document, field: &str) -> Result<Option<i64>, ReplyFieldError> {
    match integer(reply, field)? {
        Some(value) if value < 0 => Err(field_error(field, format!("negative value {value}"))),
        value => Ok(value),
    }
}

/// `minWireVersion` / `maxWireVersion`: a non-negative int32, default 0.
fn wire_version(reply: &Document, field: &str) -> Result<i32, ReplyFieldError> {
    match non_negative(reply, field)? {
        None => Ok(0),
        Some(value) => i32::try_from(value)
            .map_err(|_| field_error(field, format!("value {value} out of range"))),
    }
}

fn object_id(reply: &Document, field: &str) -> Result<Option<ObjectId>, ReplyFieldError> {
    match reply.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::ObjectId(id)) => Ok(Some(*id)),
        Some(other) => Err(wrong_type(field, "an ObjectId", other)),
    }
}

fn parse_address(field: &str, text: &str) -> Result<ServerAddress, ReplyFieldError> {
    ServerAddress::parse(text).map_err(|error| field_error(field, error.to_string()))
}

fn optional_address(
    reply: &Document,
    field: &str,
) -> Result<Option<ServerAddress>, ReplyFieldError> {
    string(reply, field)?
        .map(|text| parse_address(field, &text))
        .transpose()
}

/// `hosts`, `passives` or `arbiters`: an array of address strings, lower-cased by
/// [`ServerAddress::parse`] (SDAM "Hostnames are normalized to lower-case").
fn address_list(reply: &Document, field: &str) -> Result<BTreeSet<ServerAddress>, ReplyFieldError> {
    let items = match reply.get(field) {
        None | Some(Bson::Null) => return Ok(BTreeSet::new()),
        Some(Bson::Array(items)) => items,
        Some(other) => return Err(wrong_type(field, "an array of strings", other)),
    };
    if items.len() > MAX_MEMBERS_PER_LIST {
        return Err(field_error(
            field,
            format!(
                "{} entries, more than the {MAX_MEMBERS_PER_LIST} accepted",
                items.len()
            ),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let entry = format!("{field}[{index}]");
            match item {
                Bson::String(text) => parse_address(&entry, text),
                other => Err(wrong_type(&entry, "a string", other)),
            }
        })
        .collect()
}

fn tags(reply: &Document) -> Result<BTreeMap<String, String>, ReplyFieldError> {
    let tags = match reply.get("tags") {
        None | Some(Bson::Null) => return Ok(BTreeMap::new()),
        Some(Bson::Document(tags)) => tags,
        Some(other) => return Err(wrong_type("tags", "a document", other)),
    };
    tags.iter()
        .map(|(name, value)| match value {
            Bson::String(value) => Ok((name.clone(), value.clone())),
            other => Err(wrong_type(&format!("tags.{name}"), "a string", other)),
        })
        .collect()
}

/// `lastWrite.lastWriteDate` and `lastWrite.opTime` (SDAM "lastWriteDate and opTime").
fn last_write(
    reply: &Document,
) -> Result<(Option<bson::DateTime>, Option<Document>), ReplyFieldError> {
    let last_write = match reply.get("lastWrite") {
        None | Some(Bson::Null) => return Ok((None, None)),
        Some(Bson::Document(last_write)) => last_write,
        Some(other) => return Err(wrong_type("lastWrite", "a document", other)),
    };
    let date = match last_write.get("lastWriteDate") {
        None | Some(Bson::Null) => None,
        Some(Bson::DateTime(date)) => Some(*date),
        Some(other) => return Err(wrong_type("lastWrite.lastWriteDate", "a date", other)),
    };
    let op_time = match last_write.get("opTime") {
        None | Some(Bson::Null) => None,
        Some(Bson::Document(op_time)) => Some(op_time.clone()),
        Some(other) => return Err(wrong_type("lastWrite.opTime", "a document", other)),
    };
    Ok((date, op_time))
}

fn topology_version(container: &Document) -> Result<Option<TopologyVersion>, ReplyFieldError> {
    reply::topology_version(container)
}
