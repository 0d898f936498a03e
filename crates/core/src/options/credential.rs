//! The credential a connection string gives, and its `authMechanismProperties`.

use std::collections::BTreeMap;

use super::secret::Secret;

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
