//! The client's view of one server: [`ServerType`] and [`ServerDescription`].
//!
//! Field names and defaults follow the SDAM specification's "ServerDescription" section.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use bson::oid::ObjectId;

use crate::address::ServerAddress;
use crate::time::MonotonicTime;

/// What kind of server a hello reply (or its absence) says a server is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerType {
    /// Not yet checked, or the last check failed.
    Unknown,
    /// A mongod not in a replica set.
    Standalone,
    /// A mongos router (`msg: "isdbgrid"`).
    Mongos,
    /// Reported as primary by another member, not yet checked itself.
    PossiblePrimary,
    /// The replica set's writable primary.
    RsPrimary,
    /// A replica set secondary.
    RsSecondary,
    /// A replica set arbiter: no data.
    RsArbiter,
    /// A replica set member in another state (hidden, starting up, recovering, ...).
    RsOther,
    /// A replica set member before initiation, or one that has been removed (`isreplicaset: true`).
    RsGhost,
    /// A load balancer in front of mongos routers.
    LoadBalancer,
}

impl ServerType {
    /// The name the SDAM spec (and its test suites) use for this type, e.g. `"RSPrimary"`.
    pub fn spec_name(self) -> &'static str {
        match self {
            ServerType::Unknown => "Unknown",
            ServerType::Standalone => "Standalone",
            ServerType::Mongos => "Mongos",
            ServerType::PossiblePrimary => "PossiblePrimary",
            ServerType::RsPrimary => "RSPrimary",
            ServerType::RsSecondary => "RSSecondary",
            ServerType::RsArbiter => "RSArbiter",
            ServerType::RsOther => "RSOther",
            ServerType::RsGhost => "RSGhost",
            ServerType::LoadBalancer => "LoadBalancer",
        }
    }

    /// Parses a spec name as produced by [`ServerType::spec_name`].
    pub fn from_spec_name(name: &str) -> Option<ServerType> {
        Some(match name {
            "Unknown" => ServerType::Unknown,
            "Standalone" => ServerType::Standalone,
            "Mongos" => ServerType::Mongos,
            "PossiblePrimary" => ServerType::PossiblePrimary,
            "RSPrimary" => ServerType::RsPrimary,
            "RSSecondary" => ServerType::RsSecondary,
            "RSArbiter" => ServerType::RsArbiter,
            "RSOther" => ServerType::RsOther,
            "RSGhost" => ServerType::RsGhost,
            "LoadBalancer" => ServerType::LoadBalancer,
            _ => return None,
        })
    }

    /// Data-bearing server types (SDAM "Data-Bearing Server Type"): those that can serve reads.
    pub fn is_data_bearing(self) -> bool {
        matches!(
            self,
            ServerType::Mongos
                | ServerType::RsPrimary
                | ServerType::RsSecondary
                | ServerType::Standalone
                | ServerType::LoadBalancer
        )
    }
}

impl fmt::Display for ServerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec_name())
    }
}

/// A server's `topologyVersion`: which process answered, and how many state changes it has had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TopologyVersion {
    /// Identifies one run of the server process; a restart gives a new one.
    pub process_id: ObjectId,
    /// Incremented by the server on every state change within one process.
    pub counter: i64,
}

impl TopologyVersion {
    /// SDAM "topologyVersion Comparison" (`compareTopologyVersion`): how `current` (the
    /// stored description's) orders against `incoming` (a reply's or an error's).
    ///
    /// When either is missing, or the process ids differ, the incoming one is assumed more
    /// recent (`Less`); otherwise the counters decide.
    pub fn compare(
        current: Option<&TopologyVersion>,
        incoming: Option<&TopologyVersion>,
    ) -> Ordering {
        match (current, incoming) {
            (Some(current), Some(incoming)) if current.process_id == incoming.process_id => {
                current.counter.cmp(&incoming.counter)
            }
            _ => Ordering::Less,
        }
    }
}

/// The class of failure behind a [`ServerError`]: what went wrong, kept all the way to the
/// user so that a selection failure can explain itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// Host name resolution failed.
    Dns,
    /// The TCP connection was refused or could not be established.
    Connect,
    /// A read or write on an established connection failed (reset, closed, ...).
    Network,
    /// A network timeout: connect, read or write took too long.
    Timeout,
    /// TLS negotiation failed.
    Tls,
    /// The server answered a command with an error (`ok: 0`), e.g. a state change error.
    Command,
    /// The server's reply could not be understood (malformed wire message or BSON).
    Protocol,
    /// The server belongs to a different replica set than the one the client was told about.
    ReplicaSetNameMismatch,
    /// The server's wire version range does not overlap the client's.
    IncompatibleWireVersion,
    /// The server claimed to be primary but another primary is newer, or its
    /// (electionId, setVersion) is older than one already seen (SDAM "updateRSFromPrimary").
    StalePrimary,
}

impl ServerErrorKind {
    /// The cause class in a few words, as explanations and the CLI print it.
    pub fn describe(self) -> &'static str {
        match self {
            ServerErrorKind::Dns => "DNS",
            ServerErrorKind::Connect => "connect",
            ServerErrorKind::Network => "network",
            ServerErrorKind::Timeout => "timeout",
            ServerErrorKind::Tls => "TLS",
            ServerErrorKind::Command => "command error",
            ServerErrorKind::Protocol => "protocol",
            ServerErrorKind::ReplicaSetNameMismatch => "replica set name mismatch",
            ServerErrorKind::IncompatibleWireVersion => "incompatible wire version",
            ServerErrorKind::StalePrimary => "stale primary",
        }
    }
}

impl fmt::Display for ServerErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The last error seen for a server, as stored in its [`ServerDescription`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// What kind of failure this was.
    pub kind: ServerErrorKind,
    /// The server error code, for command errors.
    pub code: Option<i32>,
    /// A human-readable description of the failure.
    pub message: String,
}

impl ServerError {
    /// An error of `kind` with `message` and no server code.
    pub fn new(kind: ServerErrorKind, message: impl Into<String>) -> Self {
        ServerError {
            kind,
            code: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "{} (code {code})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The client's view of a single server, from the most recent hello outcome.
///
/// See the SDAM specification, section "ServerDescription". Hosts, passives and arbiters are
/// sets of normalised addresses; tags are ordered for deterministic output.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerDescription {
    /// The address the client connects to (not the server's `me`).
    pub address: ServerAddress,
    /// The server's type; `Unknown` until a check succeeds.
    pub server_type: ServerType,
    /// The last error related to this server, if the last check or an application operation
    /// failed.
    pub error: Option<ServerError>,
    /// Average round trip time of hello calls (exponentially weighted), if known.
    pub round_trip_time: Option<Duration>,
    /// Minimum round trip time over recent samples, if known.
    pub min_round_trip_time: Option<Duration>,
    /// `lastWrite.lastWriteDate` from the latest hello, as a BSON datetime (wall clock).
    pub last_write_date: Option<bson::DateTime>,
    /// `lastWrite.opTime` from the latest hello: an opaque oplog position.
    pub op_time: Option<bson::Document>,
    /// Lowest wire protocol version the server supports (default 0).
    pub min_wire_version: i32,
    /// Highest wire protocol version the server supports (default 0).
    pub max_wire_version: i32,
    /// The server's own idea of its address in the replica set config.
    pub me: Option<ServerAddress>,
    /// Replica set members that can become primary, per this server.
    pub hosts: BTreeSet<ServerAddress>,
    /// Priority-zero replica set members, per this server.
    pub passives: BTreeSet<ServerAddress>,
    /// Arbiters, per this server.
    pub arbiters: BTreeSet<ServerAddress>,
    /// Replica set member tags.
    pub tags: BTreeMap<String, String>,
    /// The replica set name the server reports.
    pub set_name: Option<String>,
    /// Present on a primary: identifies its election.
    pub election_id: Option<ObjectId>,
    /// The replica set config version.
    pub set_version: Option<i64>,
    /// This server's opinion of who the primary is.
    pub primary: Option<ServerAddress>,
    /// When this description was produced; `None` means "infinity ago".
    pub last_update_time: Option<MonotonicTime>,
    /// Logical session timeout, if sessions are supported.
    pub logical_session_timeout_minutes: Option<i64>,
    /// The server's topology version, from hello or a state change error.
    pub topology_version: Option<TopologyVersion>,
    /// Whether the server is a mongocryptd.
    pub iscryptd: bool,
    /// Whether a hidden replica set member (`hidden: true`).
    pub hidden: bool,
    /// Largest BSON document the server accepts, if reported.
    pub max_bson_object_size: Option<i64>,
    /// Largest wire message the server accepts, if reported.
    pub max_message_size_bytes: Option<i64>,
    /// Largest write batch the server accepts, if reported.
    pub max_write_batch_size: Option<i64>,
}

impl ServerDescription {
    /// The description of a server that has not been checked yet: type Unknown, all defaults.
    pub fn unknown(address: ServerAddress) -> Self {
        ServerDescription {
            address,
            server_type: ServerType::Unknown,
            error: None,
            round_trip_time: None,
            min_round_trip_time: None,
            last_write_date: None,
            op_time: None,
            min_wire_version: 0,
            max_wire_version: 0,
            me: None,
            hosts: BTreeSet::new(),
            passives: BTreeSet::new(),
            arbiters: BTreeSet::new(),
            tags: BTreeMap::new(),
            set_name: None,
            election_id: None,
            set_version: None,
            primary: None,
            last_update_time: None,
            logical_session_timeout_minutes: None,
            topology_version: None,
            iscryptd: false,
            hidden: false,
            max_bson_object_size: None,
            max_message_size_bytes: None,
            max_write_batch_size: None,
        }
    }

    /// The description of a server whose check failed with `error` at `now`: type Unknown.
    pub fn unknown_with_error(
        address: ServerAddress,
        error: ServerError,
        now: MonotonicTime,
    ) -> Self {
        ServerDescription {
            error: Some(error),
            last_update_time: Some(now),
            ..ServerDescription::unknown(address)
        }
    }

    /// Whether this server is of a data-bearing type.
    pub fn is_data_bearing(&self) -> bool {
        self.server_type.is_data_bearing()
    }

    /// SDAM "Server Description Equality": whether the fields marked (=) are equal, which
    /// decides whether a ServerDescriptionChangedEvent is published. Round trip times and
    /// the last update time are deliberately ignored.
    pub fn is_equivalent(&self, other: &ServerDescription) -> bool {
        self.address == other.address
            && self.error == other.error
            && self.server_type == other.server_type
            && self.min_wire_version == other.min_wire_version
            && self.max_wire_version == other.max_wire_version
            && self.me == other.me
            && self.hosts == other.hosts
            && self.passives == other.passives
            && self.arbiters == other.arbiters
            && self.tags == other.tags
            && self.set_name == other.set_name
            && self.election_id == other.election_id
            && self.set_version == other.set_version
            && self.primary == other.primary
            && self.logical_session_timeout_minutes == other.logical_session_timeout_minutes
            && self.topology_version == other.topology_version
            && self.iscryptd == other.iscryptd
    }

    /// Every member this server reports: hosts, passives and arbiters.
    pub fn all_reported_members(&self) -> impl Iterator<Item = &ServerAddress> {
        self.hosts
            .iter()
            .chain(self.passives.iter())
            .chain(self.arbiters.iter())
    }
}
