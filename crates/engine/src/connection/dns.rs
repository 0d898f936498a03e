//! DNS, a leaf of the connection layer: a host name to its socket addresses ([`resolve`], or
//! [`lookup_host`] at a chosen name server), and the SRV and TXT lookups (with
//! `hickory-resolver`) that the pure rules of `mongodb+srv://` need ([`SrvResolver`]), with
//! the settings that say where to send them ([`DnsSettings`]).
//!
//! The seed list resolution built on these lookups is in `settings/resolution.rs`; the SRV
//! poller that keeps a sharded topology's mongos list in step with DNS in
//! `cluster/srv_poller.rs`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use crate::connection::error::ConnectionError;
use crate::options::srv::SrvRecord;

/// How long one DNS lookup may take by default.
pub const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how the engine sends its DNS queries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSettings {
    /// The one name server to ask (UDP, then TCP when the answer is truncated); `None`, the
    /// default, uses the system's configuration (`/etc/resolv.conf`).
    pub name_server: Option<SocketAddr>,
    /// How long one lookup may take before it fails with [`DnsError::Timeout`].
    pub timeout: Duration,
    /// A test hook (the Polling SRV Records spec lets drivers have one): rescan the SRV
    /// records this often instead of per their TTL (at least 60 s). `None` in production.
    pub rescan_interval: Option<Duration>,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings {
            name_server: None,
            timeout: DEFAULT_DNS_TIMEOUT,
            rescan_interval: None,
        }
    }
}

/// A DNS lookup that failed. Each message names the lookup and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// No answer within [`DnsSettings::timeout`].
    #[error("DNS {kind} lookup of {name} timed out after {} ms", timeout.as_millis())]
    Timeout {
        /// "SRV" or "TXT".
        kind: &'static str,
        /// The name looked up.
        name: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The name server answered with an error, or could not be reached.
    #[error("DNS {kind} lookup of {name} failed: {cause}")]
    Failed {
        /// "SRV" or "TXT".
        kind: &'static str,
        /// The name looked up.
        name: String,
        /// The resolver's description of the failure.
        cause: String,
    },
    /// The resolver could not be configured (e.g. an unreadable `/etc/resolv.conf`).
    #[error("DNS resolver configuration: {0}")]
    Config(String),
}

/// Sends SRV and TXT queries with `hickory-resolver`, without a cache (each rescan must see
/// the current records), each bounded by [`DnsSettings::timeout`].
#[derive(Clone)]
pub(crate) struct SrvResolver {
    resolver: TokioResolver,
    timeout: Duration,
}

impl std::fmt::Debug for SrvResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrvResolver")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SrvResolver {
    /// A resolver per `dns`. Must be called within a tokio runtime.
    pub(crate) fn new(dns: &DnsSettings) -> Result<SrvResolver, DnsError> {
        let config_error = |error: NetError| DnsError::Config(error.to_string());
        let mut builder = match dns.name_server {
            Some(address) => {
                let mut server = NameServerConfig::udp_and_tcp(address.ip());
                for connection in &mut server.connections {
                    connection.port = address.port();
                }
                let config = ResolverConfig::from_name_servers(vec![server]);
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            }
            None => TokioResolver::builder_tokio().map_err(config_error)?,
        };
        let options = builder.options_mut();
        options.timeout = dns.timeout;
        options.attempts = 1;
        options.cache_size = 0;
        options.try_tcp_on_error = true;
        let resolver = builder.build().map_err(config_error)?;
        Ok(SrvResolver {
            resolver,
            timeout: dns.timeout,
        })
    }

    /// The SRV records at `name` (e.g. `_mongodb._tcp.cluster0.example.com`). No record is
    /// an empty list, not an error.
    pub(crate) async fn lookup_srv(&self, name: &str) -> Result<Vec<SrvRecord>, DnsError> {
        let lookup = self.bounded("SRV", name, self.resolver.srv_lookup(fqdn(name)));
        let Some(records) = lookup.await? else {
            return Ok(Vec::new());
        };
        Ok(records
            .into_iter()
            .filter_map(|(ttl, data)| match data {
                RData::SRV(srv) => Some(SrvRecord {
                    target: srv.target.to_ascii(),
                    port: srv.port,
                    ttl: Some(Duration::from_secs(u64::from(ttl))),
                }),
                _ => None,
            })
            .collect())
    }

    /// The TXT records at `name`, each as its character strings. No record is an empty list.
    pub(crate) async fn lookup_txt(&self, name: &str) -> Result<Vec<Vec<Vec<u8>>>, DnsError> {
        let lookup = self.bounded("TXT", name, self.resolver.txt_lookup(fqdn(name)));
        let Some(records) = lookup.await? else {
            return Ok(Vec::new());
        };
        Ok(records
            .into_iter()
            .filter_map(|(_, data)| match data {
                RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
                _ => None,
            })
            .collect())
    }

    /// Runs one lookup within the timeout: the answers (TTL and data), or `None` when the
    /// name has no record of the type (NXDOMAIN or an empty answer).
    async fn bounded(
        &self,
        kind: &'static str,
        name: &str,
        lookup: impl std::future::Future<Output = Result<hickory_resolver::lookup::Lookup, NetError>>,
    ) -> Result<Option<Vec<(u32, RData)>>, DnsError> {
        let timeout = DnsError::Timeout {
            kind,
            name: name.to_string(),
            timeout: self.timeout,
        };
        match tokio::time::timeout(self.timeout, lookup).await {
            Err(_) => Err(timeout),
            Ok(Err(error)) if error.is_no_records_found() => Ok(None),
            Ok(Err(NetError::Timeout)) => Err(timeout),
            Ok(Err(error)) => Err(DnsError::Failed {
                kind,
                name: name.to_string(),
                cause: error.to_string(),
            }),
            Ok(Ok(lookup)) => Ok(Some(
                lookup
                    .answers()
                    .iter()
                    .map(|record| (record.ttl, record.data.clone()))
                    .collect(),
            )),
        }
    }
}

/// A host name that could not be turned into socket addresses, and why.
fn host_lookup_error(host: &str, cause: String) -> ConnectionError {
    ConnectionError::Dns {
        host: host.to_owned(),
        cause,
    }
}

/// Every socket address `host:port` stands for, in the resolver's order. An IP literal is
/// used as is; a name is looked up (A and AAAA records), under `timeout` when given.
pub(crate) async fn resolve(
    host: &str,
    port: u16,
    timeout: Option<Duration>,
) -> Result<Vec<SocketAddr>, ConnectionError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let dns_error = |cause: String| host_lookup_error(host, cause);
    let lookup = tokio::net::lookup_host((host, port));
    let found = match timeout {
        Some(limit) => tokio::time::timeout(limit, lookup)
            .await
            .map_err(|_| dns_error(format!("no answer within {limit:?}")))?,
        None => lookup.await,
    };
    let addresses: Vec<SocketAddr> = found.map_err(|e| dns_error(e.to_string()))?.collect();
    if addresses.is_empty() {
        return Err(dns_error("the name resolved to no address".to_owned()));
    }
    tracing::debug!(host, ?addresses, "resolved");
    Ok(addresses)
}

/// The socket addresses of `host:port` per the A and AAAA records at `name_server` (see
/// [`DnsSettings::name_server`]): how connections reach the hosts of a test zone. An IP
/// literal is used as is.
pub(crate) async fn lookup_host(
    name_server: SocketAddr,
    host: &str,
    port: u16,
    timeout: Option<Duration>,
) -> Result<Vec<SocketAddr>, ConnectionError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let dns_error = |cause: String| host_lookup_error(host, cause);
    let dns = DnsSettings {
        name_server: Some(name_server),
        timeout: timeout.unwrap_or(DEFAULT_DNS_TIMEOUT),
        rescan_interval: None,
    };
    let resolver = SrvResolver::new(&dns).map_err(|e| dns_error(e.to_string()))?;
    let lookup = resolver.resolver.lookup_ip(fqdn(host));
    let found = tokio::time::timeout(dns.timeout, lookup)
        .await
        .map_err(|_| dns_error(format!("no answer within {:?}", dns.timeout)))?
        .map_err(|e| dns_error(e.to_string()))?;
    let addresses: Vec<SocketAddr> = found.iter().map(|ip| SocketAddr::new(ip, port)).collect();
    if addresses.is_empty() {
        return Err(dns_error("the name resolved to no address".to_owned()));
    }
    Ok(addresses)
}

/// The fully qualified form of `name`, so no search domain is appended.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ip_literals_need_no_lookup() {
        let v4 = resolve("127.0.0.1", 5, None).await.unwrap();
        assert_eq!(v4, vec!["127.0.0.1:5".parse().unwrap()]);
        let v6 = resolve("::1", 6, None).await.unwrap();
        assert_eq!(v6, vec!["[::1]:6".parse().unwrap()]);
    }
}
