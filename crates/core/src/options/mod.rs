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

mod accessors;
mod assemble;
mod catalog;
mod connection_string;
mod credential;
mod error;
mod from_uri;
mod kind;
mod option_value;
mod parse;
mod redact;
mod secret;
pub mod srv;
mod tags;
mod validate;
mod values;

pub use connection_string::ConnectionString;
pub use credential::{AuthMechanismProperties, Credential};
pub use error::{UriError, UriWarning};
pub use option_value::OptionValue;
pub use secret::Secret;
pub use tags::TagSet;

/// Every option name a connection string may use: the canonical names of the URI Options
/// spec's table (as spelled there, e.g. `replicaSet`), then the aliases (`ssl`). What a
/// "did you mean" suggestion for an unknown key is measured against.
pub fn known_option_names() -> impl Iterator<Item = &'static str> {
    catalog::OPTIONS
        .iter()
        .map(|spec| spec.name)
        .chain(catalog::ALIASES.iter().map(|(alias, _)| *alias))
}
