//! The [`ConnectionString`] type. It is built by `from_uri.rs`, read through `accessors.rs`
//! and shown without its secrets by `redact.rs`.

use super::error::UriWarning;
use super::option_value::OptionValue;
use super::secret::Secret;
use crate::address::ServerAddress;

/// A parsed connection string: seeds (or the SRV host name), credentials, auth database and
/// options. Built by [`ConnectionString::parse`] or [`str::parse`].
///
/// `Display` renders the URI with secrets replaced by `*****`; `Debug` is redacted too.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    pub(super) srv_hostname: Option<String>,
    pub(super) hosts: Vec<ServerAddress>,
    pub(super) username: Option<String>,
    pub(super) password: Option<Secret>,
    pub(super) database: Option<String>,
    pub(super) options: Vec<(&'static str, OptionValue)>,
    pub(super) warnings: Vec<UriWarning>,
}
