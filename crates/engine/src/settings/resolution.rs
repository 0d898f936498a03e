//! Resolving a connection string into [`ClusterSettings`]: parsing it, and for
//! `mongodb+srv://` the initial seed list discovery (Initial DNS Seedlist Discovery spec):
//! SRV and TXT lookups, then the pure rules of [`crate::options::srv`].
//!
//! Entry points: [`ClusterSettings::parse`], [`ClusterSettings::resolve`] (and
//! `Cluster::connect_async`, which calls it).

use rand::Rng;

use crate::connection::dns::{DnsSettings, SrvResolver};
use crate::error::ClusterError;
use crate::options::srv::{srv_query_name, SrvRecord};
use crate::options::ConnectionString;
use crate::settings::cluster_settings::ClusterSettings;

/// A random index below `n` (at least 1), for `srvMaxHosts`.
pub(crate) fn random_below(n: usize) -> usize {
    rand::rng().random_range(0..n.max(1))
}

/// The initial seed list discovery of a `mongodb+srv` string (Initial DNS Seedlist
/// Discovery spec): SRV and TXT lookups, then the pure rules. Returns the connection string
/// as if the seeds and TXT options had been written in it, and the SRV records.
pub async fn resolve_srv(
    uri: &ConnectionString,
    dns: &DnsSettings,
) -> Result<(ConnectionString, Vec<SrvRecord>), ClusterError> {
    let Some(hostname) = uri.srv_hostname() else {
        return Ok((uri.clone(), Vec::new()));
    };
    let resolver = SrvResolver::new(dns)?;
    let query = srv_query_name(hostname, uri.srv_service_name());
    let (srv, txt) = tokio::join!(resolver.lookup_srv(&query), resolver.lookup_txt(hostname));
    let (srv, txt) = (srv?, txt?);
    let resolved = uri.with_srv_results(&srv, &txt, &mut random_below)?;
    tracing::debug!(
        srv_host = hostname,
        seeds = resolved.hosts().len(),
        records = srv.len(),
        "resolved the SRV seed list"
    );
    Ok((resolved, srv))
}

impl ClusterSettings {
    /// Parses `uri` and builds its settings.
    pub fn parse(uri: &str) -> Result<Self, crate::ClusterError> {
        let parsed = ConnectionString::parse(uri)?;
        Ok(ClusterSettings::from_connection_string(&parsed)?)
    }

    /// Parses `uri` and builds its settings; for `mongodb+srv`, first looks the seed list
    /// and default options up in DNS per `dns` (which the settings keep, for SRV polling).
    /// DNS failures and records that break the spec's rules are errors naming the lookup
    /// and the cause. For `mongodb://` this is [`ClusterSettings::parse`] with `dns` kept.
    pub async fn resolve(uri: &str, dns: DnsSettings) -> Result<ClusterSettings, ClusterError> {
        let parsed = ConnectionString::parse(uri)?;
        let (resolved, records) = resolve_srv(&parsed, &dns).await?;
        let mut settings = ClusterSettings::from_connection_string(&resolved)?;
        if let Some(srv) = settings.srv.as_mut() {
            srv.initial_records = records;
        }
        settings.dns = dns;
        Ok(settings)
    }
}
