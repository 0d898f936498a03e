//! The exporter's configuration file: TOML with one `[[deployment]]` table per deployment.
//!
//! ```toml
//! [[deployment]]
//! name = "orders"                      # the `deployment` label: unique, not empty
//! uri = "mongodb://db1:27017/?replicaSet=rs0"
//!
//! [[deployment]]
//! name = "billing"
//! uri_file = "/etc/mongo-topology/billing.uri"   # the string in a file (credentials stay out
//!                                                # of the configuration)
//! [[deployment]]
//! name = "search"
//! uri_env = "SEARCH_MONGODB_URI"       # or in an environment variable
//! ```
//!
//! Exactly one of `uri`, `uri_file` and `uri_env` per deployment. Connection strings are
//! never shown: errors name the deployment and the field, and a TOML syntax error gives its
//! line and message without quoting the line (it may hold a password).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    deployment: Vec<Entry>,
}

/// One `[[deployment]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    uri: Option<String>,
    uri_file: Option<PathBuf>,
    uri_env: Option<String>,
}

/// One deployment to monitor: its name and its connection string.
#[derive(Clone, PartialEq, Eq)]
pub struct DeploymentConfig {
    /// The `deployment` label of its series.
    pub name: String,
    /// The connection string (never printed: it may hold credentials).
    pub uri: String,
}

impl fmt::Debug for DeploymentConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("DeploymentConfig")
            .field("name", &self.name)
            .field("uri", &"<hidden>")
            .finish()
    }
}

/// The longest deployment name accepted, in bytes.
const MAX_NAME: usize = 200;

/// Reads and checks the configuration at `path`: the deployments in file order, or one
/// line saying what is wrong (without any connection string).
pub fn load(path: &Path) -> Result<Vec<DeploymentConfig>, String> {
    let bytes =
        std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    from_bytes(path, &bytes)
}

/// Checks the configuration read from `path` as `bytes` (see [`load`]).
pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Vec<DeploymentConfig>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| format!("cannot read {}: not UTF-8 ({error})", path.display()))?;
    parse(
        text,
        |name| std::env::var(name).ok(),
        |file| {
            std::fs::read_to_string(file)
                .map_err(|error| format!("cannot read {}: {error}", file.display()))
        },
    )
}

/// Parses `text`, taking `uri_env` values from `env` and `uri_file` contents from `read`.
pub fn parse(
    text: &str,
    env: impl Fn(&str) -> Option<String>,
    read: impl Fn(&Path) -> Result<String, String>,
) -> Result<Vec<DeploymentConfig>, String> {
    let file: File = toml::from_str(text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        match line {
            Some(line) => format!("invalid configuration at line {line}: {}", error.message()),
            None => format!("invalid configuration: {}", error.message()),
        }
    })?;
    let mut names = HashSet::new();
    let mut deployments = Vec::with_capacity(file.deployment.len());
    for (index, entry) in file.deployment.into_iter().enumerate() {
        let name = entry.name;
        let which = format!("deployment {} ({:?})", index + 1, name);
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(format!("{which}: name must be 1 to {MAX_NAME} bytes"));
        }
        if !names.insert(name.clone()) {
            return Err(format!("{which}: another deployment has this name"));
        }
        let uri = match (entry.uri, entry.uri_file, entry.uri_env) {
            (Some(uri), None, None) => uri,
            (None, Some(file), None) => read(&file).map_err(|error| format!("{which}: {error}"))?,
            (None, None, Some(variable)) => env(&variable).ok_or_else(|| {
                format!("{which}: the environment variable {variable:?} is not set (or not UTF-8)")
            })?,
            _ => {
                return Err(format!(
                    "{which}: give exactly one of uri, uri_file and uri_env"
                ))
            }
        };
        deployments.push(DeploymentConfig {
            name,
            uri: uri.trim().to_string(),
        });
    }
    Ok(deployments)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-pw";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn no_files(path: &Path) -> Result<String, String> {
        Err(format!("no file {}", path.display()))
    }

    #[test]
    fn each_source_of_a_connection_string_is_read() {
        let text = r#"
            [[deployment]]
            name = "a"
            uri = "mongodb://u:s3cr3t-pw@a:27017/"
            [[deployment]]
            name = "b"
            uri_file = "/b.uri"
            [[deployment]]
            name = "c"
            uri_env = "C_URI"
        "#;
        let deployments = parse(
            text,
            |name| (name == "C_URI").then(|| "mongodb://c:1/".to_string()),
            |path| {
                assert_eq!(path, Path::new("/b.uri"));
                Ok("mongodb://b:1/\n".to_string())
            },
        )
        .unwrap();
        let uris: Vec<(&str, &str)> = deployments
            .iter()
            .map(|deployment| (deployment.name.as_str(), deployment.uri.as_str()))
            .collect();
        assert_eq!(
            uris,
            [
                ("a", "mongodb://u:s3cr3t-pw@a:27017/"),
                ("b", "mongodb://b:1/"),
                ("c", "mongodb://c:1/")
            ]
        );
        assert!(!format!("{deployments:?}").contains(SECRET));
    }

    #[test]
    fn errors_name_the_deployment_and_never_show_the_uri() {
        let cases = [
            (
                "[[deployment]]\nname = \"a\"\nuri = \"mongodb://u:s3cr3t-pw@a/\"\nuri_env = \"X\"\n",
                "exactly one of",
            ),
            (
                "[[deployment]]\nname = \"a\"\nuri = \"mongodb://u:s3cr3t-pw@a/\"\n[[deployment]]\nname = \"a\"\nuri = \"mongodb://b/\"\n",
                "another deployment",
            ),
            ("[[deployment]]\nname = \"\"\nuri = \"mongodb://u:s3cr3t-pw@a/\"\n", "name must"),
            (
                "[[deployment]]\nname = \"a\"\nuri = \"mongodb://u:s3cr3t-pw@a/\nport = 1\n",
                "line 3",
            ),
            (
                "[[deployment]]\nname = \"a\"\nuri = \"mongodb://u:s3cr3t-pw@a/\"\npassword = 1\n",
                "invalid configuration",
            ),
            ("[[deployment]]\nname = \"a\"\nuri_env = \"NOPE\"\n", "NOPE"),
            ("[[deployment]]\nname = \"a\"\nuri_file = \"/nope\"\n", "/nope"),
        ];
        for (text, expected) in cases {
            let error = parse(text, no_env, no_files).unwrap_err();
            assert!(error.contains(expected), "{error:?} for {text:?}");
            assert!(!error.contains(SECRET), "{error:?}");
        }
    }

    #[test]
    fn an_empty_file_has_no_deployment() {
        assert!(parse("", no_env, no_files).unwrap().is_empty());
    }
}
