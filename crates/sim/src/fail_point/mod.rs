//! The `failCommand` fail point, as the server documents it
//! (<https://github.com/mongodb/mongo/wiki/The-%22failCommand%22-fail-point>):
//! `{configureFailPoint: "failCommand", mode, data}` arms it on the node that receives the
//! command; every later command named in `data.failCommands` (from a client whose
//! handshake carried `data.appName`, when given) then fails as `data` says, while the mode
//! allows it.
//!
//! Modes: `{times: n}` (the next n matching commands), `{skip: n}` (every matching command
//! after the first n), `"alwaysOn"`, `"off"`. Data, applied in the server's order
//! (`CommandHelpers::evaluateFailCommandFailPoint`): `closeConnection` closes the
//! connection without a reply; `blockConnection` + `blockTimeMS` delays the command;
//! `errorCode` (with `errorLabels`, if given) fails it; `writeConcernError` lets it run and
//! adds the error to its reply. The handshake (hello, isMaster) is failed like any other
//! command, on monitoring and pooled connections alike.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use bson::{doc, Bson, Document};

use crate::reply::error_reply;

/// The only fail point the simulator knows.
pub const FAIL_COMMAND: &str = "failCommand";

/// The errmsg of a command failed by the fail point (the server's text).
pub const FAILED_BY_FAIL_POINT: &str = "Failing command via 'failCommand' failpoint";

/// When the fail point fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The next n matching commands.
    Times(u64),
    /// Every matching command after the first n.
    Skip(u64),
    /// Every matching command.
    AlwaysOn,
    /// Never (disarmed).
    Off,
}

/// What a fired fail point does to a command.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailCommandData {
    /// The commands it applies to (by name).
    pub fail_commands: Vec<String>,
    /// Close the connection instead of replying.
    pub close_connection: bool,
    /// Fail the command with this code.
    pub error_code: Option<i32>,
    /// The labels of the error (`errorCode` only).
    pub error_labels: Option<Vec<String>>,
    /// Delay the command this long first.
    pub block: Option<Duration>,
    /// Only for connections whose handshake gave this application name.
    pub app_name: Option<String>,
    /// Run the command and add this `writeConcernError` to its reply.
    pub write_concern_error: Option<Document>,
}

/// A configured `failCommand` fail point.
#[derive(Debug, Clone, PartialEq)]
pub struct FailCommand {
    /// When it fires.
    pub mode: Mode,
    /// What it does.
    pub data: FailCommandData,
}

/// What to do with one command, decided by the fail point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Injection {
    /// Wait this long before anything else.
    pub block: Option<Duration>,
    /// Then close the connection without a reply.
    pub close_connection: bool,
    /// Or reply with this error instead of running the command.
    pub error: Option<Document>,
    /// Or run the command and add this `writeConcernError` to its reply.
    pub write_concern_error: Option<Document>,
}

/// The fail points of every node of a deployment, by node index.
#[derive(Debug, Clone, Default)]
pub struct FailPoints {
    by_node: BTreeMap<usize, (FailCommand, u64)>,
}

impl FailPoints {
    /// Runs `configureFailPoint` on node `idx`; returns the reply.
    pub fn configure(&mut self, idx: usize, command: &Document) -> Document {
        let name = command.get_str("configureFailPoint").unwrap_or_default();
        if name != FAIL_COMMAND {
            return error_reply(
                2,
                "BadValue",
                format!("Cannot find failpoint {name:?} (the simulator knows only failCommand)"),
            );
        }
        let parsed = match parse(command) {
            Ok(parsed) => parsed,
            Err(why) => return error_reply(2, "BadValue", why),
        };
        let previous = self.by_node.remove(&idx).map_or(0, |(_, count)| count);
        if parsed.mode != Mode::Off {
            self.by_node.insert(idx, (parsed, 0));
        }
        doc! { "count": i64::try_from(previous).unwrap_or(i64::MAX), "ok": 1.0 }
    }

    /// Disarms every fail point.
    pub fn clear(&mut self) {
        self.by_node.clear();
    }

    /// Whether node `idx` has an armed fail point.
    pub fn is_armed(&self, idx: usize) -> bool {
        self.by_node.contains_key(&idx)
    }

    /// Decides what happens to command `name` on node `idx`, from a connection whose
    /// handshake gave `app_name`; `None` when the fail point does not fire. Firing uses up
    /// one of its `times`.
    pub fn check(&mut self, idx: usize, name: &str, app_name: Option<&str>) -> Option<Injection> {
        let (point, entered) = self.by_node.get_mut(&idx)?;
        let data = &point.data;
        if !data.fail_commands.iter().any(|c| c == name) {
            return None;
        }
        if data
            .app_name
            .as_deref()
            .is_some_and(|wanted| Some(wanted) != app_name)
        {
            return None;
        }
        *entered = entered.saturating_add(1);
        let fire = match &mut point.mode {
            Mode::Off => false,
            Mode::AlwaysOn => true,
            Mode::Times(left) => {
                let fire = *left > 0;
                *left = left.saturating_sub(1);
                fire
            }
            Mode::Skip(left) => {
                let fire = *left == 0;
                *left = left.saturating_sub(1);
                fire
            }
        };
        let injection = fire.then(|| injection(&point.data));
        if matches!(point.mode, Mode::Times(0)) {
            self.by_node.remove(&idx);
        }
        injection
    }
}

fn injection(data: &FailCommandData) -> Injection {
    let error = data.error_code.map(|code| {
        let mut reply = error_reply(code, &code_name(code), FAILED_BY_FAIL_POINT);
        if let Some(labels) = &data.error_labels {
            let labels: Vec<Bson> = labels.iter().cloned().map(Bson::String).collect();
            reply.insert("errorLabels", labels);
        }
        reply
    });
    Injection {
        block: data.block,
        close_connection: data.close_connection,
        error,
        write_concern_error: data.write_concern_error.clone(),
    }
}

/// The codeName the server gives a code (the codes drivers' tests use; others get the
/// server's `Location<code>` form).
pub fn code_name(code: i32) -> String {
    let known = match code {
        2 => "BadValue",
        6 => "HostUnreachable",
        7 => "HostNotFound",
        11 => "UserNotFound",
        18 => "AuthenticationFailed",
        50 => "MaxTimeMSExpired",
        59 => "CommandNotFound",
        89 => "NetworkTimeout",
        91 => "ShutdownInProgress",
        112 => "WriteConflict",
        189 => "PrimarySteppedDown",
        262 => "ExceededTimeLimit",
        9001 => "SocketException",
        10107 => "NotWritablePrimary",
        11600 => "InterruptedAtShutdown",
        11602 => "InterruptedDueToReplStateChange",
        13388 => "StaleConfig",
        13435 => "NotPrimaryNoSecondaryOk",
        13436 => "NotPrimaryOrSecondary",
        _ => return format!("Location{code}"),
    };
    known.to_owned()
}

/// Reads `mode` and `data` of a `configureFailPoint` command.
fn parse(command: &Document) -> Result<FailCommand, String> {
    let mode = match command.get("mode") {
        Some(Bson::String(mode)) if mode == "alwaysOn" => Mode::AlwaysOn,
        Some(Bson::String(mode)) if mode == "off" => Mode::Off,
        Some(Bson::Document(mode)) => {
            if let Some(n) = mode.get("times").and_then(as_count) {
                Mode::Times(n)
            } else if let Some(n) = mode.get("skip").and_then(as_count) {
                Mode::Skip(n)
            } else {
                return Err(format!("unsupported mode {mode}"));
            }
        }
        other => return Err(format!("missing or invalid mode: {other:?}")),
    };
    let empty = Document::new();
    let data = match command.get("data") {
        Some(Bson::Document(data)) => data,
        None => &empty,
        Some(other) => return Err(format!("data must be a document, not {other}")),
    };
    let fail_commands = match data.get("failCommands") {
        Some(Bson::Array(names)) => names
            .iter()
            .map(|name| match name {
                Bson::String(name) => Ok(name.clone()),
                other => Err(format!("failCommands holds a non-string: {other}")),
            })
            .collect::<Result<_, _>>()?,
        None if mode == Mode::Off => Vec::new(),
        _ => return Err("data.failCommands must be an array of command names".to_owned()),
    };
    let error_labels = match data.get("errorLabels") {
        Some(Bson::Array(labels)) => Some(
            labels
                .iter()
                .filter_map(|label| label.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    };
    let blocking = matches!(data.get("blockConnection"), Some(Bson::Boolean(true)));
    let block = match (blocking, data.get("blockTimeMS").and_then(as_count)) {
        (true, Some(ms)) => Some(Duration::from_millis(ms)),
        (true, None) => return Err("blockConnection requires blockTimeMS".to_owned()),
        (false, _) => None,
    };
    Ok(FailCommand {
        mode,
        data: FailCommandData {
            fail_commands,
            close_connection: matches!(data.get("closeConnection"), Some(Bson::Boolean(true))),
            error_code: data
                .get("errorCode")
                .and_then(as_count)
                .and_then(|c| i32::try_from(c).ok()),
            error_labels,
            block,
            app_name: data.get_str("appName").ok().map(str::to_owned),
            write_concern_error: data.get_document("writeConcernError").ok().cloned(),
        },
    })
}

/// A non-negative integer given as any BSON number.
fn as_count(value: &Bson) -> Option<u64> {
    match value {
        Bson::Int32(n) => u64::try_from(*n).ok(),
        Bson::Int64(n) => u64::try_from(*n).ok(),
        Bson::Double(n) if n.fract() == 0.0 && *n >= 0.0 && *n < 9.0e15 => Some(*n as u64),
        _ => None,
    }
}

/// The application name a handshake gave (`client.application.name`).
pub fn handshake_app_name(hello: &Document) -> Option<String> {
    hello
        .get_document("client")
        .ok()?
        .get_document("application")
        .ok()?
        .get_str("name")
        .ok()
        .map(str::to_owned)
}
