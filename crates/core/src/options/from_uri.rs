//! Parsing a connection string from end to end: split its syntax (`parse.rs`), assemble the
//! options by the catalog (`assemble.rs`), then check the rules across options
//! (`validate.rs`).

use std::str::FromStr;

use super::assemble::assemble;
use super::connection_string::ConnectionString;
use super::error::UriError;
use super::parse;
use super::secret::Secret;
use super::validate::validate;

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
        let options = assemble(raw.pairs, &mut warnings)?;
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
        validate(&parsed)?;
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
