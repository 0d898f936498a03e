//! From the command line's connection string to the settings a cluster runs with: parsing,
//! and for `mongodb+srv://` the SRV and TXT lookups (at the system's resolver, or at the
//! name server given with `--dns-server`). Shared by `discover`, `select` and `watch`.

use std::net::SocketAddr;

use mongo_topology::options::srv::SrvRecord;
use mongo_topology::options::ConnectionString;
use mongo_topology::ClusterSettings;
use mongo_topology::DnsSettings;

/// A connection string ready to run: as given (its Display hides the password) and the
/// settings built from it after any DNS lookups.
pub struct Resolved {
    /// The connection string as given.
    pub uri: ConnectionString,
    /// The settings, with the SRV seed list and TXT options applied.
    pub settings: ClusterSettings,
    /// The SRV records the seed list came from (empty for `mongodb://`).
    pub srv_records: Vec<SrvRecord>,
}

/// The connection string from the argument, else from `MONGODB_URI`. A `MONGODB_URI` that
/// is set but not valid UTF-8 is said to be so (its bytes are not shown: they may hold a
/// password).
pub fn uri_text(argument: Option<&str>) -> Result<String, String> {
    match argument {
        Some(uri) => Ok(uri.to_string()),
        None => match std::env::var("MONGODB_URI") {
            Ok(uri) => Ok(uri),
            Err(std::env::VarError::NotPresent) => {
                Err("no connection string: give one as an argument or in MONGODB_URI".to_string())
            }
            Err(std::env::VarError::NotUnicode(_)) => Err(
                "MONGODB_URI is set but is not valid UTF-8: a connection string must be UTF-8"
                    .to_string(),
            ),
        },
    }
}

/// Why a connection string could not be made ready; each message is one line.
#[derive(Debug)]
pub enum ResolveError {
    /// The connection string is invalid.
    Usage(String),
    /// The `mongodb+srv` lookups failed or broke the spec's rules (which lookup, and why).
    SeedList(String),
}

/// Parses `text` and builds its settings; a `mongodb+srv` string is resolved first.
pub async fn resolve(text: &str, dns_server: Option<SocketAddr>) -> Result<Resolved, ResolveError> {
    let uri = ConnectionString::parse(text)
        .map_err(|error| ResolveError::Usage(format!("invalid connection string: {error}")))?;
    let dns = DnsSettings {
        name_server: dns_server,
        ..DnsSettings::default()
    };
    let settings = if uri.is_srv() {
        ClusterSettings::resolve(text, dns).await.map_err(|error| {
            ResolveError::SeedList(format!("cannot resolve the seed list: {error}"))
        })?
    } else {
        let mut settings = ClusterSettings::from_connection_string(&uri)
            .map_err(|error| ResolveError::Usage(format!("invalid connection string: {error}")))?;
        settings.dns = dns;
        settings
    };
    let srv_records = settings
        .srv
        .as_ref()
        .map(|srv| srv.initial_records.clone())
        .unwrap_or_default();
    Ok(Resolved {
        uri,
        settings,
        srv_records,
    })
}

/// The target of an SRV record without DNS's trailing dot, as hosts are written.
pub fn srv_target(record: &SrvRecord) -> &str {
    record.target.strip_suffix('.').unwrap_or(&record.target)
}

/// One SRV record for people: `target:port (TTL n s)`.
pub fn srv_record_text(record: &SrvRecord) -> String {
    let target = srv_target(record);
    match record.ttl {
        Some(ttl) => format!("{target}:{} (TTL {} s)", record.port, ttl.as_secs()),
        None => format!("{target}:{}", record.port),
    }
}
