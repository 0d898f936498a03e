//! Spec runner for the selection suites: server-selection/tests/{server_selection,rtt,
//! in_window} and max-staleness/tests. One case per file; the file's keys say which kind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mongo_topology::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
use mongo_topology::selection::rtt::next_average_rtt;
use mongo_topology::selection::{
    select_suitable_with_deprioritized, ReadPreference, SelectionCriteria, SelectionError,
    SelectionSettings, TagSet,
};
use mongo_topology::{MonotonicTime, ServerAddress};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::Value;

use crate::harness::Case;

pub fn run_file(path: &Path, json: &Value) -> Vec<Case> {
    let name = path.file_stem().map_or_else(
        || "(file)".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let result = if json.get("new_avg_rtt").is_some() {
        run_rtt(json)
    } else if json.get("mocked_topology_state").is_some() {
        run_in_window(json)
    } else {
        run_selection(json)
    };
    vec![Case::from_result(name, result)]
}

/// `Duration` from a number of milliseconds (integer or float).
fn millis(value: &Value, what: &str) -> Result<Duration, String> {
    let ms = value
        .as_f64()
        .ok_or_else(|| format!("{what}: expected a number, got {value}"))?;
    Duration::try_from_secs_f64(ms / 1000.0).map_err(|e| format!("{what}: {ms}: {e}"))
}

fn as_ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn run_rtt(json: &Value) -> Result<(), String> {
    let previous = match &json["avg_rtt_ms"] {
        Value::String(text) if text == "NULL" => None,
        value => Some(millis(value, "avg_rtt_ms")?),
    };
    let sample = millis(&json["new_rtt_ms"], "new_rtt_ms")?;
    let expected = json["new_avg_rtt"]
        .as_f64()
        .ok_or("new_avg_rtt: expected a number")?;
    let got = as_ms(next_average_rtt(previous, sample));
    if (got - expected).abs() > 1e-6 {
        return Err(format!("new average RTT {got} ms, expected {expected} ms"));
    }
    Ok(())
}

fn last_write_date(server: &Value) -> Result<Option<bson::DateTime>, String> {
    let Some(date) = server.get("lastWrite").and_then(|w| w.get("lastWriteDate")) else {
        return Ok(None);
    };
    let ms = match date.get("$numberLong") {
        Some(Value::String(text)) => text
            .parse::<i64>()
            .map_err(|e| format!("lastWriteDate {text:?}: {e}"))?,
        _ => date
            .as_i64()
            .ok_or_else(|| format!("lastWriteDate: unexpected {date}"))?,
    };
    Ok(Some(bson::DateTime::from_millis(ms)))
}

fn server_description(server: &Value) -> Result<ServerDescription, String> {
    let address_text = server["address"].as_str().ok_or("server without address")?;
    let address = ServerAddress::parse(address_text).map_err(|e| e.to_string())?;
    let type_name = server["type"].as_str().ok_or("server without type")?;
    let server_type = ServerType::from_spec_name(type_name)
        .ok_or_else(|| format!("unknown server type {type_name:?}"))?;
    let mut description = ServerDescription::unknown(address);
    description.server_type = server_type;
    if let Some(rtt) = server.get("avg_rtt_ms") {
        description.round_trip_time = Some(millis(rtt, "avg_rtt_ms")?);
    }
    if let Some(tags) = server.get("tags").and_then(Value::as_object) {
        description.tags = string_map(tags)?;
    }
    // An absent lastUpdateTime is 0, the origin of the suite's clock.
    let updated = server
        .get("lastUpdateTime")
        .map_or(Some(0), Value::as_u64)
        .ok_or("lastUpdateTime: expected a non-negative integer")?;
    description.last_update_time = Some(MonotonicTime::from_millis(updated));
    description.last_write_date = last_write_date(server)?;
    if let Some(version) = server.get("maxWireVersion") {
        description.max_wire_version = version
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .ok_or("maxWireVersion: expected an int")?;
    }
    Ok(description)
}

fn string_map(object: &serde_json::Map<String, Value>) -> Result<TagSet, String> {
    object
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(text) => Ok((k.clone(), text.to_string())),
            None => Err(format!("tag {k}: expected a string, got {v}")),
        })
        .collect()
}

fn topology(json: &Value) -> Result<TopologyDescription, String> {
    let description = &json["topology_description"];
    let type_name = description["type"]
        .as_str()
        .ok_or("topology without type")?;
    let topology_type = TopologyType::from_spec_name(type_name)
        .ok_or_else(|| format!("unknown topology type {type_name:?}"))?;
    let mut topology = TopologyDescription::with_seeds(topology_type, None, []);
    for server in description["servers"].as_array().ok_or("no servers list")? {
        let server = server_description(server)?;
        topology
            .servers
            .insert(server.address.clone(), Arc::new(server));
    }
    Ok(topology)
}

fn addresses(json: &Value, key: &str) -> Result<BTreeSet<String>, String> {
    json.get(key)
        .and_then(Value::as_array)
        .map_or(Ok(BTreeSet::new()), |servers| {
            servers
                .iter()
                .map(|server| {
                    let text = server["address"].as_str().ok_or("server without address")?;
                    ServerAddress::parse(text)
                        .map(|a| a.to_string())
                        .map_err(|e| e.to_string())
                })
                .collect()
        })
}

fn read_preference(json: &Value) -> Result<ReadPreference, String> {
    let rp = &json["read_preference"];
    let mode = rp.get("mode").and_then(Value::as_str);
    let tag_sets = match rp.get("tag_sets").and_then(Value::as_array) {
        Some(sets) => sets
            .iter()
            .map(|set| {
                set.as_object()
                    .ok_or("tag set: expected an object".to_string())
            })
            .map(|set| set.and_then(string_map))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let max_staleness = rp
        .get("maxStalenessSeconds")
        .map(max_staleness_seconds)
        .transpose()?;
    ReadPreference::from_uri_parts(mode, &tag_sets, max_staleness).map_err(|e| e.to_string())
}

/// `maxStalenessSeconds` as a whole number of seconds. The Max Staleness spec defines it as an
/// integer ("a positive integer value", -1 for no maximum), so a fractional or non-numeric
/// value is an invalid read preference, never silently dropped.
fn max_staleness_seconds(value: &Value) -> Result<i64, String> {
    if let Some(seconds) = value.as_i64() {
        return Ok(seconds);
    }
    match value.as_f64() {
        // A whole number written as a float (120.0) is still an integer.
        Some(seconds) if seconds.fract() == 0.0 && seconds.abs() < 9.0e15 => Ok(seconds as i64),
        _ => Err(format!(
            "maxStalenessSeconds: expected an integer number of seconds, got {value}"
        )),
    }
}

fn settings(json: &Value) -> Result<SelectionSettings, String> {
    let mut settings = SelectionSettings::default();
    if let Some(heartbeat) = json.get("heartbeatFrequencyMS") {
        settings.heartbeat_frequency = millis(heartbeat, "heartbeatFrequencyMS")?;
    }
    Ok(settings)
}

fn run_selection(json: &Value) -> Result<(), String> {
    // Each selection file expects an error or names the servers in the latency window;
    // anything else is a shape this runner does not know, not an expectation of no server.
    if json.get("error").is_none() && json.get("in_latency_window").is_none() {
        return Err(
            "unrecognised test file: neither `error` nor `in_latency_window` is present".into(),
        );
    }
    let topology = topology(json)?;
    let settings = settings(json)?;
    let expect_error = json.get("error").and_then(Value::as_bool) == Some(true);
    let criteria = match json.get("operation").and_then(Value::as_str) {
        Some("write") => SelectionCriteria::write(),
        Some("read") | None => match read_preference(json) {
            Ok(rp) => SelectionCriteria::read(rp),
            Err(_) if expect_error => return Ok(()),
            Err(error) => return Err(format!("read preference rejected: {error}")),
        },
        Some(other) => return Err(format!("unknown operation {other:?}")),
    };
    let deprioritized: Vec<ServerAddress> = addresses(json, "deprioritized_servers")?
        .iter()
        .map(|a| ServerAddress::parse(a).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let result =
        select_suitable_with_deprioritized(&topology, &criteria, &settings, &deprioritized);
    let (suitable, in_window) = match result {
        Err(SelectionError::InvalidCriteria(_)) if expect_error => return Ok(()),
        Err(error) if expect_error => {
            return Err(format!(
                "expected an invalid read preference error, got: {error}"
            ))
        }
        Ok(found) if expect_error => {
            let got: Vec<String> = found.suitable().map(|s| s.address.to_string()).collect();
            return Err(format!("expected an error, selected {got:?}"));
        }
        Ok(found) => (
            found.suitable().map(|s| s.address.to_string()).collect(),
            found.in_window().map(|s| s.address.to_string()).collect(),
        ),
        Err(SelectionError::NoSuitableServer(_)) => (BTreeSet::new(), BTreeSet::new()),
        Err(error) => return Err(format!("unexpected error: {error}")),
    };
    let expected_in_window = addresses(json, "in_latency_window")?;
    let mut problems = Vec::new();
    // The READMEs make `in_latency_window` the required check and `suitable_servers` an
    // optional one: some files list only the former.
    if json.get("suitable_servers").is_some() {
        let expected_suitable = addresses(json, "suitable_servers")?;
        if suitable != expected_suitable {
            problems.push(format!(
                "suitable servers {suitable:?}, expected {expected_suitable:?}"
            ));
        }
    }
    if in_window != expected_in_window {
        problems.push(format!(
            "in latency window {in_window:?}, expected {expected_in_window:?}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn run_in_window(json: &Value) -> Result<(), String> {
    let topology = topology(json)?;
    let mut counts = BTreeMap::new();
    for state in json["mocked_topology_state"].as_array().ok_or("no state")? {
        let address = state["address"].as_str().ok_or("state without address")?;
        let address = ServerAddress::parse(address).map_err(|e| e.to_string())?;
        let count = state["operation_count"]
            .as_u64()
            .ok_or("operation_count: expected a non-negative integer")?;
        counts.insert(address, count);
    }
    let iterations = json["iterations"].as_u64().ok_or("no iterations")?;
    let outcome = &json["outcome"];
    let tolerance = outcome["tolerance"].as_f64().ok_or("no tolerance")?;
    let expected = outcome["expected_frequencies"]
        .as_object()
        .ok_or("no expected_frequencies")?;
    let criteria = SelectionCriteria::read(
        ReadPreference::from_uri_parts(Some("nearest"), &[], None).map_err(|e| e.to_string())?,
    );
    let settings = SelectionSettings::default();
    let suitable = mongo_topology::selection::select_suitable(&topology, &criteria, &settings)
        .map_err(|e| e.to_string())?;
    // A fixed seed keeps the run reproducible; the tolerances are wide enough for any seed.
    let mut rng = StdRng::seed_from_u64(0x5e1ec7);
    let mut chosen: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..iterations {
        let server = suitable.choose(&mut rng, |s| counts.get(&s.address).copied().unwrap_or(0));
        *chosen.entry(server.address.to_string()).or_default() += 1;
    }
    let mut problems = Vec::new();
    for (address, frequency) in expected {
        let frequency = frequency.as_f64().ok_or("frequency: expected a number")?;
        let observed = chosen.get(address).copied().unwrap_or(0) as f64 / iterations as f64;
        let exact = frequency == 0.0 || frequency == 1.0;
        let off = (observed - frequency).abs();
        if (exact && observed != frequency) || off > tolerance {
            problems.push(format!(
                "{address}: selected {observed:.4} of the time, expected {frequency} \
                 (tolerance {})",
                if exact { 0.0 } else { tolerance }
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
