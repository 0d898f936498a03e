//! What can go wrong on a client connection ([`ConnectionError`]) or while authenticating it
//! ([`AuthError`]), and how each failure is classified for SDAM.

use std::fmt;

use mongo_topology_core::auth::{MongoCredential, ScramError};

use crate::address::ServerAddress;
use crate::sdam::{ApplicationError, ApplicationErrorKind, ErrorPhase};
use crate::sdam::{ServerError, ServerErrorKind};
use mongo_topology_core::reply::CommandFailure;

/// Why connecting to a server, or a command on a connection, failed.
///
/// Every variant keeps the cause as text, so that a server description (and a selection
/// failure built from it) can say exactly what happened.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// The host name could not be resolved, or resolved to no address.
    #[error("cannot resolve {host}: {cause}")]
    Dns {
        /// The host name that was looked up.
        host: String,
        /// What the resolver said.
        cause: String,
    },
    /// No TCP connection could be established (refused, unreachable, ...). The cause starts
    /// with the socket address tried; when that is the server's own address it is said once.
    #[error("cannot connect to {address}: {}", without_prefix(.cause, .address))]
    Connect {
        /// The server address that was tried.
        address: String,
        /// Why the last attempt failed.
        cause: String,
    },
    /// A network operation took longer than its timeout.
    #[error("timed out during {during}")]
    Timeout {
        /// The operation that timed out: `"connect"`, `"TLS handshake"`, `"read"` or
        /// `"write"`.
        during: &'static str,
    },
    /// An established connection failed: reset, closed (also in the middle of a message).
    #[error("network error: {cause}")]
    Network {
        /// What the operating system or the stream reported.
        cause: String,
    },
    /// The server sent something that is not a valid reply: malformed message or BSON, an
    /// unexpected opCode, or a reply to a request we did not send.
    #[error("protocol error: {cause}")]
    Protocol {
        /// What was wrong with the message.
        cause: String,
    },
    /// The TLS handshake failed: the cause names what was wrong (unknown issuer, expired
    /// certificate, certificate not valid for the name, a server that does not speak TLS).
    /// SDAM treats it as a network error.
    #[error("TLS error: {cause}")]
    Tls {
        /// Why the handshake failed.
        cause: String,
    },
    /// The server answered the command with `ok: 0`.
    /// Boxed to keep the error small.
    #[error("command failed: {0}")]
    Command(Box<CommandFailure>),
    /// `loadBalanced=true`, but the handshake reply had no `serviceId` (Load Balancer spec,
    /// "Connection Establishment"): the server is not behind a load balancer, or does not
    /// support load-balanced mode.
    #[error(
        "Driver attempted to initialize in load balancing mode, but the server does not \
         support this mode (its hello reply has no serviceId)"
    )]
    NoServiceId,
    /// A pool connection could not authenticate (monitors never authenticate). The error
    /// names the mechanism and the user, never the password.
    #[error(transparent)]
    Authentication(Box<AuthError>),
}

/// `text` without a leading `"{address}: "`.
fn without_prefix<'a>(text: &'a str, address: &str) -> &'a str {
    text.strip_prefix(address)
        .and_then(|rest| rest.strip_prefix(": "))
        .unwrap_or(text)
}

/// The backpressure label of an error that may be the server shedding load.
pub(crate) const SYSTEM_OVERLOADED_ERROR: &str = crate::sdam::errors::SYSTEM_OVERLOADED_LABEL;
/// The label of an error an operation may be retried after.
pub(crate) const RETRYABLE_ERROR: &str = "RetryableError";
/// The label of a write error the retryable-writes rules may retry.
pub(crate) const RETRYABLE_WRITE_ERROR: &str = "RetryableWriteError";

impl ConnectionError {
    /// This error's text where `server` has been named already (`"{server}: …"`): the
    /// server's address and host name are not repeated (`cannot connect: Connection
    /// refused`, `cannot resolve the host name: …`).
    pub fn describe_for(&self, server: &ServerAddress) -> String {
        match (self, server) {
            (ConnectionError::Connect { address, cause }, _) if *address == server.to_string() => {
                format!("cannot connect: {}", without_prefix(cause, address))
            }
            (ConnectionError::Dns { host, cause }, ServerAddress::Tcp { host: name, .. })
                if host.as_str() == &**name =>
            {
                format!("cannot resolve the host name: {cause}")
            }
            _ => self.to_string(),
        }
    }

    /// In load-balanced mode, the `serviceId` of the service whose connection failed, when
    /// the failure came after the handshake reported it (an authentication failure).
    pub fn service_id(&self) -> Option<bson::oid::ObjectId> {
        match self {
            ConnectionError::Authentication(error) => error.service_id,
            _ => None,
        }
    }

    /// [`ConnectionError::to_server_error`] for the description of `server` itself: a
    /// refused connection does not repeat the server's address (`cannot connect: Connection
    /// refused`), since the description, its table row and its explanation line name it.
    pub(crate) fn to_server_error_of(&self, server: &ServerAddress) -> ServerError {
        let mut error = self.to_server_error();
        if matches!(self, ConnectionError::Connect { .. }) {
            error.message = self.describe_for(server);
        }
        error
    }

    /// Whether this establishment failure may be the server shedding load, so that the
    /// pool adds the backpressure labels `SystemOverloadedError` and `RetryableError`
    /// (CMAP "Backpressure-enabled"): a network error or a timeout while connecting or
    /// during the `hello`; never an authentication step after the `hello`, a DNS failure,
    /// a TLS failure (this engine does not tell a TLS handshake's I/O errors from its
    /// certificate errors, so it never labels them), or a refusal by the server.
    pub fn is_overload_sign(&self) -> bool {
        matches!(
            self,
            ConnectionError::Connect { .. }
                | ConnectionError::Timeout { .. }
                | ConnectionError::Network { .. }
        )
    }

    /// The error labels this failure carries when it ends a check-out: the backpressure
    /// labels for an overload sign ([`ConnectionError::is_overload_sign`]), a failed
    /// command's own labels.
    pub fn error_labels(&self) -> Vec<String> {
        match self {
            ConnectionError::Command(failure) => failure.labels.clone(),
            _ if self.is_overload_sign() => vec![
                SYSTEM_OVERLOADED_ERROR.to_owned(),
                RETRYABLE_ERROR.to_owned(),
            ],
            _ => Vec::new(),
        }
    }

    /// This failure as the SDAM core records it on a server description: the kind that
    /// matches the variant, the server code for command errors, and this error's text.
    pub fn to_server_error(&self) -> ServerError {
        if let ConnectionError::Authentication(error) = self {
            // A network failure during authentication is a network failure; anything else
            // is the server's (or the conversation's) refusal.
            if let Some(inner) = error.connection_error() {
                return inner.to_server_error();
            }
            let code = match &*error.kind {
                AuthErrorKind::Server(failure) => failure.code,
                _ => None,
            };
            return ServerError {
                kind: ServerErrorKind::Command,
                code,
                message: error.to_string(),
            };
        }
        let kind = match self {
            ConnectionError::Dns { .. } => ServerErrorKind::Dns,
            ConnectionError::Connect { .. } => ServerErrorKind::Connect,
            ConnectionError::Timeout { .. } => ServerErrorKind::Timeout,
            ConnectionError::Network { .. } | ConnectionError::Tls { .. } => {
                ServerErrorKind::Network
            }
            ConnectionError::Protocol { .. } | ConnectionError::NoServiceId => {
                ServerErrorKind::Protocol
            }
            ConnectionError::Command(_) | ConnectionError::Authentication(_) => {
                ServerErrorKind::Command
            }
        };
        let code = match self {
            ConnectionError::Command(failure) => failure.code,
            _ => None,
        };
        ServerError {
            kind,
            code,
            message: self.to_string(),
        }
    }
}

/// The SDAM error for a connection that could not be established for a check-out:
/// authentication failures in the Authentication phase, the rest before the handshake
/// completed.
pub(crate) fn establishment_error(
    address: &ServerAddress,
    generation: u32,
    source: &ConnectionError,
) -> ApplicationError {
    let (phase, kind) = match source {
        ConnectionError::Authentication(error) => {
            let kind = match (error.connection_error(), &*error.kind) {
                (Some(ConnectionError::Timeout { .. }), _) => ApplicationErrorKind::Timeout,
                (Some(_), _) => ApplicationErrorKind::Network,
                (None, AuthErrorKind::Server(failure)) => {
                    ApplicationErrorKind::Command(failure.clone())
                }
                (None, _) => {
                    ApplicationErrorKind::Command(CommandFailure::new(None, error.to_string()))
                }
            };
            (ErrorPhase::Authentication, kind)
        }
        ConnectionError::Timeout { .. } => (
            ErrorPhase::ConnectionEstablishment,
            ApplicationErrorKind::Timeout,
        ),
        ConnectionError::Command(failure) => (
            ErrorPhase::ConnectionEstablishment,
            ApplicationErrorKind::Command(CommandFailure::clone(failure)),
        ),
        _ => (
            ErrorPhase::ConnectionEstablishment,
            ApplicationErrorKind::Network,
        ),
    };
    ApplicationError {
        address: address.clone(),
        generation,
        service_id: source.service_id(),
        phase,
        kind,
        system_overloaded: source.is_overload_sign(),
    }
}

/// Why authenticating a connection failed: the mechanism, the user and the database, and
/// what went wrong. Never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{mechanism} authentication failed for user {user:?} on database {database:?}: {kind}")]
pub struct AuthError {
    /// The mechanism that was tried (e.g. `"SCRAM-SHA-256"`).
    pub mechanism: String,
    /// The username.
    pub user: String,
    /// The authentication database.
    pub database: String,
    /// What went wrong (boxed: keeps `Result<_, AuthError>` small).
    pub kind: Box<AuthErrorKind>,
    /// In load-balanced mode, the `serviceId` the handshake reported before authentication
    /// failed: the Load Balancer spec clears only that service's connections.
    pub service_id: Option<bson::oid::ObjectId>,
}

/// What went wrong while authenticating.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthErrorKind {
    /// The server refused (`ok: 0`), e.g. code 18 AuthenticationFailed for a wrong password:
    /// the same [`CommandFailure`] every other failed command reports.
    Server(CommandFailure),
    /// The handshake or a SASL command failed on the connection (network, timeout,
    /// protocol): the pool classifies it as it does any connection error.
    Connection(ConnectionError),
    /// The SCRAM conversation failed on the client side: the server lied or misbehaved
    /// (wrong signature, bad nonce, iteration count out of bounds, malformed message), or
    /// the password cannot be prepared.
    Scram(ScramError),
    /// A SASL reply was malformed or the conversation did not end when it should have.
    Protocol(String),
    /// The mechanism is not implemented yet.
    UnsupportedMechanism,
}

impl fmt::Display for AuthErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthErrorKind::Server(failure) => write!(f, "the server refused: {failure}"),
            AuthErrorKind::Connection(error) => write!(f, "{error}"),
            AuthErrorKind::Scram(error) => write!(f, "{error}"),
            AuthErrorKind::Protocol(cause) => write!(f, "unexpected SASL reply: {cause}"),
            AuthErrorKind::UnsupportedMechanism => f.write_str("mechanism not supported yet"),
        }
    }
}

impl AuthError {
    pub(crate) fn new(
        credential: &MongoCredential,
        mechanism: &str,
        kind: AuthErrorKind,
    ) -> AuthError {
        AuthError {
            mechanism: mechanism.to_owned(),
            user: credential.username_or_empty().to_owned(),
            database: credential.source.clone(),
            kind: Box::new(kind),
            service_id: None,
        }
    }

    /// The connection error behind this failure, if it was one (SDAM treats it as a
    /// network error or timeout before the handshake completed).
    pub fn connection_error(&self) -> Option<&ConnectionError> {
        match self.kind.as_ref() {
            AuthErrorKind::Connection(error) => Some(error),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_maps_to_its_kind_and_keeps_the_cause() {
        let cases = [
            (
                ConnectionError::Dns {
                    host: "db.invalid".into(),
                    cause: "no such host".into(),
                },
                ServerErrorKind::Dns,
                "no such host",
            ),
            (
                ConnectionError::Connect {
                    address: "db:1".into(),
                    cause: "refused".into(),
                },
                ServerErrorKind::Connect,
                "refused",
            ),
            (
                ConnectionError::Timeout { during: "read" },
                ServerErrorKind::Timeout,
                "read",
            ),
            (
                ConnectionError::Network {
                    cause: "reset by peer".into(),
                },
                ServerErrorKind::Network,
                "reset by peer",
            ),
            (
                ConnectionError::Protocol {
                    cause: "bad BSON".into(),
                },
                ServerErrorKind::Protocol,
                "bad BSON",
            ),
        ];
        for (error, kind, cause) in cases {
            let server_error = error.to_server_error();
            assert_eq!(server_error.kind, kind, "{error}");
            assert_eq!(server_error.code, None);
            assert!(server_error.message.contains(cause), "{server_error}");
        }
    }

    #[test]
    fn an_address_is_said_once() {
        let server = ServerAddress::parse("127.0.0.1:1").unwrap();
        let refused = ConnectionError::Connect {
            address: "127.0.0.1:1".into(),
            cause: "127.0.0.1:1: Connection refused".into(),
        };
        assert_eq!(
            refused.to_string(),
            "cannot connect to 127.0.0.1:1: Connection refused"
        );
        assert_eq!(
            refused.describe_for(&server),
            "cannot connect: Connection refused"
        );
        // A host name keeps the socket address it resolved to.
        let named = ServerAddress::parse("db.example:1").unwrap();
        let refused = ConnectionError::Connect {
            address: "db.example:1".into(),
            cause: "10.0.0.1:1: Connection refused".into(),
        };
        assert_eq!(
            refused.describe_for(&named),
            "cannot connect: 10.0.0.1:1: Connection refused"
        );
        let unresolved = ConnectionError::Dns {
            host: "db.example".into(),
            cause: "no such host".into(),
        };
        assert_eq!(
            unresolved.describe_for(&named),
            "cannot resolve the host name: no such host"
        );
        // Another server's error keeps its full text.
        assert_eq!(
            unresolved.describe_for(&server),
            "cannot resolve db.example: no such host"
        );
        let refused = ConnectionError::Connect {
            address: "127.0.0.1:1".into(),
            cause: "127.0.0.1:1: Connection refused".into(),
        };
        let described = refused.to_server_error_of(&server);
        assert_eq!(described.kind, ServerErrorKind::Connect);
        assert_eq!(described.message, "cannot connect: Connection refused");
    }

    #[test]
    fn command_errors_keep_code_and_name() {
        let error = ConnectionError::Command(Box::new(CommandFailure {
            code: Some(10107),
            code_name: Some("NotWritablePrimary".into()),
            message: "not primary".into(),
            ..CommandFailure::default()
        }));
        assert_eq!(
            error.to_string(),
            "command failed: not primary (code 10107, NotWritablePrimary)"
        );
        let server_error = error.to_server_error();
        assert_eq!(server_error.kind, ServerErrorKind::Command);
        assert_eq!(server_error.code, Some(10107));
        let no_code = ConnectionError::Command(Box::new(CommandFailure::new(None, "oops")));
        assert_eq!(no_code.to_string(), "command failed: oops");
    }
}
