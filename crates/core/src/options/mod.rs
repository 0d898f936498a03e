//! Connection strings (`mongodb://` and `mongodb+srv://`) and URI options, pure: no I/O,
//! no DNS, no clock.
//!
//! [`ConnectionString::parse`] follows the Connection String spec for the syntax, the URI
//! Options spec for the options (every option in its table, plus `timeoutMS`), and the
//! Initial DNS Seedlist Discovery spec for the rules of `mongodb+srv` that apply before any
//! DNS query. The result exposes typed accessors (see `accessors.rs`), the list of every
//! option that was set under its canonical name ([`ConnectionString::options`]), and the
//! warnings raised while parsing ([`ConnectionString::warnings`]).
//!
//! Choices left to drivers by the specs, as made here:
//! - Invalid option values are ignored with a warning, as the Connection String spec says;
//!   the deprecated alternative booleans ("1", "yes", "t", ...) are treated as invalid.
//! - A repeated non-list option keeps its last valid value and records a warning; `tls`
//!   and its alias `ssl` must agree, and each SOCKS5 proxy option may appear only once.
//! - The delimiter ";" between options is not supported, nor "+" as an encoded space.
//! - TLS is enabled by `tls=true` (or `ssl=true`) and by the `mongodb+srv` scheme; other
//!   `tls*` options do not enable it implicitly.
//! - `maxStalenessSeconds` accepts -1 and any positive value; the minimum of 90 seconds is
//!   enforced by server selection, as the Max Staleness spec's "No validation" test wants.
//!
//! Secrets (the password, `tlsCertificateKeyFilePassword`, `proxyPassword` and secret
//! `authMechanismProperties` such as `AWS_SESSION_TOKEN`) are held in [`Secret`] and never
//! appear in `Debug`, `Display`, errors, warnings or logs.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::address::ServerAddress;

mod accessors;
mod assemble;
mod catalog;
mod error;
mod parse;
mod redact;
pub mod srv;
mod tags;
mod validate;
mod values;

pub use error::{UriError, UriWarning};

pub use tags::TagSet;

/// A parsed connection string: seeds (or the SRV host name), credentials, auth database and
/// options. Built by [`ConnectionString::parse`] or [`str::parse`].
///
/// `Display` renders the URI with secrets replaced by `*****`; `Debug` is redacted too.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    srv_hostname: Option<String>,
    hosts: Vec<ServerAddress>,
    username: Option<String>,
    password: Option<Secret>,
    database: Option<String>,
    options: Vec<(&'static str, OptionValue)>,
    warnings: Vec<UriWarning>,
}

/// The value of one URI option, typed by its row in the URI Options spec's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// A boolean option.
    Bool(bool),
    /// An integer option (also `w` when it is a number).
    Int(i64),
    /// A string option (also `w` when it is not a number).
    String(String),
    /// A secret string option such as `tlsCertificateKeyFilePassword`.
    Secret(Secret),
    /// A list of strings (`compressors`).
    List(Vec<String>),
    /// Key-value pairs (`authMechanismProperties`).
    Properties(AuthMechanismProperties),
    /// Read preference tag sets, in the order given (`readPreferenceTags`).
    TagSets(Vec<TagSet>),
}

/// A string that must never be shown: `Debug` and `Display` print `*****`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn new(text: &str) -> Self {
        Secret(text.to_string())
    }

    /// The secret text itself, for the code that must use it (authentication, TLS).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(redact::MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(redact::MASK)
    }
}

/// The `authMechanismProperties` option: property name to value, names as written.
///
/// `Debug` hides the values of secret properties (see
/// [`AuthMechanismProperties::is_secret_property`]).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthMechanismProperties(BTreeMap<String, String>);

impl AuthMechanismProperties {
    pub(crate) fn new(pairs: Vec<(String, String)>) -> Self {
        AuthMechanismProperties(pairs.into_iter().collect())
    }

    /// The value of a property, e.g. `get("SERVICE_NAME")`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Every property, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a property carries a credential (`AWS_SESSION_TOKEN`, or any name containing
    /// `TOKEN`, `SECRET` or `PASSWORD`) and must never be shown.
    pub fn is_secret_property(name: &str) -> bool {
        let name = name.to_ascii_uppercase();
        ["TOKEN", "SECRET", "PASSWORD"]
            .iter()
            .any(|word| name.contains(word))
    }
}

/// The credential given by a connection string: the userinfo plus the `authSource`,
/// `authMechanism` and `authMechanismProperties` options. The mechanism-specific defaults
/// of the Authentication spec (e.g. `$external`) are left to the authentication code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The percent-decoded username.
    pub username: Option<String>,
    /// The percent-decoded password (`Some("")` for `user:@host`).
    pub password: Option<Secret>,
    /// `authSource`, or else the auth database from the path.
    pub source: Option<String>,
    /// `authMechanism`, as written.
    pub mechanism: Option<String>,
    /// `authMechanismProperties`.
    pub mechanism_properties: AuthMechanismProperties,
}

impl ConnectionString {
    /// Parses and validates a connection string. Invalid option values and unknown options
    /// are ignored and reported by [`ConnectionString::warnings`] (and logged at WARN level,
    /// without secrets); malformed syntax and forbidden option combinations are errors.
    ///
    /// ```
    /// use mongo_topology_core::options::ConnectionString;
    ///
    /// let uri = ConnectionString::parse(
    ///     "mongodb://app:s3cret@db1.example.com,db2.example.com:27018/shop\
    ///      ?replicaSet=rs0&readPreference=secondaryPreferred&readPreferenceTags=dc:ny",
    /// )?;
    /// assert_eq!(uri.hosts().len(), 2);
    /// assert_eq!(uri.replica_set(), Some("rs0"));
    /// assert_eq!(uri.read_preference_tags()[0]["dc"], "ny");
    /// assert_eq!(
    ///     uri.to_string(),
    ///     "mongodb://app:*****@db1.example.com:27017,db2.example.com:27018/shop\
    ///      ?replicaSet=rs0&readPreference=secondaryPreferred&readPreferenceTags=dc:ny"
    /// );
    /// assert!(ConnectionString::parse("mongodb://a,b/?directConnection=true").is_err());
    /// # Ok::<(), mongo_topology_core::options::UriError>(())
    /// ```
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let raw = parse::split(uri)?;
        let mut warnings = Vec::new();
        let options = assemble::assemble(raw.pairs, &mut warnings)?;
        let (hosts, srv_hostname) = if raw.srv {
            (Vec::new(), Some(parse::srv_hostname(raw.hosts)?))
        } else {
            (raw.hosts.into_iter().map(|h| h.address).collect(), None)
        };
        let (username, password) = match raw.userinfo {
            Some((user, password)) => (Some(user), password.map(|p| Secret::new(&p))),
            None => (None, None),
        };
        let parsed = ConnectionString {
            srv_hostname,
            hosts,
            username,
            password,
            database: raw.database,
            options,
            warnings,
        };
        validate::validate(&parsed)?;
        for warning in &parsed.warnings {
            tracing::warn!(uri = %parsed, "{warning}");
        }
        Ok(parsed)
    }
}

impl FromStr for ConnectionString {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConnectionString::parse(s)
    }
}
