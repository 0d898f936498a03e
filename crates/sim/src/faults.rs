//! Injected faults: how a node misbehaves on purpose, for testing clients.
//!
//! Reply-mangling faults (`reset-after-bytes`, `garbage-reply`, `oversized-length`) and
//! `wrong-setname` stay armed until `fault <member> clear`; the counted ones
//! (`not-writable-primary N`, `node-is-recovering N`) fail the next N commands other than
//! the handshake (`hello`/`isMaster`, which real servers answer in every state).
//! `stall-tls-handshake` (TLS deployments only) makes the node accept TCP connections, wait
//! for the client's first handshake bytes and then answer nothing, as long as it stays
//! armed: connections already established keep working, and a handshake stalled when the
//! fault is cleared resumes. Arming it does not close established connections
//! (`Deployment::drop_connections` does, to make monitors reconnect).

use std::fmt;
use std::str::FromStr;

/// One fault kind, as given to the `fault` control command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Write only the first N bytes of each reply, then reset the connection.
    ResetAfterBytes(usize),
    /// Replies carry a valid header and an undecodable body.
    GarbageReply,
    /// Replies announce a messageLength above maxMessageSizeBytes, then the connection closes.
    OversizedLength,
    /// hello replies report a different setName.
    WrongSetName,
    /// The next N commands fail with NotWritablePrimary (10107).
    NotWritablePrimary(u32),
    /// The next N commands fail with a node-is-recovering error (NotPrimaryOrSecondary, 13436).
    NodeIsRecovering(u32),
    /// New TLS connections stop after the client's first handshake bytes (no answer).
    StallTlsHandshake,
    /// Removes every fault.
    Clear,
}

/// A fault specification that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {0:?}: expected reset-after-bytes N, garbage-reply, oversized-length, wrong-setname, not-writable-primary N, node-is-recovering N, stall-tls-handshake or clear")]
pub struct BadFault(pub String);

impl FromStr for FaultKind {
    type Err = BadFault;

    /// Parses "kind" or "kind N".
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadFault(s.to_owned());
        let mut words = s.split_whitespace();
        let kind = words.next().ok_or_else(bad)?;
        let arg = words.next();
        if words.next().is_some() {
            return Err(bad());
        }
        let count = |arg: Option<&str>| -> Result<u64, BadFault> {
            arg.ok_or_else(bad)?.parse::<u64>().map_err(|_| bad())
        };
        let parsed = match (kind, arg) {
            ("reset-after-bytes", a) => {
                FaultKind::ResetAfterBytes(usize::try_from(count(a)?).map_err(|_| bad())?)
            }
            ("garbage-reply", None) => FaultKind::GarbageReply,
            ("oversized-length", None) => FaultKind::OversizedLength,
            ("wrong-setname", None) => FaultKind::WrongSetName,
            ("not-writable-primary", a) => {
                FaultKind::NotWritablePrimary(u32::try_from(count(a)?).map_err(|_| bad())?)
            }
            ("node-is-recovering", a) => {
                FaultKind::NodeIsRecovering(u32::try_from(count(a)?).map_err(|_| bad())?)
            }
            ("stall-tls-handshake", None) => FaultKind::StallTlsHandshake,
            ("clear", None) => FaultKind::Clear,
            _ => return Err(bad()),
        };
        Ok(parsed)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::ResetAfterBytes(n) => write!(f, "reset-after-bytes {n}"),
            FaultKind::GarbageReply => f.write_str("garbage-reply"),
            FaultKind::OversizedLength => f.write_str("oversized-length"),
            FaultKind::WrongSetName => f.write_str("wrong-setname"),
            FaultKind::NotWritablePrimary(n) => write!(f, "not-writable-primary {n}"),
            FaultKind::NodeIsRecovering(n) => write!(f, "node-is-recovering {n}"),
            FaultKind::StallTlsHandshake => f.write_str("stall-tls-handshake"),
            FaultKind::Clear => f.write_str("clear"),
        }
    }
}

/// How a reply is sent on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFault {
    /// Send the first N bytes, then close.
    ResetAfterBytes(usize),
    /// Replace the body with undecodable bytes.
    Garbage,
    /// Announce an oversized length, then close.
    Oversized,
}

/// A command failure injected instead of running the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandFault {
    /// NotWritablePrimary (10107).
    NotWritablePrimary,
    /// NotPrimaryOrSecondary (13436), "node is recovering".
    NodeIsRecovering,
}

/// The faults armed on one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    reply: Option<ReplyFault>,
    /// hello reports a wrong setName.
    pub wrong_setname: bool,
    not_writable_primary: u32,
    node_is_recovering: u32,
    /// New TLS handshakes stop after the client's first bytes.
    pub stall_tls_handshake: bool,
}

impl Faults {
    /// Arms (or, for `Clear`, disarms) a fault.
    pub fn arm(&mut self, kind: FaultKind) {
        match kind {
            FaultKind::ResetAfterBytes(n) => self.reply = Some(ReplyFault::ResetAfterBytes(n)),
            FaultKind::GarbageReply => self.reply = Some(ReplyFault::Garbage),
            FaultKind::OversizedLength => self.reply = Some(ReplyFault::Oversized),
            FaultKind::WrongSetName => self.wrong_setname = true,
            FaultKind::NotWritablePrimary(n) => self.not_writable_primary = n,
            FaultKind::NodeIsRecovering(n) => self.node_is_recovering = n,
            FaultKind::StallTlsHandshake => self.stall_tls_handshake = true,
            FaultKind::Clear => *self = Faults::default(),
        }
    }

    /// The reply fault in force, if any.
    pub fn reply_fault(&self) -> Option<ReplyFault> {
        self.reply
    }

    /// Consumes one counted command fault, if any is armed.
    pub fn take_command_fault(&mut self) -> Option<CommandFault> {
        if self.not_writable_primary > 0 {
            self.not_writable_primary -= 1;
            Some(CommandFault::NotWritablePrimary)
        } else if self.node_is_recovering > 0 {
            self.node_is_recovering -= 1;
            Some(CommandFault::NodeIsRecovering)
        } else {
            None
        }
    }

    /// A short description for `status`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.reply {
            Some(ReplyFault::ResetAfterBytes(n)) => parts.push(format!("reset-after-bytes {n}")),
            Some(ReplyFault::Garbage) => parts.push("garbage-reply".to_owned()),
            Some(ReplyFault::Oversized) => parts.push("oversized-length".to_owned()),
            None => {}
        }
        if self.wrong_setname {
            parts.push("wrong-setname".to_owned());
        }
        if self.not_writable_primary > 0 {
            parts.push(format!(
                "not-writable-primary {}",
                self.not_writable_primary
            ));
        }
        if self.node_is_recovering > 0 {
            parts.push(format!("node-is-recovering {}", self.node_is_recovering));
        }
        if self.stall_tls_handshake {
            parts.push("stall-tls-handshake".to_owned());
        }
        parts.join(",")
    }
}

/// Applies a reply fault to an encoded reply: returns the bytes to send and whether the
/// connection must be closed afterwards.
pub fn mangle(mut bytes: Vec<u8>, fault: ReplyFault) -> (Vec<u8>, bool) {
    match fault {
        ReplyFault::ResetAfterBytes(n) => {
            bytes.truncate(n);
            (bytes, true)
        }
        ReplyFault::Garbage => {
            // Keep the 16-byte header and the flag bits; the sections become 0xFF bytes,
            // which is neither a known section kind nor valid BSON.
            for b in bytes.iter_mut().skip(20) {
                *b = 0xFF;
            }
            (bytes, false)
        }
        ReplyFault::Oversized => {
            let huge = (mongo_topology_core::wire::MAX_MESSAGE_SIZE_BYTES + 1).to_le_bytes();
            for (dst, src) in bytes.iter_mut().zip(huge) {
                *dst = src;
            }
            (bytes, true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!(
            "reset-after-bytes 10".parse(),
            Ok(FaultKind::ResetAfterBytes(10))
        );
        assert_eq!("garbage-reply".parse(), Ok(FaultKind::GarbageReply));
        assert_eq!(
            "not-writable-primary 2".parse(),
            Ok(FaultKind::NotWritablePrimary(2))
        );
        assert!("not-writable-primary".parse::<FaultKind>().is_err());
        assert!("garbage-reply 3".parse::<FaultKind>().is_err());
        assert!("explode".parse::<FaultKind>().is_err());
        assert_eq!(
            "stall-tls-handshake".parse(),
            Ok(FaultKind::StallTlsHandshake)
        );
        assert!("stall-tls-handshake 1".parse::<FaultKind>().is_err());
        assert_eq!(
            FaultKind::StallTlsHandshake.to_string(),
            "stall-tls-handshake"
        );
    }

    #[test]
    fn a_tls_stall_stays_armed_until_cleared() {
        let mut f = Faults::default();
        f.arm(FaultKind::StallTlsHandshake);
        assert!(f.stall_tls_handshake);
        assert_eq!(f.describe(), "stall-tls-handshake");
        f.arm(FaultKind::Clear);
        assert!(!f.stall_tls_handshake);
    }

    #[test]
    fn counted_faults_run_out() {
        let mut f = Faults::default();
        f.arm(FaultKind::NotWritablePrimary(2));
        assert_eq!(
            f.take_command_fault(),
            Some(CommandFault::NotWritablePrimary)
        );
        assert_eq!(
            f.take_command_fault(),
            Some(CommandFault::NotWritablePrimary)
        );
        assert_eq!(f.take_command_fault(), None);
    }
}
