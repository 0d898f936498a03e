//! The syntax of a connection string: scheme, userinfo, host identifiers, auth database and
//! key=value pairs (Connection String spec, "General Syntax" and "Reference Implementation").
//!
//! This module only splits and decodes; what the options mean is decided by the catalog.

use std::net::Ipv6Addr;

use super::error::UriError;
use crate::address::{ServerAddress, DEFAULT_PORT};

/// The parts of a connection string, decoded but not yet interpreted.
#[derive(Debug)]
pub(crate) struct RawUri {
    /// The scheme is `mongodb+srv`.
    pub srv: bool,
    /// The decoded username and, if a `:` was present, password.
    pub userinfo: Option<(String, Option<String>)>,
    /// The host identifiers, in order.
    pub hosts: Vec<HostIdentifier>,
    /// The decoded auth database; `None` when absent or empty.
    pub database: Option<String>,
    /// The decoded key=value pairs, in order, keys as written.
    pub pairs: Vec<(String, String)>,
}

/// One parsed host identifier.
#[derive(Debug)]
pub(crate) struct HostIdentifier {
    /// The address (default port filled in).
    pub address: ServerAddress,
    /// A port was written explicitly.
    pub explicit_port: bool,
}

const SCHEME: &str = "mongodb://";
const SRV_SCHEME: &str = "mongodb+srv://";

/// Splits a connection string into its parts, following the steps of the Connection String
/// spec's "Reference Implementation".
pub(crate) fn split(uri: &str) -> Result<RawUri, UriError> {
    if uri.is_empty() {
        return Err(UriError::Empty);
    }
    // Step 1: validate and remove the scheme.
    let (srv, rest) = if let Some(rest) = strip_prefix_ignore_case(uri, SCHEME) {
        (false, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(uri, SRV_SCHEME) {
        (true, rest)
    } else {
        return Err(UriError::Scheme);
    };
    // Step 2: the host information ends at the first "/" or, since the slash is optional,
    // at a "?" that comes first.
    let (host_info, path_and_query) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (database_part, query) = match path_and_query.strip_prefix('/') {
        Some(after_slash) => match after_slash.split_once('?') {
            Some((database, query)) => (database, query),
            None => (after_slash, ""),
        },
        None => ("", path_and_query.strip_prefix('?').unwrap_or("")),
    };
    if host_info.is_empty() {
        if path_and_query.starts_with('/') {
            return Err(UriError::UnescapedSlash);
        }
        return Err(UriError::MissingHost);
    }
    // Step 3: split the userinfo from the hosts at the last "@".
    let (userinfo, hosts) = match host_info.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(parse_userinfo(userinfo)?), hosts),
        None => (None, host_info),
    };
    if hosts.is_empty() {
        return Err(UriError::MissingHost);
    }
    // Step 5: split and decode the host identifiers.
    let hosts = hosts
        .split(',')
        .enumerate()
        .map(|(i, host)| parse_host(i + 1, host))
        .collect::<Result<Vec<_>, _>>();
    // Steps 6 to 8: decode and validate the auth database.
    let database = parse_database(database_part);
    if (hosts.is_err() || database.is_err()) && database_part.contains('@') {
        // "alice:foo/bar@host/db": an unescaped "/" in the userinfo made the split at the
        // first "/" happen inside it. Say so, and echo none of it (it holds the password).
        return Err(UriError::Userinfo("unescaped \"/\""));
    }
    let (hosts, database) = (hosts?, database?);
    // Step 9: split and decode the options.
    let pairs = parse_pairs(query)?;
    Ok(RawUri {
        srv,
        userinfo,
        hosts,
        database,
        pairs,
    })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

/// Connection String spec, "Userinfo": an "@", more than one ":", or a "%" that is not
/// pct-encoded is an error; other characters must be RFC 3986 userinfo characters
/// (unreserved, sub-delims, ":"), with non-ASCII text allowed.
fn parse_userinfo(userinfo: &str) -> Result<(String, Option<String>), UriError> {
    if userinfo.contains('@') {
        return Err(UriError::Userinfo("unescaped \"@\""));
    }
    if userinfo.matches(':').count() > 1 {
        return Err(UriError::Userinfo("more than one unescaped \":\""));
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:%".contains(c) || !c.is_ascii();
    if !userinfo.chars().all(allowed) || userinfo.chars().any(char::is_control) {
        return Err(UriError::Userinfo(
            "a character that must be percent-encoded",
        ));
    }
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    let decode_userinfo =
        |text: &str| decode(text).map_err(|_| UriError::Userinfo("invalid percent-encoding"));
    let user = decode_userinfo(user)?;
    if user.is_empty() {
        return Err(UriError::Userinfo("the username is empty"));
    }
    let password = password.map(decode_userinfo).transpose()?;
    Ok((user, password))
}

/// Connection String spec, "Host Identifier": a host name, IPv4 address, bracketed IP
/// literal or percent-encoded UNIX domain socket path ending in ".sock", with an optional
/// port. Only the part before the port is ever echoed in an error.
fn parse_host(index: usize, text: &str) -> Result<HostIdentifier, UriError> {
    let host_error = |reason: &str| UriError::Host {
        index,
        reason: reason.to_string(),
    };
    if text.is_empty() {
        return Err(host_error("empty host"));
    }
    if let Some(bracketed) = text.strip_prefix('[') {
        return parse_ip_literal(index, bracketed);
    }
    let decoded = decode(text).map_err(|_| UriError::PercentEncoding("host"))?;
    if decoded.contains('/') {
        // Only a percent-encoded "/" can get here: the split at the first "/" happened
        // before. The spec requires socket paths to end in ".sock".
        if decoded.ends_with(".sock") {
            return Ok(HostIdentifier {
                address: ServerAddress::Unix {
                    path: decoded.into(),
                },
                explicit_port: false,
            });
        }
        return Err(host_error(
            "contains \"/\" but is not a UNIX domain socket path ending in \".sock\"",
        ));
    }
    let (host, port) = match decoded.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (decoded.as_str(), None),
    };
    if host.is_empty() {
        return Err(host_error("empty host name"));
    }
    let forbidden = |c: char| {
        c.is_whitespace() || c.is_control() || "/?#@[]%\\,\"".contains(c) || c == '\u{7f}'
    };
    if host.chars().any(forbidden) {
        return Err(host_error(&format!(
            "{host:?} contains a character not allowed in a host name"
        )));
    }
    let port = match port {
        Some(port) => Some(parse_port(port).ok_or_else(|| UriError::Port {
            index,
            host: host.to_string(),
        })?),
        None => None,
    };
    Ok(HostIdentifier {
        address: ServerAddress::tcp(host, port.unwrap_or(DEFAULT_PORT)),
        explicit_port: port.is_some(),
    })
}

/// RFC 3986 "IP-literal": `[address]` or `[address]:port`; the address must be IPv6,
/// optionally with a percent-encoded zone ("%25eth0").
fn parse_ip_literal(index: usize, bracketed: &str) -> Result<HostIdentifier, UriError> {
    let malformed = || UriError::Host {
        index,
        reason: "malformed IP literal; expected [address] or [address]:port".to_string(),
    };
    let (literal, after) = bracketed.split_once(']').ok_or_else(malformed)?;
    let literal = decode(literal).map_err(|_| malformed())?;
    let address = literal.split_once('%').map_or(literal.as_str(), |(a, _)| a);
    if address.parse::<Ipv6Addr>().is_err() {
        return Err(malformed());
    }
    let port = match after {
        "" => None,
        _ => {
            let port = after.strip_prefix(':').ok_or_else(malformed)?;
            Some(parse_port(port).ok_or_else(|| UriError::Port {
                index,
                host: format!("[{literal}]"),
            })?)
        }
    };
    Ok(HostIdentifier {
        address: ServerAddress::tcp(literal, port.unwrap_or(DEFAULT_PORT)),
        explicit_port: port.is_some(),
    })
}

/// Connection String spec, "Port": an integer between 1 and 65535 inclusive.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|port| *port != 0)
}

/// Connection String spec, "Auth Database": URL decoded; must not contain "/", "\", " ",
/// "\"" or "$" once decoded. Periods are allowed (a namespace may be given).
fn parse_database(text: &str) -> Result<Option<String>, UriError> {
    if text.is_empty() {
        return Ok(None);
    }
    let database = decode(text).map_err(|_| UriError::PercentEncoding("auth database"))?;
    if let Some(c) = database.chars().find(|c| "/\\ \"$".contains(*c)) {
        return Err(UriError::Database(format!(
            "{database:?} contains the prohibited character {c:?}"
        )));
    }
    Ok(Some(database))
}

/// Connection String spec, "Connection Options" and "Key Value Pair": pairs delimited by
/// "&"; the key is everything up to the first "=", the value everything after it; both are
/// URL decoded. Empty segments (e.g. a trailing "&") are skipped. The legacy ";" delimiter
/// is not supported.
pub(crate) fn parse_pairs(query: &str) -> Result<Vec<(String, String)>, UriError> {
    query
        .split('&')
        .enumerate()
        .filter(|(_, segment)| !segment.is_empty())
        .map(|(i, segment)| {
            let (key, value) = segment
                .split_once('=')
                .ok_or(UriError::OptionSyntax(i + 1))?;
            let key = decode(key).map_err(|_| UriError::PercentEncoding("option name"))?;
            let value = decode(value).map_err(|_| UriError::PercentEncoding("option value"))?;
            Ok((key, value))
        })
        .collect()
}

/// Initial DNS Seedlist Discovery spec, "Validation Before Querying DNS": a `mongodb+srv`
/// string has exactly one host name and no port. An IP literal or a socket path cannot be
/// looked up as an SRV record, so they are rejected too.
pub(crate) fn srv_hostname(hosts: Vec<HostIdentifier>) -> Result<String, UriError> {
    let mut hosts = hosts.into_iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return Err(UriError::Srv("exactly one host name is allowed"));
    };
    if host.explicit_port {
        return Err(UriError::Srv("a port is not allowed"));
    }
    match host.address {
        ServerAddress::Tcp { host, .. } if !host.contains(':') => Ok(host.to_string()),
        _ => Err(UriError::Srv(
            "the host must be a host name, not an IP literal or a socket path",
        )),
    }
}

/// Strict percent-decoding: every "%" must be followed by two hexadecimal digits and the
/// result must be UTF-8.
pub(crate) fn decode(text: &str) -> Result<String, ()> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(())?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(());
            }
        }
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|cow| cow.into_owned())
        .map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_is_strict() {
        assert_eq!(decode("a%2Fb").as_deref(), Ok("a/b"));
        assert!(decode("a%2").is_err());
        assert!(decode("a%zz").is_err());
        assert!(decode("%ff").is_err());
    }

    #[test]
    fn splits_the_reference_example() {
        let raw =
            split("mongodb://foo:bar%3A@mongodb.example.com,%2Ftmp%2Fmongodb-27018.sock/admin?w=1")
                .unwrap();
        assert_eq!(raw.userinfo, Some(("foo".into(), Some("bar:".into()))));
        assert_eq!(raw.hosts.len(), 2);
        assert_eq!(raw.database.as_deref(), Some("admin"));
        assert_eq!(raw.pairs, vec![("w".into(), "1".into())]);
    }
}
