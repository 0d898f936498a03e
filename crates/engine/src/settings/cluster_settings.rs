//! [`ClusterSettings`]: everything the live engine needs, in one value, built from a
//! connection string ([`ClusterSettings::from_connection_string`]) or field by field.
//!
//! Defaults follow the specifications: heartbeatFrequencyMS 10 s and its 500 ms minimum
//! (SDAM "heartbeatFrequencyMS", "minHeartbeatFrequencyMS"), connectTimeoutMS 10 s,
//! serverSelectionTimeoutMS 30 s, localThresholdMS 15 ms, serverMonitoringMode `auto`.

use std::str::FromStr;
use std::time::Duration;

use crate::connection::auth::{CredentialError, MongoCredential};
use crate::connection::dns::DnsSettings;
use crate::connection::tls::{TlsSettings, TlsSetupError};
use crate::options::srv::{srv_query_name, SrvRecord};
use crate::options::ConnectionString;
use crate::pool::{PoolOptions, PoolOptionsError};
use crate::sdam::{SettingsError, TopologySettings};
use crate::selection::{
    ReadPreference, ReadPreferenceError, SelectionSettings, DEFAULT_HEARTBEAT_FREQUENCY,
    DEFAULT_LOCAL_THRESHOLD,
};

/// SDAM `minHeartbeatFrequencyMS`: no server is checked more often than this, however many
/// immediate checks are requested.
pub const MIN_HEARTBEAT_FREQUENCY: Duration = Duration::from_millis(500);

/// `connectTimeoutMS` default: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `serverSelectionTimeoutMS` default: 30 s.
pub const DEFAULT_SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// `serverMonitoringMode` (Server Monitoring spec, "Streaming protocol").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ServerMonitoringMode {
    /// Stream (awaitable hello with exhaust) when the server supports it, else poll. Clients
    /// detect function-as-a-service environments here to poll; this engine always streams in
    /// `auto`, as it runs in long-lived processes.
    #[default]
    Auto,
    /// Stream when the server supports it, else poll.
    Stream,
    /// Always poll: one hello every heartbeatFrequencyMS.
    Poll,
}

impl ServerMonitoringMode {
    /// Whether a monitor streams from a server that supports it.
    pub fn streams(self) -> bool {
        !matches!(self, ServerMonitoringMode::Poll)
    }
}

impl FromStr for ServerMonitoringMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "auto" => Ok(ServerMonitoringMode::Auto),
            "stream" => Ok(ServerMonitoringMode::Stream),
            "poll" => Ok(ServerMonitoringMode::Poll),
            other => Err(format!(
                "serverMonitoringMode must be stream, poll or auto, not {other:?}"
            )),
        }
    }
}

/// Why settings cannot start a cluster.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterSettingsError {
    /// A combination of discovery settings SDAM forbids (e.g. no seed).
    #[error(transparent)]
    Topology(#[from] SettingsError),
    /// The connection string's read preference is invalid.
    #[error(transparent)]
    ReadPreference(#[from] ReadPreferenceError),
    /// A `mongodb+srv://` string whose seed list has not been looked up in DNS yet: use
    /// [`ClusterSettings::resolve`] or [`crate::Cluster::connect_async`].
    #[error(
        "mongodb+srv:// needs its seed list from DNS first: use ClusterSettings::resolve or \
         Cluster::connect_async"
    )]
    SrvNotResolved,
    /// The credential the connection string gives is invalid for its mechanism.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// The connection pool options contradict each other (e.g. minPoolSize > maxPoolSize).
    #[error(transparent)]
    Pool(#[from] PoolOptionsError),
    /// The TLS options name files that cannot be used (read when the cluster starts).
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// `heartbeatFrequencyMS` below the 500 ms minimum.
    #[error("heartbeatFrequencyMS must be at least {min:?}, not {given:?}")]
    HeartbeatTooFrequent {
        /// The value given.
        given: Duration,
        /// The minimum.
        min: Duration,
    },
}

/// Everything the live engine needs: discovery, monitoring, timeouts and selection.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSettings {
    /// Seeds, replica set name, directConnection, loadBalanced.
    pub topology: TopologySettings,
    /// `heartbeatFrequencyMS`: how often each server is checked (streaming: how long the
    /// server may hold an awaitable hello).
    pub heartbeat_frequency: Duration,
    /// SDAM `minHeartbeatFrequencyMS`: the shortest time between two checks of one server.
    pub min_heartbeat_frequency: Duration,
    /// `connectTimeoutMS`; `None` is no timeout. Also bounds every monitoring read beyond
    /// the awaited time.
    pub connect_timeout: Option<Duration>,
    /// `socketTimeoutMS`; `None` is no timeout (monitors use connect_timeout instead).
    pub socket_timeout: Option<Duration>,
    /// `serverMonitoringMode`.
    pub server_monitoring_mode: ServerMonitoringMode,
    /// `appname`, sent in the handshake's client metadata.
    pub app_name: Option<String>,
    /// `serverSelectionTimeoutMS`: how long a selection waits for a suitable server.
    pub server_selection_timeout: Duration,
    /// `localThresholdMS`: the width of the latency window.
    pub local_threshold: Duration,
    /// The read preference the connection string asks for (mode primary by default).
    pub read_preference: ReadPreference,
    /// The options of every server's connection pool: maxPoolSize, minPoolSize,
    /// maxIdleTimeMS, maxConnecting, waitQueueTimeoutMS.
    pub pool: PoolOptions,
    /// The credential pool connections authenticate with (monitors never do), resolved
    /// from the connection string when the settings are built so that a bad one fails
    /// early. Its Debug output hides the password.
    pub credential: Option<MongoCredential>,
    /// Warm-up (on by default): open a server's first pool connection — connect,
    /// handshake, speculative authentication — concurrently with its monitor's first check,
    /// so that the first operation on it does not pay for them after selection (from a
    /// secondary seed, a first command then costs 3 round trips instead of 4). This is done
    /// for the servers a first operation is likely to need: the seeds, every server outside
    /// a replica set, and a member a reply names as primary. The other members of a replica
    /// set get theirs once their first check shows they bear data, and only when
    /// `read_preference` may read from secondaries (their handshakes would otherwise just
    /// compete with discovery and the first operations). The pool adopts the connection
    /// once the server is known to be data-bearing; it is dropped for arbiters and other
    /// non-data-bearing members, when the pool is cleared, and when the server is removed.
    /// Bounded to the first [`WARM_UP_LIMIT`](crate::sdam::WARM_UP_LIMIT) servers of a cluster, so a deployment of many
    /// mongos does not open a connection to each of them.
    pub warm_up: bool,
    /// Where DNS queries go (`mongodb+srv` seed lists and SRV polling).
    pub dns: DnsSettings,
    /// For a `mongodb+srv` string: what the SRV poller needs. `None` for `mongodb://`.
    pub srv: Option<SrvSettings>,
    /// TLS for every connection (monitors, RTT monitors, pools) when `Some`: from `tls`
    /// (or `ssl`) and the other `tls*` options. The client configuration is built once,
    /// when the cluster starts.
    pub tls: Option<TlsSettings>,
}

/// What the cluster keeps of its `mongodb+srv` string to poll the SRV records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvSettings {
    /// The host name of the connection string.
    pub hostname: String,
    /// `srvServiceName`, `None` for "mongodb".
    pub service_name: Option<String>,
    /// `srvMaxHosts` (0: no limit).
    pub max_hosts: u32,
    /// The SRV records of the initial lookup (their TTLs set the first rescan interval).
    pub initial_records: Vec<SrvRecord>,
}

impl SrvSettings {
    /// The name the SRV records are looked up under.
    pub fn query_name(&self) -> String {
        srv_query_name(&self.hostname, self.service_name.as_deref())
    }
}

impl ClusterSettings {
    /// Settings for `seeds` with every option at its default.
    pub fn new(topology: TopologySettings) -> Self {
        ClusterSettings {
            topology,
            heartbeat_frequency: DEFAULT_HEARTBEAT_FREQUENCY,
            min_heartbeat_frequency: MIN_HEARTBEAT_FREQUENCY,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            socket_timeout: None,
            server_monitoring_mode: ServerMonitoringMode::Auto,
            app_name: None,
            server_selection_timeout: DEFAULT_SERVER_SELECTION_TIMEOUT,
            local_threshold: DEFAULT_LOCAL_THRESHOLD,
            read_preference: ReadPreference::primary(),
            pool: PoolOptions::default(),
            credential: None,
            warm_up: true,
            dns: DnsSettings::default(),
            srv: None,
            tls: None,
        }
    }

    /// The settings a parsed connection string asks for; options it does not set keep their
    /// defaults. `connectTimeoutMS=0` and `socketTimeoutMS=0` mean no timeout.
    pub fn from_connection_string(uri: &ConnectionString) -> Result<Self, ClusterSettingsError> {
        // A resolved mongodb+srv string has hosts (see `ClusterSettings::resolve`).
        if uri.is_srv() && uri.hosts().is_empty() {
            return Err(ClusterSettingsError::SrvNotResolved);
        }
        let mut settings = ClusterSettings::new(TopologySettings::from_connection_string(uri));
        settings.srv = uri.srv_hostname().map(|hostname| SrvSettings {
            hostname: hostname.to_string(),
            service_name: uri.srv_service_name().map(str::to_string),
            max_hosts: uri.srv_max_hosts().unwrap_or(0),
            initial_records: Vec::new(),
        });
        let nonzero = |timeout: Duration| Some(timeout).filter(|t| !t.is_zero());
        if let Some(frequency) = uri.heartbeat_frequency() {
            settings.heartbeat_frequency = frequency;
        }
        if let Some(timeout) = uri.connect_timeout() {
            settings.connect_timeout = nonzero(timeout);
        }
        settings.socket_timeout = uri.socket_timeout().and_then(nonzero);
        if let Some(mode) = uri.server_monitoring_mode() {
            // The options layer accepts only the three spec values.
            settings.server_monitoring_mode = mode.parse().unwrap_or_default();
        }
        settings.app_name = uri.app_name().map(str::to_string);
        if let Some(timeout) = uri.server_selection_timeout() {
            settings.server_selection_timeout = timeout;
        }
        if let Some(threshold) = uri.local_threshold() {
            settings.local_threshold = threshold;
        }
        settings.read_preference = ReadPreference::from_connection_string(uri)?;
        settings.pool = PoolOptions::from_connection_string(uri);
        settings.credential = MongoCredential::from_connection_string(uri)?;
        settings.tls = TlsSettings::from_connection_string(uri);
        settings.validate()?;
        Ok(settings)
    }

    /// Checks the combinations the engine cannot run with.
    pub fn validate(&self) -> Result<(), ClusterSettingsError> {
        self.topology.validate()?;
        self.pool.validate()?;
        if self.heartbeat_frequency < self.min_heartbeat_frequency {
            return Err(ClusterSettingsError::HeartbeatTooFrequent {
                given: self.heartbeat_frequency,
                min: self.min_heartbeat_frequency,
            });
        }
        Ok(())
    }

    /// The settings server selection reads.
    pub fn selection(&self) -> SelectionSettings {
        SelectionSettings {
            local_threshold: self.local_threshold,
            heartbeat_frequency: self.heartbeat_frequency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_settings_take_uri_values_or_spec_defaults() {
        let uri =
            ConnectionString::parse("mongodb://a/?localThresholdMS=40&heartbeatFrequencyMS=2000")
                .unwrap();
        let settings = ClusterSettings::from_connection_string(&uri)
            .unwrap()
            .selection();
        assert_eq!(settings.local_threshold, Duration::from_millis(40));
        assert_eq!(settings.heartbeat_frequency, Duration::from_secs(2));
        let uri = ConnectionString::parse("mongodb://a").unwrap();
        let defaults = ClusterSettings::from_connection_string(&uri)
            .unwrap()
            .selection();
        assert_eq!(defaults.local_threshold, Duration::from_millis(15));
        assert_eq!(defaults.heartbeat_frequency, Duration::from_secs(10));
    }
}
