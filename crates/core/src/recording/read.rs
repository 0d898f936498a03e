//! A recording's lines as typed records: the header's settings, and per record its time and
//! what it says (only what a timeline needs; unknown record types and keys are ignored, as
//! the format asks of readers).

use serde_json::Value;

/// The header's `format`.
pub const RECORDING_FORMAT: &str = "mongo-topology-recording";

/// The format version read.
pub const RECORDING_VERSION: u64 = 1;

/// Why a text is not a readable recording.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadError {
    /// The first line is missing or is not a header of this format and version.
    #[error("not a {RECORDING_FORMAT} version {RECORDING_VERSION} recording: {0}")]
    Header(String),
    /// A record line is not a JSON object with a time.
    #[error("line {line}: {message}")]
    Record {
        /// The line number (1 is the header).
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

/// The settings a recording's header gives (timing settings in ms; `None` = not set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordedSettings {
    /// The replica set name asked for.
    pub replica_set: Option<String>,
    /// heartbeatFrequencyMS.
    pub heartbeat_frequency_ms: Option<u64>,
    /// minHeartbeatFrequencyMS.
    pub min_heartbeat_frequency_ms: Option<u64>,
    /// connectTimeoutMS.
    pub connect_timeout_ms: Option<u64>,
    /// socketTimeoutMS.
    pub socket_timeout_ms: Option<u64>,
    /// serverSelectionTimeoutMS.
    pub server_selection_timeout_ms: Option<u64>,
    /// serverMonitoringMode (`auto`, `stream`, `poll`).
    pub server_monitoring_mode: Option<String>,
}

/// What one record says.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordedEvent {
    /// A monitor's check succeeded.
    Hello {
        /// The server, as the client knows it.
        address: String,
        /// A streamed (awaited) reply.
        awaited: bool,
        /// How long the check took (awaited: how long the reply was awaited).
        duration_us: u64,
        /// The reply says the server is a writable primary.
        writable_primary: bool,
        /// The reply says the server is a secondary.
        secondary: bool,
    },
    /// A monitor's check failed.
    CheckFailed {
        /// The server.
        address: String,
        /// An awaited check.
        awaited: bool,
        /// How long it ran before failing.
        duration_us: u64,
        /// The cause class (`connect`, `network`, `timeout`, ...).
        cause: String,
        /// The error's message.
        message: String,
    },
    /// The client added a server to its description.
    ServerOpening {
        /// The server.
        address: String,
    },
    /// The client changed a server's description.
    ServerChanged {
        /// The server.
        address: String,
        /// Its type before (the spec's name, e.g. `RSPrimary`).
        previous_type: String,
        /// Its type now.
        new_type: String,
    },
    /// The client changed its topology description.
    TopologyChanged {
        /// The topology type before.
        previous_type: String,
        /// The topology type now.
        new_type: String,
        /// The primary before, if any.
        previous_primary: Option<String>,
        /// The primary now, if any.
        new_primary: Option<String>,
    },
    /// The client removed a server.
    ServerClosed {
        /// The server.
        address: String,
    },
    /// The client closed (its last event).
    TopologyClosed,
    /// Any other record (RTT samples, SRV answers, ...).
    Other,
}

/// One record with its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedLine {
    /// µs since the recorded cluster started.
    pub t_us: u64,
    /// What it says.
    pub event: RecordedEvent,
}

/// A recording read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    /// Wall-clock µs since the Unix epoch at time zero, when the header gives it.
    pub started_wall_us: Option<u64>,
    /// The header's settings.
    pub settings: RecordedSettings,
    /// The records in file order (times non-decreasing).
    pub lines: Vec<RecordedLine>,
}

impl Recording {
    /// Reads the text of one recording file (its header first).
    pub fn parse(text: &str) -> Result<Recording, ReadError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty());
        let header: Value = lines
            .next()
            .and_then(|(_, line)| serde_json::from_str(line).ok())
            .ok_or_else(|| ReadError::Header("no JSON header line".into()))?;
        if header["format"] != RECORDING_FORMAT
            || header["version"].as_u64() != Some(RECORDING_VERSION)
        {
            return Err(ReadError::Header(
                "the header names another format or version".into(),
            ));
        }
        let mut records = Vec::new();
        let mut lines = lines.peekable();
        while let Some((index, line)) = lines.next() {
            let record: Value = match serde_json::from_str(line) {
                Ok(record) => record,
                // A file copied while its recorder was writing ends in a partial line.
                Err(_) if lines.peek().is_none() && !text.ends_with('\n') => break,
                Err(e) => {
                    return Err(ReadError::Record {
                        line: index + 1,
                        message: e.to_string(),
                    })
                }
            };
            let t_us = record["t_us"].as_u64().ok_or_else(|| ReadError::Record {
                line: index + 1,
                message: "no t_us".into(),
            })?;
            records.push(RecordedLine {
                t_us,
                event: event_of(&record),
            });
        }
        Ok(Recording {
            started_wall_us: header["started_wall_us"].as_u64(),
            settings: settings_of(&header["settings"]),
            lines: records,
        })
    }

    /// The time of the last record (0 when there is none).
    pub fn end_us(&self) -> u64 {
        self.lines.last().map_or(0, |line| line.t_us)
    }
}

fn settings_of(settings: &Value) -> RecordedSettings {
    let ms = |key: &str| settings[key].as_u64();
    RecordedSettings {
        replica_set: text(&settings["replicaSet"]),
        heartbeat_frequency_ms: ms("heartbeatFrequencyMS"),
        min_heartbeat_frequency_ms: ms("minHeartbeatFrequencyMS"),
        connect_timeout_ms: ms("connectTimeoutMS"),
        socket_timeout_ms: ms("socketTimeoutMS"),
        server_selection_timeout_ms: ms("serverSelectionTimeoutMS"),
        server_monitoring_mode: text(&settings["serverMonitoringMode"]),
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn address(record: &Value) -> String {
    text(&record["address"]).unwrap_or_default()
}

fn event_of(record: &Value) -> RecordedEvent {
    match record["type"].as_str() {
        Some("hello") => {
            let reply = &record["reply"];
            RecordedEvent::Hello {
                address: address(record),
                awaited: record["awaited"].as_bool().unwrap_or(false),
                duration_us: record["duration_us"].as_u64().unwrap_or(0),
                writable_primary: truthy(&reply["isWritablePrimary"]) || truthy(&reply["ismaster"]),
                secondary: truthy(&reply["secondary"]),
            }
        }
        Some("check_failed") => RecordedEvent::CheckFailed {
            address: address(record),
            awaited: record["awaited"].as_bool().unwrap_or(false),
            duration_us: record["duration_us"].as_u64().unwrap_or(0),
            cause: text(&record["cause"]).unwrap_or_else(|| "other".into()),
            message: text(&record["message"]).unwrap_or_default(),
        },
        Some("sdam") => sdam_event_of(record),
        _ => RecordedEvent::Other,
    }
}

fn sdam_event_of(record: &Value) -> RecordedEvent {
    let type_name = |side: &str| text(&record[side]["type"]).unwrap_or_else(|| "Unknown".into());
    match record["event"].as_str() {
        Some("server_opening") => RecordedEvent::ServerOpening {
            address: address(record),
        },
        Some("server_description_changed") => RecordedEvent::ServerChanged {
            address: address(record),
            previous_type: type_name("previous"),
            new_type: type_name("new"),
        },
        Some("topology_description_changed") => RecordedEvent::TopologyChanged {
            previous_type: type_name("previous"),
            new_type: type_name("new"),
            previous_primary: text(&record["previous"]["primary"]),
            new_primary: text(&record["new"]["primary"]),
        },
        Some("server_closed") => RecordedEvent::ServerClosed {
            address: address(record),
        },
        Some("topology_closed") => RecordedEvent::TopologyClosed,
        _ => RecordedEvent::Other,
    }
}

/// A hello flag: `true`, or a non-zero number (old servers sent `ismaster: 1`).
fn truthy(value: &Value) -> bool {
    value.as_bool().unwrap_or(false) || value.as_f64().is_some_and(|number| number != 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"format":"mongo-topology-recording","version":1,"settings":{"heartbeatFrequencyMS":500,"socketTimeoutMS":null}}"#;

    #[test]
    fn a_partial_last_line_is_left_out_and_a_bad_line_elsewhere_refused() {
        let whole = format!("{HEADER}\n{{\"type\":\"rtt\",\"t_us\":5}}\n");
        let recording = Recording::parse(&format!("{whole}{{\"type\":\"hel")).unwrap();
        assert_eq!(recording.end_us(), 5);
        assert_eq!(recording.settings.heartbeat_frequency_ms, Some(500));
        assert_eq!(recording.settings.socket_timeout_ms, None);
        let broken = format!("{HEADER}\n{{\"type\":\"hel\n{{\"type\":\"rtt\",\"t_us\":5}}\n");
        assert!(matches!(
            Recording::parse(&broken),
            Err(ReadError::Record { line: 2, .. })
        ));
        assert!(matches!(
            Recording::parse(&format!("{whole}{{\"type\":\"hel\n")),
            Err(ReadError::Record { line: 3, .. })
        ));
    }

    #[test]
    fn other_files_are_refused() {
        assert!(matches!(Recording::parse(""), Err(ReadError::Header(_))));
        assert!(matches!(
            Recording::parse("{\"format\":\"mongo-topology-recording\",\"version\":2}\n"),
            Err(ReadError::Header(_))
        ));
    }
}
