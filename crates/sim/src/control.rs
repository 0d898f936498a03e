//! The text control language of the `sim` command (one command per line), parsed into
//! [`ControlCommand`]s that [`super::Deployment::control`] executes.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::faults::FaultKind;
use super::staging::{parse_tags, StagedState};
use super::versions::ServerVersion;

/// Which member a control command is about: a 0-based index into the deployment's nodes,
/// a port, or a "host:port" address. A bare number below 1024 is an index, otherwise a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    /// Position in the deployment (0-based, port order).
    Index(usize),
    /// The node listening on this port.
    Port(u16),
    /// The node advertising this "host:port".
    Address(String),
}

impl FromStr for MemberRef {
    type Err = ControlParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') {
            return Ok(MemberRef::Address(s.to_owned()));
        }
        match s.parse::<u32>() {
            Ok(n) if n < 1024 => Ok(MemberRef::Index(n as usize)),
            Ok(n) => u16::try_from(n)
                .map(MemberRef::Port)
                .map_err(|_| ControlParseError(format!("{s:?} is not a member index or port"))),
            Err(_) => Err(ControlParseError(format!(
                "{s:?} is not a member (expected an index, a port or host:port)"
            ))),
        }
    }
}

impl fmt::Display for MemberRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemberRef::Index(i) => write!(f, "#{i}"),
            MemberRef::Port(p) => write!(f, "port {p}"),
            MemberRef::Address(a) => f.write_str(a),
        }
    }
}

/// A control operation on a running deployment.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlCommand {
    /// The primary steps down; the set has no primary until `elect`.
    Stepdown,
    /// Elect this member primary (new term, new electionId).
    Elect(MemberRef),
    /// Close the member's listener and all its connections.
    Kill(MemberRef),
    /// Restart a killed member (new processId).
    Restart(MemberRef),
    /// Accept connections but never answer.
    Freeze(MemberRef),
    /// Answer again.
    Thaw(MemberRef),
    /// Delay every reply by this much.
    Latency(MemberRef, Duration),
    /// Replication lag behind the primary.
    Lag(MemberRef, Duration),
    /// Inject a fault.
    Fault(MemberRef, FaultKind),
    /// Close every established connection to a member (it keeps listening).
    DropConnections(MemberRef),
    /// Add a member to the config (true) or remove it (false); setVersion+1.
    Reconfig(bool, MemberRef),
    /// Put a member in RECOVERING (true) or back to SECONDARY (false).
    Recovering(MemberRef, bool),
    /// Describe every node.
    Status,
    /// Reconfigure a member's tags (setVersion+1).
    Tags(MemberRef, BTreeMap<String, String>),
    /// Reconfigure the name a member is known by ("host" or "host:port"; setVersion+1).
    Advertise(MemberRef, String),
    /// Put a member in STARTUP, STARTUP2, RECOVERING, or back to normal.
    MemberState(MemberRef, StagedState),
    /// Restart a node on another server version.
    ServerVersion(MemberRef, ServerVersion),
    /// The primary is cut off yet keeps claiming its term (true), or steps down (false).
    ClaimPrimary(MemberRef, bool),
}

/// A control line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ControlParseError(pub String);

/// The usage text listing every control command.
pub const CONTROL_USAGE: &str = "commands: stepdown | elect M | kill M | restart M | freeze M | thaw M | \
latency M MS | lag M SECONDS | fault M KIND [N] | drop-connections M | reconfig add|remove M | recovering M on|off | status | \
tags M K:V,... | advertise M HOST[:PORT] | member-state M startup|startup2|recovering|normal | server-version M V | \
claim-primary M on|off (M: index, port or host:port)";

fn on_off(word: &str) -> Result<bool, ControlParseError> {
    match word {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(ControlParseError(format!("{other:?}: expected on or off"))),
    }
}

fn seconds(s: &str) -> Result<Duration, ControlParseError> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| ControlParseError(format!("{s:?} is not a number of seconds")))
}

fn millis(s: &str) -> Result<Duration, ControlParseError> {
    s.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| ControlParseError(format!("{s:?} is not a number of milliseconds")))
}

impl FromStr for ControlCommand {
    type Err = ControlParseError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let member = |i: usize| -> Result<MemberRef, ControlParseError> {
            words
                .get(i)
                .ok_or_else(|| ControlParseError(format!("{line:?}: missing member")))?
                .parse()
        };
        let arg = |i: usize| -> Result<&str, ControlParseError> {
            words
                .get(i)
                .copied()
                .ok_or_else(|| ControlParseError(format!("{line:?}: missing argument")))
        };
        let arity = |n: usize| -> Result<(), ControlParseError> {
            if words.len() == n {
                Ok(())
            } else {
                Err(ControlParseError(format!(
                    "{line:?}: expected {} argument(s)",
                    n - 1
                )))
            }
        };
        let Some(verb) = words.first() else {
            return Err(ControlParseError(format!("empty command; {CONTROL_USAGE}")));
        };
        let cmd = match *verb {
            "stepdown" => arity(1).map(|_| ControlCommand::Stepdown)?,
            "status" => arity(1).map(|_| ControlCommand::Status)?,
            "elect" => arity(2).and_then(|_| member(1).map(ControlCommand::Elect))?,
            "kill" => arity(2).and_then(|_| member(1).map(ControlCommand::Kill))?,
            "restart" => arity(2).and_then(|_| member(1).map(ControlCommand::Restart))?,
            "freeze" => arity(2).and_then(|_| member(1).map(ControlCommand::Freeze))?,
            "thaw" => arity(2).and_then(|_| member(1).map(ControlCommand::Thaw))?,
            "drop-connections" => {
                arity(2).and_then(|_| member(1).map(ControlCommand::DropConnections))?
            }
            "latency" => {
                arity(3)?;
                ControlCommand::Latency(member(1)?, millis(arg(2)?)?)
            }
            "lag" => {
                arity(3)?;
                ControlCommand::Lag(member(1)?, seconds(arg(2)?)?)
            }
            "fault" => {
                let kind = words.get(2..).unwrap_or_default().join(" ");
                let kind = kind
                    .parse::<FaultKind>()
                    .map_err(|e| ControlParseError(e.to_string()))?;
                ControlCommand::Fault(member(1)?, kind)
            }
            "reconfig" => {
                arity(3)?;
                let add = match arg(1)? {
                    "add" => true,
                    "remove" => false,
                    other => {
                        return Err(ControlParseError(format!(
                            "reconfig {other:?}: expected add or remove"
                        )))
                    }
                };
                ControlCommand::Reconfig(add, member(2)?)
            }
            "recovering" => {
                arity(3)?;
                let on = match arg(2)? {
                    "on" => true,
                    "off" => false,
                    other => {
                        return Err(ControlParseError(format!("{other:?}: expected on or off")))
                    }
                };
                ControlCommand::Recovering(member(1)?, on)
            }
            "tags" => {
                arity(3)?;
                ControlCommand::Tags(member(1)?, parse_tags(arg(2)?).map_err(ControlParseError)?)
            }
            "advertise" => {
                arity(3)?;
                ControlCommand::Advertise(member(1)?, arg(2)?.to_owned())
            }
            "member-state" => {
                arity(3)?;
                let state = arg(2)?.parse().map_err(ControlParseError)?;
                ControlCommand::MemberState(member(1)?, state)
            }
            "server-version" => {
                arity(3)?;
                let version = arg(2)?
                    .parse()
                    .map_err(|e: crate::UnknownVersion| ControlParseError(e.to_string()))?;
                ControlCommand::ServerVersion(member(1)?, version)
            }
            "claim-primary" => {
                arity(3)?;
                ControlCommand::ClaimPrimary(member(1)?, on_off(arg(2)?)?)
            }
            other => {
                return Err(ControlParseError(format!(
                    "unknown command {other:?}; {CONTROL_USAGE}"
                )))
            }
        };
        Ok(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!("stepdown".parse(), Ok(ControlCommand::Stepdown));
        assert_eq!(
            "elect 1".parse(),
            Ok(ControlCommand::Elect(MemberRef::Index(1)))
        );
        assert_eq!(
            "kill 27018".parse(),
            Ok(ControlCommand::Kill(MemberRef::Port(27018)))
        );
        assert_eq!(
            "freeze 127.0.0.1:27019".parse(),
            Ok(ControlCommand::Freeze(MemberRef::Address(
                "127.0.0.1:27019".into()
            )))
        );
        assert_eq!(
            "latency 2 150".parse(),
            Ok(ControlCommand::Latency(
                MemberRef::Index(2),
                Duration::from_millis(150)
            ))
        );
        assert_eq!(
            "lag 1 2.5".parse(),
            Ok(ControlCommand::Lag(
                MemberRef::Index(1),
                Duration::from_millis(2500)
            ))
        );
        assert_eq!(
            "fault 0 node-is-recovering 3".parse(),
            Ok(ControlCommand::Fault(
                MemberRef::Index(0),
                FaultKind::NodeIsRecovering(3)
            ))
        );
        assert_eq!(
            "fault 1 stall-tls-handshake".parse(),
            Ok(ControlCommand::Fault(
                MemberRef::Index(1),
                FaultKind::StallTlsHandshake
            ))
        );
        assert_eq!(
            "drop-connections 1".parse(),
            Ok(ControlCommand::DropConnections(MemberRef::Index(1)))
        );
        assert_eq!(
            "reconfig remove 2".parse(),
            Ok(ControlCommand::Reconfig(false, MemberRef::Index(2)))
        );
        assert_eq!(
            "tags 1 dc:east,rack:2".parse(),
            Ok(ControlCommand::Tags(
                MemberRef::Index(1),
                [("dc", "east"), ("rack", "2")]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            ))
        );
        assert_eq!(
            "advertise 0 mongo-0.invalid".parse(),
            Ok(ControlCommand::Advertise(
                MemberRef::Index(0),
                "mongo-0.invalid".into()
            ))
        );
        assert_eq!(
            "member-state 2 startup2".parse(),
            Ok(ControlCommand::MemberState(
                MemberRef::Index(2),
                StagedState::Startup2
            ))
        );
        assert_eq!(
            "server-version 1 4.4".parse(),
            Ok(ControlCommand::ServerVersion(
                MemberRef::Index(1),
                ServerVersion::V4_4
            ))
        );
        assert_eq!(
            "claim-primary 0 on".parse(),
            Ok(ControlCommand::ClaimPrimary(MemberRef::Index(0), true))
        );
    }

    #[test]
    fn rejects_bad_lines() {
        for bad in [
            "",
            "explode",
            "elect",
            "elect x",
            "stepdown now",
            "lag 1 -3",
            "latency 1 abc",
            "reconfig swap 1",
            "fault 1 explode",
            "kill 70000",
            "tags 1 dc",
            "advertise 1",
            "member-state 1 dead",
            "server-version 1 9.9",
            "claim-primary 1 maybe",
        ] {
            assert!(
                bad.parse::<ControlCommand>().is_err(),
                "{bad:?} should not parse"
            );
        }
    }
}
