//! Server addresses: the identity of a server in a topology.
//!
//! SDAM identifies servers by the address the client connects to, with host names
//! normalised to lower case and the port made explicit (27017 when absent). Unix domain
//! sockets are identified by their path.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The port a MongoDB server listens on when none is given.
pub const DEFAULT_PORT: u16 = 27017;

/// Where a server is reached: a TCP host and port, or a Unix domain socket path.
///
/// Two addresses are equal when they name the same host (case-insensitively, already
/// lower-cased here) and port. Ordering is lexicographic on the display form's parts, which
/// gives deterministic iteration order over servers.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerAddress {
    /// A TCP endpoint. `host` is lower case; an IPv6 literal is stored without brackets.
    Tcp {
        /// Host name, IPv4 literal, or IPv6 literal (without brackets), lower case. Shared,
        /// so that copying an address (every snapshot of the topology copies every server's)
        /// allocates nothing.
        host: Arc<str>,
        /// TCP port.
        port: u16,
    },
    /// A Unix domain socket, identified by its (percent-decoded) path.
    Unix {
        /// Filesystem path of the socket, e.g. `/tmp/mongodb-27017.sock`.
        path: Arc<str>,
    },
}

/// Why a string is not a valid server address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The address is empty.
    #[error("empty host")]
    Empty,
    /// The port part is not a number from 1 to 65535.
    #[error("invalid port {port:?} in {address:?}: expected a number from 1 to 65535")]
    InvalidPort {
        /// The whole address as given.
        address: String,
        /// The port text as given.
        port: String,
    },
    /// An IPv6 literal is missing its closing bracket, or has text after it that is not `:port`.
    #[error("malformed IPv6 literal in {0:?}: expected [address] or [address]:port")]
    MalformedIpv6(String),
    /// An IPv6 literal was given without brackets, or a host contains characters not
    /// allowed in a host name.
    #[error("invalid host {0:?}")]
    InvalidHost(String),
}

impl ServerAddress {
    /// A TCP address; the host is lower-cased.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        ServerAddress::Tcp {
            host: host.into().to_ascii_lowercase().into(),
            port,
        }
    }

    /// Parses `host`, `host:port`, `[ipv6]` or `[ipv6]:port`; a path (containing `/`) ending
    /// in `.sock` is a Unix domain socket. The host is lower-cased and the port defaults to
    /// 27017. (Connection strings percent-encode socket paths; `options` decodes them.)
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        if text.is_empty() {
            return Err(AddressError::Empty);
        }
        if text.contains('/') && text.ends_with(".sock") {
            return Ok(ServerAddress::Unix { path: text.into() });
        }
        if let Some(rest) = text.strip_prefix('[') {
            let Some((literal, after)) = rest.split_once(']') else {
                return Err(AddressError::MalformedIpv6(text.to_string()));
            };
            if literal.is_empty() {
                return Err(AddressError::MalformedIpv6(text.to_string()));
            }
            let port = match after {
                "" => DEFAULT_PORT,
                _ => match after.strip_prefix(':') {
                    Some(port) => parse_port(text, port)?,
                    None => return Err(AddressError::MalformedIpv6(text.to_string())),
                },
            };
            return Ok(ServerAddress::tcp(literal, port));
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, parse_port(text, port)?),
            None => (text, DEFAULT_PORT),
        };
        if host.is_empty() {
            return Err(AddressError::Empty);
        }
        if host.contains(':') {
            // An IPv6 literal must be bracketed; several colons otherwise are ambiguous.
            return Err(AddressError::InvalidHost(text.to_string()));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '@' | '#'))
        {
            return Err(AddressError::InvalidHost(text.to_string()));
        }
        Ok(ServerAddress::tcp(host, port))
    }

    /// The host part of a TCP address, or the path of a Unix socket.
    pub fn host(&self) -> &str {
        match self {
            ServerAddress::Tcp { host, .. } => host,
            ServerAddress::Unix { path } => path,
        }
    }

    /// The port of a TCP address; `None` for a Unix socket.
    pub fn port(&self) -> Option<u16> {
        match self {
            ServerAddress::Tcp { port, .. } => Some(*port),
            ServerAddress::Unix { .. } => None,
        }
    }
}

fn parse_port(address: &str, port: &str) -> Result<u16, AddressError> {
    let invalid = || AddressError::InvalidPort {
        address: address.to_string(),
        port: port.to_string(),
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid()),
        Ok(n) => Ok(n),
    }
}

impl FromStr for ServerAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServerAddress::parse(s)
    }
}

impl fmt::Display for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerAddress::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            ServerAddress::Tcp { host, port } => write!(f, "{host}:{port}"),
            ServerAddress::Unix { path } => f.write_str(path),
        }
    }
}

impl fmt::Debug for ServerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            ServerAddress::parse("A.Example.COM").unwrap(),
            ServerAddress::tcp("a.example.com", 27017)
        );
        assert_eq!(
            ServerAddress::parse("a:1234").unwrap().to_string(),
            "a:1234"
        );
        assert_eq!(
            ServerAddress::parse("[::1]:27018").unwrap().to_string(),
            "[::1]:27018"
        );
        assert_eq!(
            ServerAddress::parse("[::1]").unwrap().port(),
            Some(DEFAULT_PORT)
        );
        assert_eq!(
            ServerAddress::parse("mongodb-27017.sock").unwrap(),
            ServerAddress::tcp("mongodb-27017.sock", 27017)
        );
        assert_eq!(
            ServerAddress::parse("/tmp/mongodb-27017.sock").unwrap(),
            ServerAddress::Unix {
                path: "/tmp/mongodb-27017.sock".into()
            }
        );
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "", "a:", "a:0", "a:65536", "a:x", "[::1", "[::1]x", "::1", "a b:1", ":27017",
        ] {
            assert!(
                ServerAddress::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
