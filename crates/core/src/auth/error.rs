//! The errors of the pure authentication code. None ever carries a password: a message
//! from the server is summarised, never echoed whole, since it is under the peer's control.

/// Why a SCRAM conversation failed on the client side.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// SASLprep rejected the password (SCRAM-SHA-256): prohibited or unassigned characters.
    #[error("the password cannot be prepared with SASLprep (prohibited or unassigned characters)")]
    InvalidPassword,
    /// A server message is not what the RFC 5802 grammar allows at this step.
    #[error("malformed {step} message from the server: {reason}")]
    Malformed {
        /// `"server-first"` or `"server-final"`.
        step: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The server's nonce does not extend the client's nonce: a replay or a confused peer.
    #[error("the server nonce does not start with the client nonce")]
    NonceMismatch,
    /// The iteration count is below the spec's minimum of 4096 (a downgrade attack).
    #[error("iteration count {count} is below the minimum of {minimum}")]
    IterationCountTooLow {
        /// The count the server asked for.
        count: u32,
        /// [`MIN_ITERATION_COUNT`](super::MIN_ITERATION_COUNT).
        minimum: u32,
    },
    /// The iteration count is above [`MAX_ITERATION_COUNT`](super::MAX_ITERATION_COUNT):
    /// deriving the key would cost the client seconds of CPU per connection.
    #[error("iteration count {count} is above the maximum of {maximum}")]
    IterationCountTooHigh {
        /// The count the server asked for.
        count: u32,
        /// [`MAX_ITERATION_COUNT`](super::MAX_ITERATION_COUNT).
        maximum: u32,
    },
    /// The server's signature is wrong: it does not know the password (or is not the server).
    #[error("the server signature is wrong: the server could not prove it knows the password")]
    ServerSignatureMismatch,
    /// The server ended the conversation with an `e=` error attribute.
    #[error("the server reported a SCRAM error: {0}")]
    ServerError(String),
}

/// Why a credential (from a connection string or built in code) cannot be used, per the
/// Authentication spec's "MongoCredential Properties" of its mechanism.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The mechanism needs a (non-empty) username.
    #[error("{mechanism} requires a username")]
    MissingUsername {
        /// The mechanism.
        mechanism: &'static str,
    },
    /// The mechanism does not take a username (in this configuration).
    #[error("{mechanism} does not take a username{detail}")]
    UnexpectedUsername {
        /// The mechanism.
        mechanism: &'static str,
        /// Which configuration forbids it, e.g. `" with ENVIRONMENT test"`, or empty.
        detail: String,
    },
    /// The mechanism needs a password.
    #[error("{mechanism} requires a password")]
    MissingPassword {
        /// The mechanism.
        mechanism: &'static str,
    },
    /// The mechanism does not take a password.
    #[error("{mechanism} does not take a password")]
    UnexpectedPassword {
        /// The mechanism.
        mechanism: &'static str,
    },
    /// The authentication database is not the one the mechanism requires.
    #[error("{mechanism} requires authSource {required}, got {given}")]
    InvalidSource {
        /// The mechanism.
        mechanism: &'static str,
        /// The only valid source.
        required: &'static str,
        /// The source given.
        given: String,
    },
    /// A mechanism property that the mechanism does not know.
    #[error("{mechanism} does not support the mechanism property {property}")]
    UnsupportedProperty {
        /// The mechanism.
        mechanism: &'static str,
        /// The property name.
        property: String,
    },
    /// A mechanism property with a value the mechanism does not accept (the value of a
    /// secret property is not repeated).
    #[error("{mechanism}: invalid value for mechanism property {property}{}", value_suffix(value.as_deref()))]
    InvalidProperty {
        /// The mechanism.
        mechanism: &'static str,
        /// The property name.
        property: String,
        /// The value, unless the property is secret.
        value: Option<String>,
    },
    /// A property the mechanism requires in this configuration is missing.
    #[error("{mechanism} requires the mechanism property {property}")]
    MissingProperty {
        /// The mechanism.
        mechanism: &'static str,
        /// The property name.
        property: &'static str,
    },
}

fn value_suffix(value: Option<&str>) -> String {
    value.map(|v| format!(" ({v:?})")).unwrap_or_default()
}
