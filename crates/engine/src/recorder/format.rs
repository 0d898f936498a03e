//! The lines of a recording (NDJSON, `docs/recording.md`): the header, one line per record,
//! and what is stripped before anything is written.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bson::Document;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::options::ConnectionString;
use crate::recorder::record::{Record, RecordingSettings, Stamped, RECORDING_FORMAT_VERSION};
use crate::recorder::relaxed;
use crate::sdam::{SdamEvent, ServerDescription, ServerErrorKind, TopologyDescription};
use crate::settings::cluster_settings::ClusterSettings;

/// The header's `format`.
pub(crate) const FORMAT_NAME: &str = "mongo-topology-recording";

/// Fields of a hello reply never written: speculative authentication (a SASL exchange)
/// and the mechanisms a user may authenticate with.
const SECRET_REPLY_FIELDS: [&str; 2] = ["speculativeAuthenticate", "saslSupportedMechs"];

/// `reply` without the fields that could carry secrets (shared as it is when it has none,
/// as monitoring replies never do; copied without them otherwise).
pub(crate) fn without_secrets(reply: &Arc<Document>) -> Arc<Document> {
    if !SECRET_REPLY_FIELDS
        .iter()
        .any(|field| reply.contains_key(field))
    {
        return reply.clone();
    }
    let mut stripped = Document::clone(reply);
    for field in SECRET_REPLY_FIELDS {
        stripped.remove(field);
    }
    Arc::new(stripped)
}

/// The connection string as written: with its password and secret options redacted, or a
/// placeholder when it does not parse (then nothing of it is written).
fn redacted_connection_string(uri: &str) -> String {
    match ConnectionString::parse(uri) {
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparsable connection string, not written>".to_owned(),
    }
}

/// Turns a record's monotonic instant into its two times.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    epoch: Instant,
    started_wall_us: u64,
}

impl Clock {
    pub(crate) fn new(epoch: Instant, started_wall: SystemTime) -> Self {
        Clock {
            epoch,
            started_wall_us: unix_micros(started_wall),
        }
    }

    /// (µs since the cluster started, wall-clock µs since the Unix epoch).
    fn times(&self, at: Instant) -> (u64, u64) {
        let offset = micros(at.saturating_duration_since(self.epoch));
        (offset, self.started_wall_us.saturating_add(offset))
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn unix_micros(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(micros).unwrap_or(0)
}

/// The first line of every file of a recording.
#[derive(Clone, Debug)]
pub(crate) struct Header {
    value: Value,
}

impl Header {
    pub(crate) fn new(
        recording: &RecordingSettings,
        settings: &ClusterSettings,
        started_wall: SystemTime,
    ) -> Self {
        let started_us = unix_micros(started_wall);
        let started_ms = i64::try_from(started_us / 1000).unwrap_or(i64::MAX);
        let started_at = bson::DateTime::from_millis(started_ms)
            .try_to_rfc3339_string()
            .unwrap_or_default();
        let millis = |duration: Option<Duration>| {
            duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        };
        let srv = settings.srv.as_ref().map(|srv| {
            json!({
                "hostname": srv.hostname,
                "serviceName": srv.service_name,
                "srvMaxHosts": srv.max_hosts,
                "records": srv.initial_records.iter()
                    .map(|record| format!("{}:{}", record.target, record.port))
                    .collect::<Vec<_>>(),
            })
        });
        let value = json!({
            "format": FORMAT_NAME,
            "version": RECORDING_FORMAT_VERSION,
            "started_at": started_at,
            "started_wall_us": started_us,
            "part": 0,
            "connection_string": recording.connection_string.as_deref().map(redacted_connection_string),
            "settings": {
                "seeds": settings.topology.seeds.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "replicaSet": settings.topology.replica_set_name,
                "directConnection": settings.topology.direct_connection,
                "loadBalanced": settings.topology.load_balanced,
                "heartbeatFrequencyMS": millis(Some(settings.heartbeat_frequency)),
                "minHeartbeatFrequencyMS": millis(Some(settings.min_heartbeat_frequency)),
                "connectTimeoutMS": millis(settings.connect_timeout),
                "socketTimeoutMS": millis(settings.socket_timeout),
                "serverSelectionTimeoutMS": millis(Some(settings.server_selection_timeout)),
                "localThresholdMS": millis(Some(settings.local_threshold)),
                "serverMonitoringMode": format!("{:?}", settings.server_monitoring_mode).to_lowercase(),
                "tls": settings.tls.is_some(),
                "authenticated": settings.credential.is_some(),
                "srv": srv,
            },
        });
        Header { value }
    }

    /// The header line of file part `part` (0 for the first file of the recording).
    pub(crate) fn line(&self, part: u64) -> String {
        let mut value = self.value.clone();
        if let Some(object) = value.as_object_mut() {
            object.insert("part".to_owned(), json!(part));
        }
        value.to_string()
    }
}

/// The `records_missed` line: `count` records were dropped before `at`.
pub(crate) fn missed_line(clock: &Clock, at: Instant, count: u64) -> String {
    let mut line = stamp(clock, at, "records_missed");
    line.insert("count".to_owned(), json!(count));
    Value::Object(line).to_string()
}

fn stamp(clock: &Clock, at: Instant, kind: &str) -> Map<String, Value> {
    let (offset, wall) = clock.times(at);
    let mut line = Map::new();
    line.insert("t_us".to_owned(), json!(offset));
    line.insert("wall_us".to_owned(), json!(wall));
    line.insert("type".to_owned(), json!(kind));
    line
}

/// `{"t_us":…,"wall_us":…,"type":"kind"` (the line goes on with its fields).
fn start_line(clock: &Clock, at: Instant, kind: &str, capacity: usize) -> Vec<u8> {
    let (offset, wall) = clock.times(at);
    let mut line = Vec::with_capacity(capacity);
    line.extend_from_slice(format!("{{\"t_us\":{offset},\"wall_us\":{wall},\"type\":").as_bytes());
    relaxed::write_string(&mut line, kind);
    line
}

/// `,"name":` then `value`, a JSON number or literal.
fn push_field(line: &mut Vec<u8>, name: &str, value: impl std::fmt::Display) {
    line.extend_from_slice(format!(",\"{name}\":{value}").as_bytes());
}

fn finish_line(mut line: Vec<u8>) -> String {
    line.push(b'}');
    // Only JSON strings and numbers were written: always UTF-8.
    String::from_utf8(line)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// The line of one record. The two records of every heartbeat (a hello reply, an RTT
/// sample) are written field by field; the rarer ones through a `serde_json::Value`.
pub(crate) fn record_line(clock: &Clock, stamped: Stamped) -> String {
    let Stamped { at, record } = stamped;
    let (kind, fields) = match record {
        Record::Hello {
            address,
            duration,
            reply,
            awaited,
        } => {
            let mut line = start_line(clock, at, "hello", 768);
            line.extend_from_slice(b",\"address\":");
            relaxed::write_string(&mut line, &address.to_string());
            push_field(&mut line, "awaited", awaited);
            push_field(&mut line, "duration_us", micros(duration));
            line.extend_from_slice(b",\"reply\":");
            relaxed::write_document(&mut line, &reply);
            return finish_line(line);
        }
        Record::CheckFailed {
            address,
            duration,
            failure,
            awaited,
        } => (
            "check_failed",
            json!({
                "address": address.to_string(),
                "awaited": awaited,
                "duration_us": micros(duration),
                "cause": cause_class(failure.kind),
                "code": failure.code,
                "message": failure.message,
            }),
        ),
        Record::RoundTrip { address, sample } => {
            let mut line = start_line(clock, at, "rtt", 128);
            line.extend_from_slice(b",\"address\":");
            relaxed::write_string(&mut line, &address.to_string());
            push_field(&mut line, "sample_us", micros(sample));
            return finish_line(line);
        }
        Record::SrvHosts { hosts } => (
            "srv_hosts",
            json!({ "hosts": hosts.iter().map(ToString::to_string).collect::<Vec<_>>() }),
        ),
        Record::Sdam(event) => ("sdam", sdam_fields(&event)),
    };
    let mut line = stamp(clock, at, kind);
    if let Value::Object(fields) = fields {
        line.extend(fields);
    }
    Value::Object(line).to_string()
}

/// The cause class of a failed check, as written (`docs/recording.md` lists them).
fn cause_class(kind: ServerErrorKind) -> &'static str {
    match kind {
        ServerErrorKind::Dns => "dns",
        ServerErrorKind::Connect => "connect",
        ServerErrorKind::Network => "network",
        ServerErrorKind::Timeout => "timeout",
        ServerErrorKind::Tls => "tls",
        ServerErrorKind::Command => "command",
        ServerErrorKind::Protocol => "protocol",
        ServerErrorKind::ReplicaSetNameMismatch => "replica_set_name_mismatch",
        ServerErrorKind::IncompatibleWireVersion => "incompatible_wire_version",
        ServerErrorKind::StalePrimary => "stale_primary",
        _ => "other",
    }
}

fn server_fields(server: &ServerDescription) -> Value {
    json!({
        "type": server.server_type.to_string(),
        "error": server.error.as_ref().map(|error| json!({
            "cause": cause_class(error.kind),
            "code": error.code,
            "message": error.message,
        })),
    })
}

/// A topology description in a few fields: its servers are not listed (their changes have
/// records of their own, and a list of 1,000 mongos on every change would make discovery
/// cost the square of the deployment's size).
fn topology_fields(topology: &TopologyDescription) -> Value {
    json!({
        "type": topology.topology_type.spec_name(),
        "setName": topology.set_name,
        "server_count": topology.servers.len(),
        "primary": topology.primary().map(|primary| primary.address.to_string()),
    })
}

fn sdam_fields(event: &SdamEvent) -> Value {
    match event {
        SdamEvent::TopologyOpening => json!({ "event": "topology_opening" }),
        SdamEvent::ServerOpening { address } => {
            json!({ "event": "server_opening", "address": address.to_string() })
        }
        SdamEvent::ServerDescriptionChanged {
            address,
            previous,
            new,
        } => json!({
            "event": "server_description_changed",
            "address": address.to_string(),
            "previous": server_fields(previous),
            "new": server_fields(new),
        }),
        SdamEvent::TopologyDescriptionChanged { previous, new } => json!({
            "event": "topology_description_changed",
            "previous": topology_fields(previous),
            "new": topology_fields(new),
        }),
        SdamEvent::ServerClosed { address, reason } => json!({
            "event": "server_closed",
            "address": address.to_string(),
            "reason": { "kind": reason.kind(), "message": reason.to_string() },
        }),
        SdamEvent::TopologyClosed => json!({ "event": "topology_closed" }),
        _ => json!({ "event": "other" }),
    }
}
