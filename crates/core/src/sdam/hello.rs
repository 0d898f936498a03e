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
use bson::spec::ElementType;
use bson::Document;

use crate::address::ServerAddress;
use crate::reply::{self, DocumentRef, ReplyFieldError, ValueRef};
use crate::sdam::server::{ServerDescription, ServerError, ServerErrorKind, ServerType};
use crate::time::MonotonicTime;

#[cfg(test)]
#[path = "hello_tests.rs"]
mod tests;

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

fn wrong_type(field: &str, expected: &str, found: &ValueRef<'_>) -> ReplyFieldError {
    ReplyFieldError::of_type(field, expected, found.element_type())
}

impl ServerDescription {
    /// Builds the description of the server at `address` from its hello (or legacy hello)
    /// `reply`, decoded or as received, per SDAM "Parsing a hello or legacy hello response".
    ///
    /// A reply without `ok: 1` gives an Unknown description carrying the server's error; a
    /// malformed reply gives an Unknown description with a protocol error. Unknown
    /// descriptions carry no round trip time (SDAM "roundTripTime").
    pub fn from_hello<'r>(
        address: ServerAddress,
        reply: impl Into<DocumentRef<'r>>,
        timing: CheckTiming,
    ) -> Self {
        let now = timing.now;
        let parsed = HelloFields::read(reply.into())
            .and_then(|fields| parse_reply(address.clone(), &fields, timing));
        match parsed {
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

    /// This description with the round trip times of the check that built it, known only
    /// once the check is reported (a monitor reads its reply before the average is
    /// updated): set as [`ServerDescription::from_hello`] sets them from its
    /// [`CheckTiming`], i.e. never on an Unknown description (SDAM "roundTripTime").
    pub fn with_round_trip_times(
        mut self,
        round_trip_time: Option<Duration>,
        min_round_trip_time: Option<Duration>,
    ) -> Self {
        if self.server_type != ServerType::Unknown {
            self.round_trip_time = round_trip_time;
            self.min_round_trip_time = min_round_trip_time;
        }
        self
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

/// Declares [`HelloFields`]: the top-level fields of a hello reply that SDAM reads, each
/// with its name in the reply. Every other field is skipped without being decoded.
macro_rules! hello_fields {
    ($($slot:ident = $name:literal,)*) => {
        /// The fields of a hello reply that SDAM reads, each its last value in the reply.
        #[derive(Default)]
        struct HelloFields<'a> {
            $($slot: Option<ValueRef<'a>>,)*
        }

        impl<'a> HelloFields<'a> {
            /// Reads `reply` in one pass.
            fn read(reply: DocumentRef<'a>) -> Result<Self, ReplyFieldError> {
                let mut fields = HelloFields::default();
                for entry in reply.entries() {
                    let (name, value) = entry?;
                    match name {
                        $($name => fields.$slot = Some(value),)*
                        _ => {}
                    }
                }
                Ok(fields)
            }
        }
    };
}

hello_fields! {
    ok = "ok",
    errmsg = "errmsg",
    legacy_err = "$err",
    code = "code",
    set_name = "setName",
    is_writable_primary = "isWritablePrimary",
    ismaster = "ismaster",
    hidden = "hidden",
    msg = "msg",
    isreplicaset = "isreplicaset",
    secondary = "secondary",
    arbiter_only = "arbiterOnly",
    last_write = "lastWrite",
    min_wire_version = "minWireVersion",
    max_wire_version = "maxWireVersion",
    me = "me",
    hosts = "hosts",
    passives = "passives",
    arbiters = "arbiters",
    tags = "tags",
    election_id = "electionId",
    set_version = "setVersion",
    primary = "primary",
    logical_session_timeout_minutes = "logicalSessionTimeoutMinutes",
    topology_version = "topologyVersion",
    iscryptd = "iscryptd",
    max_bson_object_size = "maxBsonObjectSize",
    max_message_size_bytes = "maxMessageSizeBytes",
    max_write_batch_size = "maxWriteBatchSize",
}

/// The server error carried by a reply whose `ok` is not 1.
fn not_ok_error(fields: &HelloFields<'_>) -> ServerError {
    let message = match reply::error_message_value(fields.errmsg, fields.legacy_err) {
        Some(message) => format!("hello failed: {message}"),
        None => "hello failed: the reply does not have ok: 1".to_string(),
    };
    ServerError {
        kind: ServerErrorKind::Command,
        code: reply::code_value(fields.code),
        message,
    }
}

fn parse_reply(
    address: ServerAddress,
    reply: &HelloFields<'_>,
    timing: CheckTiming,
) -> Result<ServerDescription, ReplyFieldError> {
    if !reply::ok_value(reply.ok)? {
        return Ok(ServerDescription::unknown_with_error(
            address,
            not_ok_error(reply),
            timing.now,
        ));
    }
    let set_name = string("setName", reply.set_name)?;
    let writable_primary = match reply.is_writable_primary {
        Some(_) => boolean("isWritablePrimary", reply.is_writable_primary)?,
        None => boolean("ismaster", reply.ismaster)?,
    };
    let hidden = boolean("hidden", reply.hidden)?;
    let server_type = server_type(
        string("msg", reply.msg)? == Some("isdbgrid"),
        boolean("isreplicaset", reply.isreplicaset)?,
        set_name.is_some(),
        hidden,
        writable_primary,
        boolean("secondary", reply.secondary)?,
        boolean("arbiterOnly", reply.arbiter_only)?,
    );
    let (last_write_date, op_time) = last_write(reply.last_write)?;
    Ok(ServerDescription {
        address,
        server_type,
        error: None,
        round_trip_time: timing.round_trip_time,
        min_round_trip_time: timing.min_round_trip_time,
        last_write_date,
        op_time,
        min_wire_version: wire_version("minWireVersion", reply.min_wire_version)?,
        max_wire_version: wire_version("maxWireVersion", reply.max_wire_version)?,
        me: optional_address("me", reply.me)?,
        hosts: address_list("hosts", reply.hosts)?,
        passives: address_list("passives", reply.passives)?,
        arbiters: address_list("arbiters", reply.arbiters)?,
        tags: tags(reply.tags)?,
        set_name: set_name.map(str::to_owned),
        election_id: object_id("electionId", reply.election_id)?,
        set_version: integer("setVersion", reply.set_version)?,
        primary: optional_address("primary", reply.primary)?,
        last_update_time: Some(timing.now),
        logical_session_timeout_minutes: non_negative(
            "logicalSessionTimeoutMinutes",
            reply.logical_session_timeout_minutes,
        )?,
        topology_version: reply::topology_version_value(reply.topology_version)?,
        iscryptd: boolean("iscryptd", reply.iscryptd)?,
        hidden,
        max_bson_object_size: non_negative("maxBsonObjectSize", reply.max_bson_object_size)?,
        max_message_size_bytes: non_negative("maxMessageSizeBytes", reply.max_message_size_bytes)?,
        max_write_batch_size: non_negative("maxWriteBatchSize", reply.max_write_batch_size)?,
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
fn boolean(field: &str, value: Option<ValueRef<'_>>) -> Result<bool, ReplyFieldError> {
    match value {
        None | Some(ValueRef::Null) => Ok(false),
        Some(ValueRef::Boolean(value)) => Ok(value),
        Some(other) => Err(wrong_type(field, "a boolean", &other)),
    }
}

/// A string field; absent (or null) means `None`.
fn string<'a>(
    field: &str,
    value: Option<ValueRef<'a>>,
) -> Result<Option<&'a str>, ReplyFieldError> {
    match value {
        None | Some(ValueRef::Null) => Ok(None),
        Some(ValueRef::String(value)) => Ok(Some(value)),
        Some(other) => Err(wrong_type(field, "a string", &other)),
    }
}

/// An integer field given as int32, int64 or an integral double; absent means `None`.
fn integer(field: &str, value: Option<ValueRef<'_>>) -> Result<Option<i64>, ReplyFieldError> {
    reply::integer(value)
        .map_err(|found: ElementType| ReplyFieldError::of_type(field, "an integer", found))
}

fn non_negative(field: &str, value: Option<ValueRef<'_>>) -> Result<Option<i64>, ReplyFieldError> {
    match integer(field, value)? {
        Some(value) if value < 0 => Err(field_error(field, format!("negative value {value}"))),
        value => Ok(value),
    }
}

/// `minWireVersion` / `maxWireVersion`: a non-negative int32, default 0.
fn wire_version(field: &str, value: Option<ValueRef<'_>>) -> Result<i32, ReplyFieldError> {
    match non_negative(field, value)? {
        None => Ok(0),
        Some(value) => i32::try_from(value)
            .map_err(|_| field_error(field, format!("value {value} out of range"))),
    }
}

fn object_id(
    field: &str,
    value: Option<ValueRef<'_>>,
) -> Result<Option<ObjectId>, ReplyFieldError> {
    match value {
        None | Some(ValueRef::Null) => Ok(None),
        Some(ValueRef::ObjectId(id)) => Ok(Some(id)),
        Some(other) => Err(wrong_type(field, "an ObjectId", &other)),
    }
}

fn parse_address(field: &str, text: &str) -> Result<ServerAddress, ReplyFieldError> {
    ServerAddress::parse(text).map_err(|error| field_error(field, error.to_string()))
}

fn optional_address(
    field: &str,
    value: Option<ValueRef<'_>>,
) -> Result<Option<ServerAddress>, ReplyFieldError> {
    string(field, value)?
        .map(|text| parse_address(field, text))
        .transpose()
}

/// `hosts`, `passives` or `arbiters`: an array of address strings, lower-cased by
/// [`ServerAddress::parse`] (SDAM "Hostnames are normalized to lower-case").
fn address_list(
    field: &str,
    value: Option<ValueRef<'_>>,
) -> Result<BTreeSet<ServerAddress>, ReplyFieldError> {
    let items = match value {
        None | Some(ValueRef::Null) => return Ok(BTreeSet::new()),
        Some(ValueRef::Array(items)) => items.items()?,
        Some(other) => return Err(wrong_type(field, "an array of strings", &other)),
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
                ValueRef::String(text) => parse_address(&entry, text),
                other => Err(wrong_type(&entry, "a string", other)),
            }
        })
        .collect()
}

fn tags(value: Option<ValueRef<'_>>) -> Result<BTreeMap<String, String>, ReplyFieldError> {
    let tags = match value {
        None | Some(ValueRef::Null) => return Ok(BTreeMap::new()),
        Some(ValueRef::Document(tags)) => tags,
        Some(other) => return Err(wrong_type("tags", "a document", &other)),
    };
    // A repeated tag name keeps its last value, as a decoded document does.
    let mut named = BTreeMap::new();
    for entry in tags.entries() {
        let (name, value) = entry?;
        named.insert(name, value);
    }
    named
        .into_iter()
        .map(|(name, value)| match value {
            ValueRef::String(value) => Ok((name.to_owned(), value.to_owned())),
            other => Err(wrong_type(&format!("tags.{name}"), "a string", &other)),
        })
        .collect()
}

/// `lastWrite.lastWriteDate` and `lastWrite.opTime` (SDAM "lastWriteDate and opTime").
fn last_write(
    value: Option<ValueRef<'_>>,
) -> Result<(Option<bson::DateTime>, Option<Document>), ReplyFieldError> {
    let last_write = match value {
        None | Some(ValueRef::Null) => return Ok((None, None)),
        Some(ValueRef::Document(last_write)) => last_write,
        Some(other) => return Err(wrong_type("lastWrite", "a document", &other)),
    };
    let date = match last_write.get("lastWriteDate")? {
        None | Some(ValueRef::Null) => None,
        Some(ValueRef::DateTime(date)) => Some(date),
        Some(other) => return Err(wrong_type("lastWrite.lastWriteDate", "a date", &other)),
    };
    let op_time = match last_write.get("opTime")? {
        None | Some(ValueRef::Null) => None,
        Some(ValueRef::Document(op_time)) => Some(op_time.to_document()?),
        Some(other) => return Err(wrong_type("lastWrite.opTime", "a document", &other)),
    };
    Ok((date, op_time))
}
