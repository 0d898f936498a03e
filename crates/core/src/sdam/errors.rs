//! SDAM "Error handling", application errors: how an error seen by an application operation
//! is classified ("not writable primary", "node is recovering", "node is shutting down",
//! network errors, timeouts) and what it does to the topology.
//!
//! The state machine ([`crate::sdam::Topology::apply_application_error`]) uses
//! `ApplicationError::decision` after its staleness checks.

use bson::oid::ObjectId;

use crate::address::ServerAddress;
pub use crate::reply::CommandFailure;
use crate::sdam::server::{ServerError, ServerErrorKind, TopologyVersion};

/// "node is recovering" codes (SDAM "not writable primary" and "node is recovering").
pub const RECOVERING_CODES: [i32; 5] = [11600, 11602, 13436, 189, 91];
/// "not writable primary" codes.
pub const NOT_WRITABLE_PRIMARY_CODES: [i32; 3] = [10107, 13435, 10058];
/// "node is shutting down" codes: the subset of recovering codes that clears the pool.
pub const SHUTDOWN_CODES: [i32; 2] = [11600, 91];

/// The error label the connection pool puts on errors caused by server backpressure.
pub const SYSTEM_OVERLOADED_LABEL: &str = "SystemOverloadedError";

/// Where in a connection's life the error happened (SDAM "Network error when reading or
/// writing" distinguishes these phases).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorPhase {
    /// Establishing the connection or running its handshake hello.
    ConnectionEstablishment,
    /// The authentication step of the handshake.
    Authentication,
    /// On an established connection, after the handshake completed.
    AfterHandshake,
}

impl ErrorPhase {
    /// Whether the handshake (including authentication) had completed.
    pub fn completed_handshake(self) -> bool {
        self == ErrorPhase::AfterHandshake
    }
}

/// What kind of failure an application operation saw.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplicationErrorKind {
    /// A network error other than a timeout.
    Network,
    /// A network timeout.
    Timeout,
    /// A command error or write concern error returned by the server.
    Command(CommandFailure),
}

/// An error from an application operation on a server, with what SDAM needs to judge it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationError {
    /// The server the operation ran on.
    pub address: ServerAddress,
    /// The generation of the connection (or of the pool when the connection was being
    /// created) the error occurred on.
    pub generation: u32,
    /// In load-balanced mode, the service behind the load balancer.
    pub service_id: Option<ObjectId>,
    /// When in the connection's life the error occurred.
    pub phase: ErrorPhase,
    /// What failed.
    pub kind: ApplicationErrorKind,
    /// Whether the error carries the `SystemOverloadedError` backpressure label.
    pub system_overloaded: bool,
}

/// What an error that is not stale does (the branches of SDAM's `handleError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorDecision {
    /// Leave the topology alone.
    Ignore,
    /// A State Change Error: mark Unknown (with its topologyVersion), request an immediate
    /// check, and clear the pool if the node is shutting down.
    StateChange {
        /// Whether the error is a "node is shutting down" error.
        shutdown: bool,
    },
    /// Mark Unknown, clear the pool and cancel the monitor's in-progress check.
    MarkUnknownAndClear,
}

/// SDAM's classification of a command failure ("not writable primary", "node is
/// recovering", "node is shutting down"). The failure itself is read by
/// [`CommandFailure::from_reply`] (SDAM `parseCommandResponse`).
impl CommandFailure {
    /// SDAM `isRecovering`: by code when there is one, else by message.
    pub fn is_recovering(&self) -> bool {
        match self.code {
            Some(code) => RECOVERING_CODES.contains(&code),
            None => {
                self.message.contains("not master or secondary")
                    || self.message.contains("node is recovering")
            }
        }
    }

    /// SDAM `isNotWritablePrimary`: by code when there is one, else by message.
    pub fn is_not_writable_primary(&self) -> bool {
        match self.code {
            Some(code) => NOT_WRITABLE_PRIMARY_CODES.contains(&code),
            None => !self.is_recovering() && self.message.contains("not master"),
        }
    }

    /// SDAM `isShutdown`: only by code.
    pub fn is_shutdown(&self) -> bool {
        self.code.is_some_and(|code| SHUTDOWN_CODES.contains(&code))
    }

    /// SDAM `isStateChangeError`.
    pub fn is_state_change_error(&self) -> bool {
        self.is_recovering() || self.is_not_writable_primary()
    }
}

impl ApplicationError {
    /// The error's topologyVersion: only command errors carry one.
    pub fn topology_version(&self) -> Option<&TopologyVersion> {
        match &self.kind {
            ApplicationErrorKind::Command(error) => error.topology_version.as_ref(),
            _ => None,
        }
    }

    /// The error to store in the Unknown ServerDescription this error produces.
    pub fn server_error(&self) -> ServerError {
        let (kind, code) = match &self.kind {
            ApplicationErrorKind::Network => (ServerErrorKind::Network, None),
            ApplicationErrorKind::Timeout => (ServerErrorKind::Timeout, None),
            ApplicationErrorKind::Command(command) => (ServerErrorKind::Command, command.code),
        };
        ServerError {
            kind,
            code,
            message: self.describe(),
        }
    }

    /// A description of the error for the Unknown ServerDescription's error field (the
    /// server's code, if any, is kept separately in [`ServerError::code`]).
    pub fn describe(&self) -> String {
        match &self.kind {
            ApplicationErrorKind::Network => format!("network error talking to {}", self.address),
            ApplicationErrorKind::Timeout => format!("network timeout talking to {}", self.address),
            ApplicationErrorKind::Command(error) if error.message.is_empty() => {
                format!("command error from {}", self.address)
            }
            ApplicationErrorKind::Command(error) => {
                format!("command error from {}: {}", self.address, error.message)
            }
        }
    }

    /// The branch of SDAM's `handleError` this (non-stale) error takes:
    /// - a State Change Error, in any phase, is handled as such;
    /// - a network error or timeout while establishing the connection or running its hello
    ///   changes nothing ("Network error when reading or writing": MUST NOT change the
    ///   server's description), nor does any error with the backpressure label;
    /// - a timeout after the handshake changes nothing (it may be a slow operation);
    /// - any other network error, and any other error before the handshake completed
    ///   (authentication failures, "MongoDB Handshake errors"), marks the server Unknown and
    ///   clears its pool;
    /// - other command errors after the handshake are not SDAM's business.
    pub(crate) fn decision(&self) -> ErrorDecision {
        if let ApplicationErrorKind::Command(error) = &self.kind {
            if error.is_state_change_error() {
                return ErrorDecision::StateChange {
                    shutdown: error.is_shutdown(),
                };
            }
        }
        if self.system_overloaded {
            return ErrorDecision::Ignore;
        }
        match (&self.kind, self.phase) {
            (
                ApplicationErrorKind::Network | ApplicationErrorKind::Timeout,
                ErrorPhase::ConnectionEstablishment,
            ) => ErrorDecision::Ignore,
            (ApplicationErrorKind::Timeout, ErrorPhase::AfterHandshake) => ErrorDecision::Ignore,
            (ApplicationErrorKind::Command(_), ErrorPhase::AfterHandshake) => ErrorDecision::Ignore,
            _ => ErrorDecision::MarkUnknownAndClear,
        }
    }
}
