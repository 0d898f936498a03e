//! Spec runner for the server-discovery-and-monitoring suites (rs, sharded, single, errors,
//! monitoring, load-balanced), per server-discovery-and-monitoring/tests/README.md: one case
//! per file, phases of hello responses and application errors, each followed by an outcome
//! (a topology description, or for monitoring files the SDAM events published so far).

use std::path::Path;

use bson::oid::ObjectId;
use bson::Bson;
use mongo_topology::options::ConnectionString;
use mongo_topology::sdam::{
    ApplicationError, ApplicationErrorKind, CheckTiming, CommandFailure, ErrorPhase, SdamEvent,
    ServerDescription, ServerError, ServerErrorKind, Topology, TopologySettings,
};
use mongo_topology::{MonotonicTime, ServerAddress};
use serde_json::Value;

use crate::harness::Case;

mod events;
pub mod extjson;

use events::check_events;
use extjson::{to_bson, to_document};

pub fn run_file(path: &Path, json: &Value) -> Vec<Case> {
    let name = json
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| path.display().to_string());
    vec![Case::from_result(name, run_case(json))]
}

/// The test's `uri` as topology settings, through the real connection-string parser.
fn settings_from_uri(uri: &str) -> Result<TopologySettings, String> {
    let parsed = ConnectionString::parse(uri).map_err(|e| format!("uri {uri:?}: {e}"))?;
    Ok(TopologySettings::from_connection_string(&parsed))
}

fn address(value: &Value) -> Result<ServerAddress, String> {
    let text = value.as_str().ok_or("address is not a string")?;
    ServerAddress::parse(text).map_err(|e| format!("address {text:?}: {e}"))
}

/// The test's simulated client: the state machine, a clock, and the events seen so far.
struct Client {
    topology: Topology,
    events: Vec<SdamEvent>,
    millis: u64,
}

impl Client {
    fn tick(&mut self) -> MonotonicTime {
        self.millis += 10;
        MonotonicTime::from_millis(self.millis)
    }

    fn apply_response(&mut self, response: &Value) -> Result<(), String> {
        let pair = response.as_array().ok_or("response is not a pair")?;
        let (Some(source), Some(reply)) = (pair.first(), pair.get(1)) else {
            return Err("response is not a pair".into());
        };
        let source = address(source)?;
        let now = self.tick();
        let changes = if reply.as_object().is_some_and(|reply| reply.is_empty()) {
            let error = ServerError::new(ServerErrorKind::Network, "simulated network error");
            self.topology.apply_check_failure(&source, error, now)
        } else {
            // The engine's monitors hand the core the reply as received; every response of
            // the suites is applied so, and must read the same as the decoded document.
            let decoded = to_document(reply)?;
            let raw = bson::RawDocumentBuf::try_from(&decoded)
                .map_err(|error| format!("response does not encode: {error}"))?;
            let timing = CheckTiming::at(now);
            let from_raw = ServerDescription::from_hello(source.clone(), &*raw, timing);
            let from_decoded = ServerDescription::from_hello(source.clone(), &decoded, timing);
            if from_raw != from_decoded {
                return Err(format!(
                    "the reply reads differently as bytes and decoded: {from_raw:?} vs \
                     {from_decoded:?}"
                ));
            }
            self.topology.apply_hello(&source, &*raw, timing)
        };
        self.events.extend(changes.events().cloned());
        Ok(())
    }

    fn apply_application_error(&mut self, spec: &Value) -> Result<(), String> {
        // The earliest files wrote an application error as a pair `[address, reply]`, like a
        // response: a command error on an established connection of the current generation.
        if let Some(pair) = spec.as_array() {
            let (Some(address), Some(reply)) = (pair.first(), pair.get(1)) else {
                return Err("application error pair without address and reply".into());
            };
            let spec = serde_json::json!({
                "address": address,
                "when": "afterHandshakeCompletes",
                "type": "command",
                "response": reply,
            });
            return self.apply_application_error(&spec);
        }
        let address = address(spec.get("address").ok_or("error without address")?)?;
        let generation = match spec.get("generation").and_then(Value::as_u64) {
            Some(generation) => u32::try_from(generation).map_err(|e| e.to_string())?,
            None => self.topology.pool_generation(&address, None).unwrap_or(0),
        };
        // Files written before `when` existed describe errors of operations on established
        // connections, which is what `afterHandshakeCompletes` means.
        let phase = match spec.get("when").and_then(Value::as_str) {
            Some("beforeHandshakeCompletes") => ErrorPhase::ConnectionEstablishment,
            Some("afterHandshakeCompletes") | None => ErrorPhase::AfterHandshake,
            Some(other) => return Err(format!("unknown `when` {other:?}")),
        };
        let kind = match spec.get("type").and_then(Value::as_str) {
            Some("network") => ApplicationErrorKind::Network,
            Some("timeout") => ApplicationErrorKind::Timeout,
            Some("command") => {
                let response =
                    to_document(spec.get("response").ok_or("command without response")?)?;
                // A reply that carries no error the SDAM rules look at (for instance only
                // `writeErrors`, which "MUST NOT be checked") reaches no error handling.
                let Some(error) = CommandFailure::from_reply(&response) else {
                    return Ok(());
                };
                ApplicationErrorKind::Command(error)
            }
            other => return Err(format!("unknown error type {other:?}")),
        };
        // `maxWireVersion` is not used: the spec no longer distinguishes pre-4.2 servers.
        let error = ApplicationError {
            address,
            generation,
            service_id: None,
            phase,
            kind,
            system_overloaded: false,
        };
        let now = self.tick();
        let changes = self.topology.apply_application_error(&error, now);
        self.events.extend(changes.events().cloned());
        Ok(())
    }
}

fn run_case(json: &Value) -> Result<(), String> {
    let uri = json.get("uri").and_then(Value::as_str).ok_or("no uri")?;
    let settings = settings_from_uri(uri)?;
    let (topology, opening) = Topology::new(settings, MonotonicTime::ZERO)
        .map_err(|e| format!("invalid settings: {e}"))?;
    let mut client = Client {
        topology,
        events: opening.events().cloned().collect(),
        millis: 0,
    };
    let phases = json
        .get("phases")
        .and_then(Value::as_array)
        .ok_or("no phases")?;
    for (index, phase) in phases.iter().enumerate() {
        let label = phase
            .get("description")
            .and_then(Value::as_str)
            .map_or_else(
                || format!("phase {index}"),
                |d| format!("phase {index} ({d})"),
            );
        let in_phase = |e: String| format!("{label}: {e}");
        for response in phase
            .get("responses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            client.apply_response(response).map_err(in_phase)?;
        }
        for error in phase
            .get("applicationErrors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            client.apply_application_error(error).map_err(in_phase)?;
        }
        let outcome = phase
            .get("outcome")
            .ok_or_else(|| in_phase("no outcome".into()))?;
        match outcome.get("events") {
            Some(expected) => {
                check_events(expected, &client.events).map_err(in_phase)?;
                client.events.clear();
            }
            None => check_outcome(outcome, &client.topology).map_err(in_phase)?,
        }
    }
    Ok(())
}

fn check_outcome(outcome: &Value, topology: &Topology) -> Result<(), String> {
    let td = topology.description();
    if let Some(expected) = outcome.get("topologyType").and_then(Value::as_str) {
        expect("topologyType", expected, td.topology_type.spec_name())?;
    }
    if let Some(expected) = outcome.get("setName") {
        expect("setName", expected.as_str(), td.set_name.as_deref())?;
    }
    if let Some(expected) = outcome.get("logicalSessionTimeoutMinutes") {
        expect(
            "logicalSessionTimeoutMinutes",
            expected.as_i64(),
            td.logical_session_timeout_minutes,
        )?;
    }
    if let Some(expected) = outcome.get("maxSetVersion") {
        expect("maxSetVersion", expected.as_i64(), td.max_set_version)?;
    }
    if let Some(expected) = outcome.get("maxElectionId") {
        expect("maxElectionId", object_id(expected)?, td.max_election_id)?;
    }
    if let Some(expected) = outcome.get("compatible").and_then(Value::as_bool) {
        expect("compatible", expected, td.is_compatible())?;
    }
    let servers = outcome
        .get("servers")
        .and_then(Value::as_object)
        .ok_or("outcome without servers")?;
    let mut expected_addresses = Vec::new();
    for (text, expected) in servers {
        let address = ServerAddress::parse(text).map_err(|e| format!("{text}: {e}"))?;
        let actual = td.server(&address).ok_or_else(|| {
            format!(
                "server {address} missing; have {:?}",
                td.servers.keys().collect::<Vec<_>>()
            )
        })?;
        check_server(expected, actual, topology).map_err(|e| format!("server {address}: {e}"))?;
        expected_addresses.push(address);
    }
    if let Some(extra) = td.servers.keys().find(|a| !expected_addresses.contains(a)) {
        return Err(format!("unexpected server {extra}"));
    }
    Ok(())
}

fn check_server(
    expected: &Value,
    actual: &ServerDescription,
    topology: &Topology,
) -> Result<(), String> {
    if let Some(kind) = expected.get("type").and_then(Value::as_str) {
        expect("type", kind, actual.server_type.spec_name())?;
    }
    if let Some(name) = expected.get("setName") {
        expect("setName", name.as_str(), actual.set_name.as_deref())?;
    }
    // The tests README: "setVersion: absent or an integer"; some files write null, which
    // (like absent) asserts nothing.
    if let Some(version) = expected.get("setVersion").filter(|v| !v.is_null()) {
        expect("setVersion", version.as_i64(), actual.set_version)?;
    }
    if let Some(id) = expected.get("electionId") {
        expect("electionId", object_id(id)?, actual.election_id)?;
    }
    if let Some(minutes) = expected.get("logicalSessionTimeoutMinutes") {
        expect(
            "logicalSessionTimeoutMinutes",
            minutes.as_i64(),
            actual.logical_session_timeout_minutes,
        )?;
    }
    // A null wire version means "not reported", which the description stores as the
    // spec's default, 0.
    if let Some(min) = expected.get("minWireVersion") {
        expect(
            "minWireVersion",
            min.as_i64().unwrap_or(0),
            i64::from(actual.min_wire_version),
        )?;
    }
    if let Some(max) = expected.get("maxWireVersion") {
        expect(
            "maxWireVersion",
            max.as_i64().unwrap_or(0),
            i64::from(actual.max_wire_version),
        )?;
    }
    if let Some(version) = expected.get("topologyVersion") {
        let expected = match version {
            Value::Null => None,
            other => {
                let doc = to_document(other)?;
                let process_id = doc.get_object_id("processId").map_err(|e| e.to_string())?;
                let counter = match doc.get("counter") {
                    Some(Bson::Int64(n)) => *n,
                    Some(Bson::Int32(n)) => i64::from(*n),
                    other => return Err(format!("topologyVersion counter {other:?}")),
                };
                Some((process_id, counter))
            }
        };
        let actual = actual
            .topology_version
            .map(|tv| (tv.process_id, tv.counter));
        expect("topologyVersion", expected, actual)?;
    }
    if let Some(generation) = expected.pointer("/pool/generation").and_then(Value::as_u64) {
        let actual = topology.pool_generation(&actual.address, None);
        expect("pool.generation", Some(generation), actual.map(u64::from))?;
    }
    if let Some(substring) = expected.get("error").and_then(Value::as_str) {
        let message = actual
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        if !message.contains(substring) {
            return Err(format!("error {message:?} does not contain {substring:?}"));
        }
    }
    Ok(())
}

fn object_id(value: &Value) -> Result<Option<ObjectId>, String> {
    match to_bson(value)? {
        Bson::Null => Ok(None),
        Bson::ObjectId(id) => Ok(Some(id)),
        other => Err(format!("expected an ObjectId, found {other:?}")),
    }
}

fn expect<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: T,
    actual: T,
) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else {
        Err(format!("{what}: expected {expected:?}, got {actual:?}"))
    }
}
