//! The rules of the Initial DNS Seedlist Discovery spec that apply once DNS has answered:
//! SRV records become the seed list, the TXT record adds default options, `srvMaxHosts`
//! picks hosts at random. Pure: the DNS answers and the randomness are inputs.
//!
//! Kept under `options` because the result is a [`ConnectionString`] as if the user had
//! written the seeds and the TXT options themselves ("the driver now MUST treat the host
//! information as if the following URI was used instead"), validated again afterwards.
//! The polling rules of the Polling SRV Records spec, which change a running topology, are
//! in [`crate::sdam`] (`Topology::apply_srv_records`); they share [`check_target`].

use std::time::Duration;

use super::assemble::assemble;
use super::connection_string::ConnectionString;
use super::error::UriError;
use super::parse::parse_pairs;
use super::validate;
use crate::address::ServerAddress;

/// The SRV service name used when `srvServiceName` is not given.
pub const DEFAULT_SRV_SERVICE_NAME: &str = "mongodb";

/// The options a TXT record may set (spec, "Default Connection String Options").
pub const TXT_ALLOWED_OPTIONS: [&str; 3] = ["authSource", "replicaSet", "loadBalanced"];

/// The longest TXT record accepted, all strings concatenated. DNS allows 64 KiB; a TXT
/// record holds at most three short options, so anything this long is a mistake.
pub const MAX_TXT_RECORD_LEN: usize = 4096;

/// One SRV record as DNS returned it. Priority and weight are not kept: the spec says they
/// MUST be ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvRecord {
    /// The target host name, as returned (a trailing dot is allowed).
    pub target: String,
    /// The port.
    pub port: u16,
    /// The record's time to live, when the resolver reports it.
    pub ttl: Option<Duration>,
}

impl SrvRecord {
    /// A record without a known TTL.
    pub fn new(target: impl Into<String>, port: u16) -> Self {
        SrvRecord {
            target: target.into(),
            port,
            ttl: None,
        }
    }
}

/// Why the DNS answers cannot be used. Each message names the rule and the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrvError {
    /// The SRV lookup returned no record.
    #[error("the SRV lookup of {query} returned no records")]
    NoRecords {
        /// The name looked up (`_mongodb._tcp.host`).
        query: String,
    },
    /// A target is not a valid host name.
    #[error("SRV target {target:?} is not a valid host name: {reason}")]
    MalformedTarget {
        /// The target, as returned (truncated when very long).
        target: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A target does not end with `.{domainname}` of the SRV host name.
    #[error(
        "SRV target {target:?} is not in the domain {domain:?} of {hostname:?} \
         (the parent domain rule)"
    )]
    OutsideParentDomain {
        /// The target, as returned.
        target: String,
        /// The SRV host name from the connection string.
        hostname: String,
        /// The domain the target must be under.
        domain: String,
    },
    /// More than one TXT record.
    #[error("{0} TXT records were returned; at most one is allowed")]
    MultipleTxtRecords(usize),
    /// The TXT record is longer than [`MAX_TXT_RECORD_LEN`].
    #[error("the TXT record is {0} bytes long; at most {MAX_TXT_RECORD_LEN} are accepted")]
    TxtTooLong(usize),
    /// The TXT record is not UTF-8.
    #[error("the TXT record is not UTF-8 text")]
    TxtNotText,
    /// The TXT record sets an option other than authSource, replicaSet and loadBalanced.
    #[error(
        "the TXT record sets {option:?}; only authSource, replicaSet and loadBalanced are allowed"
    )]
    TxtOptionNotAllowed {
        /// The option name as written (never its value).
        option: String,
    },
    /// The TXT record is not a list of key=value options.
    #[error("the TXT record is misformatted: {0}")]
    TxtMisformatted(UriError),
    /// The options, once merged with the TXT record's, break a connection string rule.
    #[error("after SRV and TXT resolution: {0}")]
    Invalid(UriError),
}

/// The name to look up SRV records for: `_{srvServiceName}._tcp.{hostname}`.
pub fn srv_query_name(hostname: &str, service_name: Option<&str>) -> String {
    let service = service_name.unwrap_or(DEFAULT_SRV_SERVICE_NAME);
    format!("_{service}._tcp.{hostname}")
}

/// The `{domainname}` of an SRV host name (spec, "Connection String Format"): with three or
/// more `.`-separated parts, all but the left-most; with one or two, the whole name.
pub fn srv_domain_name(hostname: &str) -> &str {
    let hostname = hostname.trim_end_matches('.');
    if hostname.split('.').count() >= 3 {
        hostname
            .split_once('.')
            .map_or(hostname, |(_, domain)| domain)
    } else {
        hostname
    }
}

/// Checks one SRV target (spec, "Querying DNS"): a valid host name that ends with
/// `.{domainname}`; for a host name of fewer than three parts, `{domainname}` is the whole
/// host name, so the target has at least one more level. Returns the address to seed.
pub fn check_target(hostname: &str, record: &SrvRecord) -> Result<ServerAddress, SrvError> {
    let target = record.target.trim_end_matches('.').to_ascii_lowercase();
    if let Err(reason) = host_name_syntax(&target) {
        let shown: String = record.target.chars().take(100).collect();
        return Err(SrvError::MalformedTarget {
            target: shown,
            reason,
        });
    }
    let domain = srv_domain_name(hostname).to_ascii_lowercase();
    let in_domain = target
        .strip_suffix(domain.as_str())
        .is_some_and(|head| head.len() > 1 && head.ends_with('.'));
    if !in_domain {
        return Err(SrvError::OutsideParentDomain {
            target: target.clone(),
            hostname: hostname.to_string(),
            domain,
        });
    }
    if record.port == 0 {
        return Err(SrvError::MalformedTarget {
            target,
            reason: "port 0",
        });
    }
    Ok(ServerAddress::tcp(target, record.port))
}

/// RFC 1035 limits, with `_` allowed in labels (as the spec's own examples use it).
fn host_name_syntax(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > 253 {
        return Err("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("a label has a character other than letters, digits, '-' and '_'");
        }
    }
    Ok(())
}

/// The seed list from the SRV records of the initial lookup: every target must pass
/// [`check_target`] (one bad record fails the whole lookup), duplicates are dropped, and no
/// record at all is an error.
pub fn seeds_from_srv(
    hostname: &str,
    service_name: Option<&str>,
    records: &[SrvRecord],
) -> Result<Vec<ServerAddress>, SrvError> {
    if records.is_empty() {
        return Err(SrvError::NoRecords {
            query: srv_query_name(hostname, service_name),
        });
    }
    let mut seeds: Vec<ServerAddress> = Vec::with_capacity(records.len());
    for record in records {
        let address = check_target(hostname, record)?;
        if !seeds.contains(&address) {
            seeds.push(address);
        }
    }
    Ok(seeds)
}

/// The options of the TXT records on the host name: none without a record; more than one
/// record, a record over [`MAX_TXT_RECORD_LEN`], a misformatted one or one setting an option
/// not in [`TXT_ALLOWED_OPTIONS`] is an error. Each record is given as its character
/// strings, concatenated here in order. Returns the decoded key=value pairs.
pub fn txt_options(records: &[Vec<Vec<u8>>]) -> Result<Vec<(String, String)>, SrvError> {
    let record = match records {
        [] => return Ok(Vec::new()),
        [record] => record,
        _ => return Err(SrvError::MultipleTxtRecords(records.len())),
    };
    let length: usize = record.iter().map(Vec::len).sum();
    if length > MAX_TXT_RECORD_LEN {
        return Err(SrvError::TxtTooLong(length));
    }
    let bytes: Vec<u8> = record.concat();
    let text = String::from_utf8(bytes).map_err(|_| SrvError::TxtNotText)?;
    let pairs = parse_pairs(&text).map_err(SrvError::TxtMisformatted)?;
    for (key, _) in &pairs {
        let allowed = TXT_ALLOWED_OPTIONS
            .iter()
            .any(|name| name.eq_ignore_ascii_case(key));
        if !allowed {
            return Err(SrvError::TxtOptionNotAllowed {
                option: key.chars().take(64).collect(),
            });
        }
    }
    Ok(pairs)
}

/// `srvMaxHosts` (spec, "Querying DNS"): zero or at least as many hosts as given keeps them
/// all; otherwise `max` are chosen at random with a Fisher-Yates shuffle. `random_below(n)`
/// must return an index in `0..n` (the caller's random source, so this stays pure).
pub fn choose_hosts(
    mut hosts: Vec<ServerAddress>,
    max: u32,
    random_below: &mut dyn FnMut(usize) -> usize,
) -> Vec<ServerAddress> {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    if max == 0 || max >= hosts.len() {
        return hosts;
    }
    fisher_yates(&mut hosts, random_below);
    hosts.truncate(max);
    hosts
}

/// The modern Fisher-Yates shuffle; an out-of-range answer of `random_below` is clamped.
pub(crate) fn fisher_yates<T>(items: &mut [T], random_below: &mut dyn FnMut(usize) -> usize) {
    for i in (1..items.len()).rev() {
        let j = random_below(i + 1).min(i);
        items.swap(i, j);
    }
}

impl ConnectionString {
    /// The connection string as if the user had written the DNS results (spec, "Seedlist
    /// Discovery" and "Default Connection String Options"): the seeds from `srv_records`,
    /// reduced to `srvMaxHosts` at random, and the options of `txt_records` under the ones
    /// of the string itself (which override them); then every combination rule is checked
    /// again, as "URI Validation" requires. Keeps the SRV host name (so `tls` still defaults
    /// to true). Errors for a string that is not `mongodb+srv`.
    pub fn with_srv_results(
        &self,
        srv_records: &[SrvRecord],
        txt_records: &[Vec<Vec<u8>>],
        random_below: &mut dyn FnMut(usize) -> usize,
    ) -> Result<ConnectionString, SrvError> {
        let Some(hostname) = self.srv_hostname() else {
            return Err(SrvError::Invalid(UriError::Srv(
                "DNS results apply only to a mongodb+srv connection string",
            )));
        };
        let seeds = seeds_from_srv(hostname, self.srv_service_name(), srv_records)?;
        let pairs = txt_options(txt_records)?;
        let mut warnings = self.warnings.clone();
        let from_txt = assemble(pairs, &mut warnings).map_err(SrvError::TxtMisformatted)?;
        let mut resolved = self.clone();
        resolved.warnings = warnings;
        for (name, value) in from_txt {
            if !resolved.options.iter().any(|(set, _)| *set == name) {
                resolved.options.push((name, value));
            }
        }
        resolved.hosts = seeds;
        validate::validate(&resolved).map_err(SrvError::Invalid)?;
        let max = resolved.srv_max_hosts().unwrap_or(0);
        resolved.hosts = choose_hosts(std::mem::take(&mut resolved.hosts), max, random_below);
        Ok(resolved)
    }
}

#[cfg(test)]
#[path = "srv_tests.rs"]
mod tests;
