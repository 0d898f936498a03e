//! Command monitoring ("Command Logging and Monitoring" spec): the started, succeeded and
//! failed events of each command [`crate::Cluster::run_command`] and
//! [`crate::ServerConnection::run_command`] send, delivered with the cluster's other events
//! as [`crate::EventKind::Command`].
//!
//! Security-sensitive commands (authentication, user management, and a hello or legacy
//! hello carrying `speculativeAuthenticate`) are published with an empty command and an
//! empty reply, as the spec requires.

use std::time::Duration;

use bson::oid::ObjectId;
use bson::Document;

use crate::address::ServerAddress;
use crate::pool::ConnectionId;

/// One command monitoring event.
#[derive(Clone, Debug)]
pub struct CommandEvent {
    /// The command's name (the first key of the command document).
    pub command_name: String,
    /// The database the command ran on.
    pub database_name: String,
    /// The wire protocol requestId of the command's message.
    pub request_id: i32,
    /// The server the command ran on.
    pub address: ServerAddress,
    /// The pool's number for the connection (CMAP `connectionId`).
    pub connection_id: ConnectionId,
    /// The server's number for the connection (its handshake reply's `connectionId`).
    pub server_connection_id: Option<i64>,
    /// The service behind the load balancer (load-balanced mode only).
    pub service_id: Option<ObjectId>,
    /// Started, succeeded or failed.
    pub stage: CommandStage,
}

/// What a [`CommandEvent`] reports.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CommandStage {
    /// CommandStartedEvent: the command as sent (with `$db`; empty when redacted).
    Started {
        /// The command document.
        command: Document,
    },
    /// CommandSucceededEvent: the server's reply (`ok: 1`; empty when redacted).
    Succeeded {
        /// The reply document.
        reply: Document,
        /// From sending the command to reading its reply.
        duration: Duration,
    },
    /// CommandFailedEvent: an `ok: 0` reply, a network error or a timeout.
    Failed {
        /// What went wrong (empty when redacted).
        failure: String,
        /// The server's error code, for a failed reply.
        code: Option<i32>,
        /// From sending the command to the failure.
        duration: Duration,
    },
}

/// The commands whose content the spec never publishes.
const SENSITIVE_COMMANDS: [&str; 9] = [
    "authenticate",
    "saslstart",
    "saslcontinue",
    "getnonce",
    "createuser",
    "updateuser",
    "copydbgetnonce",
    "copydbsaslstart",
    "copydb",
];

/// Whether a command's events must be redacted: a sensitive command, or a hello or
/// legacy hello carrying `speculativeAuthenticate`.
pub(crate) fn is_sensitive(name: &str, command: &Document) -> bool {
    let lower = name.to_ascii_lowercase();
    if SENSITIVE_COMMANDS.contains(&lower.as_str()) {
        return true;
    }
    matches!(lower.as_str(), "hello" | "ismaster")
        && command.contains_key("speculativeAuthenticate")
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::is_sensitive;

    #[test]
    fn authentication_and_speculative_hellos_are_redacted() {
        assert!(is_sensitive("saslStart", &doc! { "saslStart": 1 }));
        assert!(is_sensitive("saslContinue", &doc! {}));
        assert!(is_sensitive("createUser", &doc! {}));
        assert!(is_sensitive(
            "hello",
            &doc! { "hello": 1, "speculativeAuthenticate": {} }
        ));
        assert!(is_sensitive(
            "isMaster",
            &doc! { "isMaster": 1, "speculativeAuthenticate": {} }
        ));
        assert!(!is_sensitive("hello", &doc! { "hello": 1 }));
        assert!(!is_sensitive("find", &doc! { "find": "c" }));
    }
}
