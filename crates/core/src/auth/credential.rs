//! The credential a client authenticates with, resolved and validated per mechanism as the
//! Authentication spec's "MongoCredential Properties" sections say: default sources
//! (`admin`, the URI database, `$external`), required and forbidden fields, and the
//! mechanism properties each mechanism knows.
//!
//! Only SCRAM-SHA-1 and SCRAM-SHA-256 can be carried out today; the other mechanisms are
//! still parsed and validated, so a connection string naming them is judged as the spec's
//! tests expect.

use std::fmt;

use super::error::CredentialError;
use super::scram_version::ScramVersion;
use crate::options::{AuthMechanismProperties, ConnectionString, Secret};

/// An authentication mechanism of the Authentication spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMechanism {
    /// SCRAM-SHA-1 (RFC 5802 over MongoDB's hashed password).
    ScramSha1,
    /// SCRAM-SHA-256 (RFC 7677).
    ScramSha256,
    /// PLAIN (LDAP proxy authentication).
    Plain,
    /// MONGODB-X509 (client certificate; needs TLS).
    MongoDbX509,
    /// GSSAPI (Kerberos).
    Gssapi,
    /// MONGODB-AWS (IAM credentials).
    MongoDbAws,
    /// MONGODB-OIDC (OpenID Connect tokens).
    MongoDbOidc,
}

impl AuthMechanism {
    /// Every mechanism, in the spec's order.
    pub const ALL: [AuthMechanism; 7] = [
        AuthMechanism::ScramSha1,
        AuthMechanism::ScramSha256,
        AuthMechanism::Plain,
        AuthMechanism::MongoDbX509,
        AuthMechanism::Gssapi,
        AuthMechanism::MongoDbAws,
        AuthMechanism::MongoDbOidc,
    ];

    /// The name used in `authMechanism` and in `saslStart`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMechanism::ScramSha1 => "SCRAM-SHA-1",
            AuthMechanism::ScramSha256 => "SCRAM-SHA-256",
            AuthMechanism::Plain => "PLAIN",
            AuthMechanism::MongoDbX509 => "MONGODB-X509",
            AuthMechanism::Gssapi => "GSSAPI",
            AuthMechanism::MongoDbAws => "MONGODB-AWS",
            AuthMechanism::MongoDbOidc => "MONGODB-OIDC",
        }
    }

    /// The mechanism named `name` (exact spelling), if any.
    pub fn from_name(name: &str) -> Option<AuthMechanism> {
        AuthMechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The SCRAM variant, for the two SCRAM mechanisms.
    pub fn scram_version(self) -> Option<ScramVersion> {
        match self {
            AuthMechanism::ScramSha1 => Some(ScramVersion::Sha1),
            AuthMechanism::ScramSha256 => Some(ScramVersion::Sha256),
            _ => None,
        }
    }
}

impl fmt::Display for AuthMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the caller configured, before defaults and validation.
struct Given<'a> {
    username: Option<&'a str>,
    password: Option<&'a Secret>,
    auth_source: Option<&'a str>,
    database: Option<&'a str>,
    properties: &'a AuthMechanismProperties,
}

/// A resolved, validated credential. `Debug` never shows the password (it is a [`Secret`])
/// nor secret mechanism properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MongoCredential {
    /// The username, as given (never SASLprep'd).
    pub username: Option<String>,
    /// The password.
    pub password: Option<Secret>,
    /// The authentication database, defaults applied.
    pub source: String,
    /// The mechanism; `None`: negotiate SCRAM-SHA-256 or SCRAM-SHA-1 with the server.
    pub mechanism: Option<AuthMechanism>,
    /// The mechanism properties, defaults applied (e.g. GSSAPI's `SERVICE_NAME`).
    pub mechanism_properties: AuthMechanismProperties,
}

impl MongoCredential {
    /// The credential a connection string asks for, or `None` when it asks for no
    /// authentication (no userinfo and no `authMechanism`: an auth database or `authSource`
    /// alone is not a request for authentication).
    pub fn from_connection_string(
        uri: &ConnectionString,
    ) -> Result<Option<MongoCredential>, CredentialError> {
        let Some(credential) = uri.credential() else {
            return Ok(None);
        };
        let mechanism = credential
            .mechanism
            .as_deref()
            .and_then(AuthMechanism::from_name);
        let given = Given {
            username: credential.username.as_deref(),
            password: credential.password.as_ref(),
            auth_source: uri.auth_source(),
            database: uri.default_database(),
            properties: &credential.mechanism_properties,
        };
        resolve(mechanism, &given).map(Some)
    }

    /// A SCRAM credential built in code: `mechanism` `None` negotiates SHA-256 or SHA-1;
    /// `source` `None` is `admin`.
    pub fn scram(
        username: &str,
        password: &str,
        source: Option<&str>,
        mechanism: Option<ScramVersion>,
    ) -> Result<MongoCredential, CredentialError> {
        let password = Secret::new(password);
        let properties = AuthMechanismProperties::default();
        let given = Given {
            username: Some(username),
            password: Some(&password),
            auth_source: source,
            database: None,
            properties: &properties,
        };
        let mechanism = mechanism.map(|v| match v {
            ScramVersion::Sha1 => AuthMechanism::ScramSha1,
            ScramVersion::Sha256 => AuthMechanism::ScramSha256,
        });
        resolve(mechanism, &given)
    }

    /// The username, or `""`.
    pub fn username_or_empty(&self) -> &str {
        self.username.as_deref().unwrap_or("")
    }
}

fn resolve(
    mechanism: Option<AuthMechanism>,
    given: &Given<'_>,
) -> Result<MongoCredential, CredentialError> {
    let name = mechanism.map_or("SCRAM (default mechanism)", AuthMechanism::name);
    let username = given.username.map(str::to_owned);
    let password = given.password.cloned();
    let external = |given: &Given<'_>| -> Result<String, CredentialError> {
        match given.auth_source {
            None | Some("$external") => Ok("$external".to_owned()),
            Some(other) => Err(CredentialError::InvalidSource {
                mechanism: name,
                required: "$external",
                given: other.to_owned(),
            }),
        }
    };
    let database_or = |default: &str| {
        given
            .auth_source
            .or(given.database)
            .unwrap_or(default)
            .to_owned()
    };
    let mut properties = given.properties.clone();
    let source = match mechanism {
        None | Some(AuthMechanism::ScramSha1 | AuthMechanism::ScramSha256) => {
            require_username(name, given)?;
            require_password(name, given)?;
            no_properties(name, given)?;
            database_or("admin")
        }
        Some(AuthMechanism::Plain) => {
            require_username(name, given)?;
            require_password(name, given)?;
            no_properties(name, given)?;
            database_or("$external")
        }
        Some(AuthMechanism::MongoDbX509) => {
            forbid_password(name, given)?;
            no_properties(name, given)?;
            external(given)?
        }
        Some(AuthMechanism::Gssapi) => {
            require_username(name, given)?;
            properties = gssapi_properties(given.properties)?;
            external(given)?
        }
        Some(AuthMechanism::MongoDbAws) => {
            aws_checks(given)?;
            external(given)?
        }
        Some(AuthMechanism::MongoDbOidc) => {
            forbid_password(name, given)?;
            oidc_checks(given)?;
            external(given)?
        }
    };
    Ok(MongoCredential {
        username,
        password,
        source,
        mechanism,
        mechanism_properties: properties,
    })
}

fn require_username(mechanism: &'static str, given: &Given<'_>) -> Result<(), CredentialError> {
    match given.username {
        Some(name) if !name.is_empty() => Ok(()),
        _ => Err(CredentialError::MissingUsername { mechanism }),
    }
}

fn require_password(mechanism: &'static str, given: &Given<'_>) -> Result<(), CredentialError> {
    match given.password {
        Some(_) => Ok(()),
        None => Err(CredentialError::MissingPassword { mechanism }),
    }
}

fn forbid_password(mechanism: &'static str, given: &Given<'_>) -> Result<(), CredentialError> {
    match given.password {
        Some(_) => Err(CredentialError::UnexpectedPassword { mechanism }),
        None => Ok(()),
    }
}

fn no_properties(mechanism: &'static str, given: &Given<'_>) -> Result<(), CredentialError> {
    match given.properties.iter().next() {
        Some((property, _)) => Err(CredentialError::UnsupportedProperty {
            mechanism,
            property: property.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Only `allowed` properties (names compared case-insensitively, as the spec says).
fn only_properties(
    mechanism: &'static str,
    properties: &AuthMechanismProperties,
    allowed: &[&str],
) -> Result<(), CredentialError> {
    for (name, _) in properties.iter() {
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            return Err(CredentialError::UnsupportedProperty {
                mechanism,
                property: name.to_owned(),
            });
        }
    }
    Ok(())
}

/// The value of property `name`, its name compared case-insensitively.
fn property<'a>(properties: &'a AuthMechanismProperties, name: &str) -> Option<&'a str> {
    properties
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn invalid(mechanism: &'static str, property: &str, value: &str) -> CredentialError {
    let secret = AuthMechanismProperties::is_secret_property(property);
    CredentialError::InvalidProperty {
        mechanism,
        property: property.to_owned(),
        value: (!secret).then(|| value.to_owned()),
    }
}

/// GSSAPI: `SERVICE_NAME` (default "mongodb"), `CANONICALIZE_HOST_NAME` (none, forward,
/// forwardAndReverse, or the legacy true/false), `SERVICE_REALM`, `SERVICE_HOST`.
fn gssapi_properties(
    given: &AuthMechanismProperties,
) -> Result<AuthMechanismProperties, CredentialError> {
    const NAME: &str = "GSSAPI";
    only_properties(
        NAME,
        given,
        &[
            "SERVICE_NAME",
            "CANONICALIZE_HOST_NAME",
            "SERVICE_REALM",
            "SERVICE_HOST",
        ],
    )?;
    if let Some(value) = property(given, "CANONICALIZE_HOST_NAME") {
        let known = ["none", "forward", "forwardAndReverse", "true", "false"];
        if !known.contains(&value) {
            return Err(invalid(NAME, "CANONICALIZE_HOST_NAME", value));
        }
    }
    let mut pairs: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if property(given, "SERVICE_NAME").is_none() {
        pairs.push(("SERVICE_NAME".to_owned(), "mongodb".to_owned()));
    }
    Ok(AuthMechanismProperties::new(pairs))
}

/// MONGODB-AWS: username (access key id) and password (secret key) both or neither;
/// `AWS_SESSION_TOKEN` only with both.
fn aws_checks(given: &Given<'_>) -> Result<(), CredentialError> {
    const NAME: &str = "MONGODB-AWS";
    only_properties(NAME, given.properties, &["AWS_SESSION_TOKEN"])?;
    match (given.username, given.password) {
        (Some(_), None) => return Err(CredentialError::MissingPassword { mechanism: NAME }),
        (None, Some(_)) => return Err(CredentialError::MissingUsername { mechanism: NAME }),
        _ => {}
    }
    if property(given.properties, "AWS_SESSION_TOKEN").is_some() && given.username.is_none() {
        return Err(CredentialError::MissingUsername { mechanism: NAME });
    }
    Ok(())
}

/// MONGODB-OIDC from a connection string: `ENVIRONMENT` is required (callbacks cannot be
/// given in a URI) and one of test, azure, gcp, k8s; `TOKEN_RESOURCE` exactly for azure and
/// gcp; a username only for azure (its managed identity's client id).
fn oidc_checks(given: &Given<'_>) -> Result<(), CredentialError> {
    const NAME: &str = "MONGODB-OIDC";
    only_properties(NAME, given.properties, &["ENVIRONMENT", "TOKEN_RESOURCE"])?;
    let Some(environment) = property(given.properties, "ENVIRONMENT") else {
        return Err(CredentialError::MissingProperty {
            mechanism: NAME,
            property: "ENVIRONMENT",
        });
    };
    let needs_resource = match environment {
        "azure" | "gcp" => true,
        "test" | "k8s" => false,
        other => return Err(invalid(NAME, "ENVIRONMENT", other)),
    };
    match (needs_resource, property(given.properties, "TOKEN_RESOURCE")) {
        (true, None) => {
            return Err(CredentialError::MissingProperty {
                mechanism: NAME,
                property: "TOKEN_RESOURCE",
            })
        }
        (false, Some(value)) => return Err(invalid(NAME, "TOKEN_RESOURCE", value)),
        _ => {}
    }
    if given.username.is_some() && environment != "azure" {
        return Err(CredentialError::UnexpectedUsername {
            mechanism: NAME,
            detail: format!(" with ENVIRONMENT {environment}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let uri = ConnectionString::parse("mongodb://bob:s3cr3t-pw@db1/shop").unwrap();
        let credential = MongoCredential::from_connection_string(&uri)
            .unwrap()
            .unwrap();
        assert_eq!(credential.source, "shop");
        assert_eq!(credential.mechanism, None);
        let shown = format!("{credential:?}");
        assert!(
            shown.contains("bob") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }

    #[test]
    fn scram_credentials_built_in_code_need_a_username() {
        assert_eq!(
            MongoCredential::scram("", "pw", None, None),
            Err(CredentialError::MissingUsername {
                mechanism: "SCRAM (default mechanism)"
            })
        );
        let named = MongoCredential::scram("u", "pw", Some("db"), Some(ScramVersion::Sha1));
        assert_eq!(
            named.map(|c| (c.source, c.mechanism)),
            Ok(("db".into(), Some(AuthMechanism::ScramSha1)))
        );
    }

    #[test]
    fn mechanism_property_names_are_case_insensitive() {
        let resolve = |uri: &str| {
            MongoCredential::from_connection_string(&ConnectionString::parse(uri).unwrap())
        };
        let credential = resolve(
            "mongodb://user@h/?authMechanism=GSSAPI\
             &authMechanismProperties=service_name:other,canonicalize_host_name:forward",
        )
        .unwrap()
        .unwrap();
        let service_names: Vec<(&str, &str)> = credential
            .mechanism_properties
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("SERVICE_NAME"))
            .collect();
        assert_eq!(
            service_names,
            vec![("service_name", "other")],
            "no default added"
        );
        assert!(matches!(
            resolve(
                "mongodb://user@h/?authMechanism=GSSAPI\
                 &authMechanismProperties=canonicalize_host_name:sometimes"
            ),
            Err(CredentialError::InvalidProperty { .. })
        ));
    }
}
