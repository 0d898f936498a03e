//! From the command line's connection string to the settings a cluster runs with: parsing,
//! and for `mongodb+srv://` the SRV and TXT lookups (at the system's resolver, or at the
//! name server given with `--dns-server`). Shared by `discover`, `select` and `watch`;
//! [`UriSource`] is where each of them takes the connection string from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;

use mongo_topology::options::srv::SrvRecord;
use mongo_topology::options::ConnectionString;
use mongo_topology::read_bounded_text;
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

/// Where the connection string comes from, shared by every command that takes one: the
/// argument, or `--uri-file`, else the `MONGODB_URI` environment variable. A command adopts
/// it with `#[command(flatten)] uri: UriSource` and reads it with [`UriSource::text`].
#[derive(Debug, Args)]
pub struct UriSource {
    /// The connection string (default: the MONGODB_URI environment variable). Credentials
    /// are never printed.
    pub uri: Option<String>,
    /// Read the connection string from this file instead (a regular file of at most 1 MiB;
    /// a trailing newline is ignored). It keeps credentials out of the process list, and
    /// holds strings longer than one argument may be (128 KiB), such as 10,000 hosts.
    #[arg(long, value_name = "PATH")]
    pub uri_file: Option<PathBuf>,
}

impl UriSource {
    /// The connection string: from the argument, from `--uri-file`, else from
    /// `MONGODB_URI`; an error (one line, for exit status 1) when given both as an
    /// argument and with `--uri-file`, or when the file cannot be read. No message shows
    /// the string or the file's content.
    pub fn text(&self) -> Result<String, String> {
        match (&self.uri, &self.uri_file) {
            (Some(_), Some(_)) => Err(
                "the connection string is given both as an argument and with --uri-file: \
                 give it one way"
                    .to_string(),
            ),
            (None, Some(path)) => uri_from_file(path),
            (argument, None) => uri_text(argument.as_deref()),
        }
    }
}

/// The connection string in the file at `path`, read bounded (a regular file of at most
/// `MAX_FILE_BYTES`), without its trailing newline (`\n` or `\r\n`).
fn uri_from_file(path: &Path) -> Result<String, String> {
    let refused = |reason: &str| {
        format!(
            "cannot read the connection string from --uri-file {}: {reason}",
            path.display()
        )
    };
    let text = read_bounded_text(path).map_err(|reason| refused(&reason))?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.trim().is_empty() {
        return Err(refused("the file holds no connection string"));
    }
    if line.contains('\n') {
        return Err(refused(
            "the file holds more than one line: it must hold the connection string alone",
        ));
    }
    Ok(line.to_string())
}

/// The connection string from the argument, else from `MONGODB_URI`. A `MONGODB_URI` that
/// is set but not valid UTF-8 is said to be so (its bytes are not shown: they may hold a
/// password).
pub fn uri_text(argument: Option<&str>) -> Result<String, String> {
    match argument {
        Some(uri) => Ok(uri.to_string()),
        None => match std::env::var("MONGODB_URI") {
            Ok(uri) => Ok(uri),
            Err(std::env::VarError::NotPresent) => Err(
                "no connection string: give one as an argument, with --uri-file or in MONGODB_URI"
                    .to_string(),
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("uri-file-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn from_file(path: &Path) -> Result<String, String> {
        UriSource {
            uri: None,
            uri_file: Some(path.to_path_buf()),
        }
        .text()
    }

    #[test]
    fn ten_thousand_hosts_longer_than_one_argument_are_read_and_parsed() {
        let dir = scratch("hosts");
        let hosts: Vec<String> = (0..10_000)
            .map(|i| format!("mongos-{i:05}.fleet.example.net:27017"))
            .collect();
        let text = format!(
            "mongodb://{}/?heartbeatFrequencyMS=10000\n",
            hosts.join(",")
        );
        // More than the kernel's limit for one argument (MAX_ARG_STRLEN, 128 KiB).
        assert!(text.len() > 128 * 1024, "{} bytes", text.len());
        let path = dir.join("uri");
        std::fs::write(&path, &text).unwrap();
        let read = from_file(&path).unwrap();
        assert_eq!(
            read,
            text.trim_end_matches('\n'),
            "only the newline is trimmed"
        );
        let uri = ConnectionString::parse(&read).unwrap();
        assert_eq!(uri.hosts().len(), 10_000);
        assert_eq!(
            uri.hosts()[9_999].to_string(),
            "mongos-09999.fleet.example.net:27017"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_crlf_is_trimmed_and_an_empty_or_multi_line_file_is_refused() {
        let dir = scratch("lines");
        let path = dir.join("uri");
        std::fs::write(&path, "mongodb://a:1\r\n").unwrap();
        assert_eq!(from_file(&path).unwrap(), "mongodb://a:1");
        std::fs::write(&path, "mongodb://a:1").unwrap();
        assert_eq!(from_file(&path).unwrap(), "mongodb://a:1");
        std::fs::write(&path, "\n").unwrap();
        let error = from_file(&path).unwrap_err();
        assert!(error.contains("holds no connection string"), "{error}");
        std::fs::write(&path, "mongodb://u:hunter2@a:1\nmongodb://b:1\n").unwrap();
        let error = from_file(&path).unwrap_err();
        assert!(error.contains("more than one line"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        std::fs::write(&path, b"mongodb://u:\xff@a:1").unwrap();
        let error = from_file(&path).unwrap_err();
        assert!(error.contains("not UTF-8"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_a_device_a_missing_or_huge_file_is_refused_clearly() {
        let dir = scratch("special");
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // A FIFO with no writer would block a plain read forever: refused from its metadata.
        let error = from_file(&fifo).unwrap_err();
        assert!(error.contains("--uri-file"), "{error}");
        assert!(error.contains("not a regular file (a FIFO)"), "{error}");
        let error = from_file(Path::new("/dev/zero")).unwrap_err();
        assert!(
            error.contains("not a regular file (a character device)"),
            "{error}"
        );
        let error = from_file(&dir.join("missing")).unwrap_err();
        assert!(error.contains("No such file"), "{error}");
        let huge = dir.join("huge");
        std::fs::write(&huge, vec![b'a'; 2 * 1024 * 1024]).unwrap();
        let error = from_file(&huge).unwrap_err();
        assert!(error.contains("larger than the limit"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_connection_string_given_both_ways_is_refused_without_showing_it() {
        let both = UriSource {
            uri: Some("mongodb://u:hunter2@a:1".to_owned()),
            uri_file: Some(PathBuf::from("/nonexistent")),
        };
        let error = both.text().unwrap_err();
        assert!(
            error.contains("both as an argument and with --uri-file"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
    }
}
