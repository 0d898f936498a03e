//! The cause class of a failed proof, from the engine's error.

use std::fmt;

use mongo_topology::{AuthErrorKind, ClusterError, ConnectionError, PoolError};

/// Why a proof failed, as a class an operator acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A host name did not resolve.
    Dns,
    /// No TCP connection: refused, unreachable.
    Unreachable,
    /// A connection, a handshake or a command took longer than its timeout.
    Timeout,
    /// The connection was closed or reset (for a load balancer: nothing behind it took it).
    Network,
    /// Authentication failed: the mechanism, the user and the source database (never the
    /// password), and whether the server refused or the conversation broke.
    AuthFailed {
        /// The mechanism tried (`SCRAM-SHA-256` …).
        mechanism: String,
        /// The user.
        user: String,
        /// The authentication database (`authSource`).
        source: String,
    },
    /// The server requires authentication and the connection string has no credentials:
    /// the connection opens and `ping` answers, but any operation on data is refused with
    /// Unauthorized (13).
    AuthRequired,
    /// The TLS handshake failed.
    Tls,
    /// The server answered but does not take writes (a secondary, an arbiter …).
    NotWritable,
    /// `loadBalanced=true`, but the handshake reply had no `serviceId`.
    NoServiceId,
    /// No server was suitable within the wait (an application waits
    /// serverSelectionTimeoutMS, then fails the same way).
    ServerSelectionTimeout,
    /// Selection can never succeed here (an incompatible wire version, maxStalenessSeconds
    /// too small).
    SelectionImpossible,
    /// The server sent something that is not a valid reply.
    Protocol,
    /// The server refused a command (`ok: 0`) other than for authentication.
    CommandFailed,
    /// The pool refused the check-out (cleared, closed, waitQueueTimeoutMS).
    Pool,
    /// The cluster was closed under the proof.
    Closed,
}

impl Cause {
    /// A stable short name for JSON and scripts: `unreachable`, `auth_failed` ….
    pub fn name(&self) -> &'static str {
        match self {
            Cause::Dns => "dns",
            Cause::Unreachable => "unreachable",
            Cause::Timeout => "timeout",
            Cause::Network => "network",
            Cause::AuthFailed { .. } => "auth_failed",
            Cause::AuthRequired => "auth_required",
            Cause::Tls => "tls",
            Cause::NotWritable => "not_writable",
            Cause::NoServiceId => "no_service_id",
            Cause::ServerSelectionTimeout => "server_selection_timeout",
            Cause::SelectionImpossible => "selection_impossible",
            Cause::Protocol => "protocol",
            Cause::CommandFailed => "command_failed",
            Cause::Pool => "pool",
            Cause::Closed => "closed",
        }
    }
}

impl fmt::Display for Cause {
    /// For people: `unreachable`, `auth failed (SCRAM-SHA-256, user "u", source "admin")` ….
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Dns => f.write_str("DNS"),
            Cause::Unreachable => f.write_str("unreachable"),
            Cause::Timeout => f.write_str("timeout"),
            Cause::Network => f.write_str("network"),
            Cause::AuthFailed {
                mechanism,
                user,
                source,
            } => write!(
                f,
                "auth failed ({mechanism}, user {user:?}, source {source:?})"
            ),
            Cause::AuthRequired => f.write_str("authentication required"),
            Cause::Tls => f.write_str("TLS"),
            Cause::NotWritable => f.write_str("not writable"),
            Cause::NoServiceId => f.write_str("no serviceId"),
            Cause::ServerSelectionTimeout => f.write_str("server selection timeout"),
            Cause::SelectionImpossible => f.write_str("no server can be selected"),
            Cause::Protocol => f.write_str("protocol"),
            Cause::CommandFailed => f.write_str("command failed"),
            Cause::Pool => f.write_str("pool"),
            Cause::Closed => f.write_str("closed"),
        }
    }
}

/// The class of a [`ClusterError`] from selection, a check-out or a command.
pub(super) fn of_cluster_error(error: &ClusterError) -> Cause {
    match error {
        ClusterError::ServerSelectionTimeout { .. } | ClusterError::WaitTimedOut { .. } => {
            Cause::ServerSelectionTimeout
        }
        ClusterError::Selection(_) => Cause::SelectionImpossible,
        ClusterError::Connection { source, .. } => of_connection_error(source),
        ClusterError::Pool(PoolError::Establishment { source, .. }) => of_connection_error(source),
        ClusterError::Pool(_) => Cause::Pool,
        ClusterError::Command { .. } | ClusterError::CommandTooLarge { .. } => Cause::CommandFailed,
        ClusterError::Dns(_) => Cause::Dns,
        ClusterError::Closed => Cause::Closed,
        _ => Cause::Protocol,
    }
}

/// The class of a [`ConnectionError`]: an authentication failure over a broken connection is
/// that connection failure; otherwise it is an authentication failure.
pub(super) fn of_connection_error(error: &ConnectionError) -> Cause {
    match error {
        ConnectionError::Dns { .. } => Cause::Dns,
        ConnectionError::Connect { .. } => Cause::Unreachable,
        ConnectionError::Timeout { .. } => Cause::Timeout,
        ConnectionError::Network { .. } => Cause::Network,
        ConnectionError::Tls { .. } => Cause::Tls,
        ConnectionError::NoServiceId => Cause::NoServiceId,
        ConnectionError::Command(_) => Cause::CommandFailed,
        ConnectionError::Authentication(auth) => match auth.kind.as_ref() {
            AuthErrorKind::Connection(inner) => of_connection_error(inner),
            _ => Cause::AuthFailed {
                mechanism: auth.mechanism.clone(),
                user: auth.user.clone(),
                source: auth.database.clone(),
            },
        },
        _ => Cause::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_map_to_their_class() {
        let refused = ConnectionError::Connect {
            address: "a:1".into(),
            cause: "refused".into(),
        };
        assert_eq!(of_connection_error(&refused), Cause::Unreachable);
        assert_eq!(
            of_connection_error(&ConnectionError::Timeout { during: "connect" }),
            Cause::Timeout
        );
        assert_eq!(
            of_connection_error(&ConnectionError::NoServiceId),
            Cause::NoServiceId
        );
    }

    #[test]
    fn an_auth_cause_names_mechanism_user_and_source() {
        let cause = Cause::AuthFailed {
            mechanism: "SCRAM-SHA-256".into(),
            user: "admin".into(),
            source: "admin".into(),
        };
        assert_eq!(
            cause.to_string(),
            "auth failed (SCRAM-SHA-256, user \"admin\", source \"admin\")"
        );
        assert_eq!(cause.name(), "auth_failed");
    }
}
