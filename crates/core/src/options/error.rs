//! Why a connection string is rejected ([`UriError`]) and what was ignored while parsing
//! it ([`UriWarning`]).
//!
//! Neither ever contains a password or another secret: userinfo is never echoed, port
//! text is never echoed (a mis-encoded password can end up there), and values of secret
//! options or of unknown options are never echoed.

use std::fmt;

/// A connection string that cannot be used. The message says which part is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The string is empty.
    #[error("connection string is empty")]
    Empty,
    /// The string does not start with `mongodb://` or `mongodb+srv://`.
    #[error("scheme: a connection string must start with \"mongodb://\" or \"mongodb+srv://\"")]
    Scheme,
    /// There is no host after the scheme.
    #[error("host information: at least one host is required")]
    MissingHost,
    /// The host information starts with an unescaped `/`.
    #[error(
        "host information: unescaped \"/\"; UNIX domain socket paths must be URL encoded \
         (e.g. %2Ftmp%2Fmongodb-27017.sock)"
    )]
    UnescapedSlash,
    /// A host identifier is malformed; `index` counts from 1.
    #[error("host {index}: {reason}")]
    Host {
        /// Position of the host in the host list, from 1.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A host identifier's port is not an integer from 1 to 65535. The port text is not
    /// repeated.
    #[error("host {index} ({host}): port must be an integer from 1 to 65535")]
    Port {
        /// Position of the host in the host list, from 1.
        index: usize,
        /// The host part, before the port.
        host: String,
    },
    /// The userinfo (before `@`) is malformed. It is never repeated in the message.
    #[error("userinfo: {0}; the username and password must be URL encoded")]
    Userinfo(&'static str),
    /// The auth database part is malformed.
    #[error("auth database: {0}")]
    Database(String),
    /// A part of the string has a `%` not followed by two hexadecimal digits, or decodes
    /// to something that is not UTF-8.
    #[error("{0}: invalid percent-encoding")]
    PercentEncoding(&'static str),
    /// A `mongodb+srv://` string breaks a rule of the Initial DNS Seedlist Discovery spec.
    #[error("mongodb+srv: {0}")]
    Srv(&'static str),
    /// A connection option is given without `=`; the number counts the "&"-separated
    /// options from 1. The text is not repeated: it may be a mistyped secret.
    #[error("option {0}: expected key=value")]
    OptionSyntax(usize),
    /// Options that must not be combined, or an option that needs another.
    #[error("options: {0}")]
    Combination(String),
    /// `authSource=` with an empty value (Authentication spec: an error, with or without
    /// credentials).
    #[error("authSource: the authentication database must not be empty")]
    EmptyAuthSource,
}

/// Something ignored while parsing: the string is still usable. The Connection String and
/// URI Options specs require a WARN-level message in each of these cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriWarning {
    /// An option this crate does not know ("Unsupported option 'connectMS'.").
    UnknownOption {
        /// The key as written.
        key: String,
    },
    /// A known option with a value that does not fit its type; the option is ignored.
    InvalidValue {
        /// The option's canonical name.
        option: &'static str,
        /// The value as written, or `None` when the option is secret.
        value: Option<String>,
        /// What was expected.
        reason: String,
    },
    /// A non-list option given more than once; the last valid value is used.
    Repeated {
        /// The option's canonical name.
        option: &'static str,
    },
}

impl fmt::Display for UriWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriWarning::UnknownOption { key } => write!(f, "Unsupported option {key:?}"),
            UriWarning::InvalidValue {
                option,
                value: Some(value),
                reason,
            } => write!(
                f,
                "Unsupported value for {option:?} : {value:?} ({reason}); option ignored"
            ),
            UriWarning::InvalidValue {
                option,
                value: None,
                reason,
            } => write!(
                f,
                "Unsupported value for {option:?} ({reason}); option ignored"
            ),
            UriWarning::Repeated { option } => write!(
                f,
                "option {option:?} given more than once; the last valid value is used"
            ),
        }
    }
}
