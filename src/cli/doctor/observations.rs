//! What `doctor` observed, as plain data: the rules read only this, so each rule is a pure
//! function that a unit test can feed with a synthetic [`Observations`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mongo_topology::bson::oid::ObjectId;
use mongo_topology::bson::Document;
use mongo_topology::options::srv::SrvRecord;
use mongo_topology::options::ConnectionString;
use mongo_topology::sdam::{ServerType, TopologyDescription};
use mongo_topology::{ServerAddress, TlsInfo};

/// Everything one `doctor` run saw.
#[derive(Debug, Clone)]
pub struct Observations {
    /// The connection string as given (its Display hides the password).
    pub uri: ConnectionString,
    /// The seeds discovery started from: the URI's hosts, or the SRV targets.
    pub seeds: Vec<ServerAddress>,
    /// The `mongodb+srv` lookups, for a `mongodb+srv` string.
    pub srv: Option<SrvObservation>,
    /// The client's view when discovery ended; `None` when it could not start.
    pub topology: Option<Arc<TopologyDescription>>,
    /// Whether every known server was checked before discovery's deadline.
    pub discovery_complete: bool,
    /// How long discovery took.
    pub discovery_elapsed: Duration,
    /// How long the whole observation took (discovery, probes and verdicts).
    pub total_elapsed: Duration,
    /// One direct probe per server: each seed, each server of the final description and
    /// each host any member advertised.
    pub probes: BTreeMap<ServerAddress, Probe>,
    /// Each server's TLS handshake (empty without TLS).
    pub tls: BTreeMap<ServerAddress, Result<TlsInfo, String>>,
    /// The verdicts proven by doing what the application would.
    pub proof: Option<Proof>,
    /// Load-balanced mode: the hello replies of several new connections to the balancer.
    pub balancer_hellos: Vec<Result<Document, String>>,
    /// The wall clock when the observations were made (certificate expiry, lag).
    pub now: SystemTime,
}

/// The `mongodb+srv` lookups.
#[derive(Debug, Clone, Default)]
pub struct SrvObservation {
    /// The host name of the connection string.
    pub hostname: String,
    /// The SRV records found.
    pub records: Vec<SrvRecord>,
    /// Why the seed list could not be built (lookup failure or a spec rule broken).
    pub error: Option<String>,
    /// Options the TXT record contributed (name, value), as the resolved string shows
    /// them.
    pub txt_options: Vec<(String, String)>,
}

/// One server probed on a connection of its own.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// The IP addresses the name resolved to (or why it did not), when it was looked up.
    pub resolved: Option<Result<Vec<IpAddr>, String>>,
    /// The hello reply, or why there was none (connect, TLS, timeout).
    pub hello: Option<Result<Document, String>>,
    /// The round trip of the hello.
    pub round_trip: Option<Duration>,
    /// `buildInfo.version`, when the server answered it.
    pub version: Option<String>,
    /// The server's own view of the set (`replSetGetStatus`), when it answered.
    pub set_status: Option<Document>,
}

/// The verdicts proven by doing: a pool connection with the full handshake (and
/// authentication when the URI has credentials), then `ping`.
#[derive(Debug, Clone)]
pub struct Proof {
    /// A read with the connection string's read preference.
    pub read: Result<ProvenServer, ProofFailure>,
    /// A write (a server that reports itself writable).
    pub write: Result<ProvenServer, ProofFailure>,
}

/// The server a verdict was proven on.
#[derive(Debug, Clone)]
pub struct ProvenServer {
    /// Its address.
    pub address: ServerAddress,
    /// Its type when selected.
    pub server_type: ServerType,
    /// The `serviceId` the connection learned (load-balanced mode).
    pub service_id: Option<ObjectId>,
}

/// Why a verdict failed.
#[derive(Debug, Clone)]
pub struct ProofFailure {
    /// The class of cause.
    pub class: FailureClass,
    /// The server involved, when one was selected.
    pub address: Option<ServerAddress>,
    /// The error as the engine described it.
    pub message: String,
}

/// Classes of verdict failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// No server is suitable (nothing reachable, no primary, no matching member).
    NoSuitableServer,
    /// The TCP connection or name resolution failed.
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// Authentication failed.
    Authentication,
    /// The handshake through a load balancer carried no `serviceId`.
    NoServiceId,
    /// The server is not writable (a direct connection to a non-primary).
    NotWritable,
    /// The command failed or another error.
    Other,
}

impl FailureClass {
    /// The class as one word for JSON and text.
    pub fn name(self) -> &'static str {
        match self {
            FailureClass::NoSuitableServer => "no-suitable-server",
            FailureClass::Connect => "connect",
            FailureClass::Tls => "tls",
            FailureClass::Authentication => "authentication",
            FailureClass::NoServiceId => "no-service-id",
            FailureClass::NotWritable => "not-writable",
            FailureClass::Other => "other",
        }
    }
}

/// The settings that decide timings, with the specs' defaults applied.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// heartbeatFrequencyMS (default 10 s).
    pub heartbeat: Duration,
    /// connectTimeoutMS (default 10 s; `None`: no limit).
    pub connect_timeout: Option<Duration>,
    /// socketTimeoutMS (default: no limit).
    pub socket_timeout: Option<Duration>,
    /// serverSelectionTimeoutMS (default 30 s).
    pub server_selection_timeout: Duration,
    /// localThresholdMS (default 15 ms).
    pub local_threshold: Duration,
}

/// A zero duration means "no limit" for the timeouts.
fn limit(value: Option<Duration>, default: Option<Duration>) -> Option<Duration> {
    match value {
        Some(value) if value.is_zero() => None,
        Some(value) => Some(value),
        None => default,
    }
}

impl Observations {
    /// Observations with only a connection string: what a rule sees before any I/O.
    pub fn from_uri(uri: ConnectionString) -> Observations {
        Observations {
            seeds: uri.hosts().to_vec(),
            uri,
            srv: None,
            topology: None,
            discovery_complete: false,
            discovery_elapsed: Duration::ZERO,
            total_elapsed: Duration::ZERO,
            probes: BTreeMap::new(),
            tls: BTreeMap::new(),
            proof: None,
            balancer_hellos: Vec::new(),
            now: SystemTime::UNIX_EPOCH,
        }
    }

    /// The timing settings of the connection string, defaults applied.
    pub fn timings(&self) -> Timings {
        Timings {
            heartbeat: self
                .uri
                .heartbeat_frequency()
                .unwrap_or(Duration::from_secs(10)),
            connect_timeout: limit(self.uri.connect_timeout(), Some(Duration::from_secs(10))),
            socket_timeout: limit(self.uri.socket_timeout(), None),
            server_selection_timeout: self
                .uri
                .server_selection_timeout()
                .unwrap_or(Duration::from_secs(30)),
            local_threshold: self
                .uri
                .local_threshold()
                .unwrap_or(Duration::from_millis(15)),
        }
    }

    /// The hello reply of `address`, when its probe got one.
    pub fn hello(&self, address: &ServerAddress) -> Option<&Document> {
        self.probes.get(address)?.hello.as_ref()?.as_ref().ok()
    }

    /// Every successful hello reply, by server.
    pub fn hellos(&self) -> impl Iterator<Item = (&ServerAddress, &Document)> {
        self.probes
            .iter()
            .filter_map(|(address, probe)| Some((address, probe.hello.as_ref()?.as_ref().ok()?)))
    }

    /// Whether a TLS rule explains why `address` did not answer: its TLS handshake
    /// failed, or it dropped the plain connection and then completed a TLS handshake.
    pub fn tls_explains(&self, address: &ServerAddress) -> bool {
        let handshake_failed = self
            .probes
            .get(address)
            .and_then(|probe| probe.hello.as_ref())
            .is_some_and(|hello| matches!(hello, Err(error) if error.starts_with("TLS error")));
        let requires_tls = !self.uri.tls() && self.tls.get(address).is_some_and(Result::is_ok);
        handshake_failed || requires_tls
    }

    /// Whether the connection string asks for a direct connection (`directConnection=true`;
    /// without it, even a single seed starts discovery).
    pub fn direct(&self) -> bool {
        self.uri.direct_connection() == Some(true)
    }

    /// Whether the connection string asks for load-balanced mode.
    pub fn load_balanced(&self) -> bool {
        self.uri.load_balanced() == Some(true)
    }

    /// The set's member list as the members advertise it: `hosts`, `passives` and
    /// `arbiters` of the primary's hello, else of every replica set member's hello.
    pub fn advertised_members(&self) -> BTreeSet<ServerAddress> {
        let primary = self
            .hellos()
            .find(|(_, hello)| is_primary_hello(hello))
            .map(|(_, hello)| member_list(hello));
        primary.unwrap_or_else(|| {
            self.hellos()
                .flat_map(|(_, hello)| member_list(hello))
                .collect()
        })
    }
}

/// Whether a hello reply says the server is a writable primary.
pub fn is_primary_hello(hello: &Document) -> bool {
    (hello.get_bool("isWritablePrimary").unwrap_or(false)
        || hello.get_bool("ismaster").unwrap_or(false))
        && hello.get_str("setName").is_ok()
}

/// The addresses of a hello reply's string array `field` (unparsable ones skipped).
pub fn addresses(hello: &Document, field: &str) -> Vec<ServerAddress> {
    hello
        .get_array(field)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str())
                .filter_map(|text| ServerAddress::parse(text).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `hosts`, `passives` and `arbiters` of a hello reply.
pub fn member_list(hello: &Document) -> BTreeSet<ServerAddress> {
    ["hosts", "passives", "arbiters"]
        .iter()
        .flat_map(|field| addresses(hello, field))
        .collect()
}

/// A numeric field of a hello reply as an i64 (servers send int32 or int64, or doubles).
pub fn number(hello: &Document, field: &str) -> Option<i64> {
    match hello.get(field)? {
        mongo_topology::bson::Bson::Int32(n) => Some(i64::from(*n)),
        mongo_topology::bson::Bson::Int64(n) => Some(*n),
        #[allow(clippy::cast_possible_truncation)]
        mongo_topology::bson::Bson::Double(n) if n.is_finite() => Some(*n as i64),
        _ => None,
    }
}
