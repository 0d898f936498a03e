//! Spec runner for connection-monitoring-and-pooling/tests/cmap-format, per its README: one
//! case per file, a list of operations on a pool (some on named threads), then the expected
//! error of the main thread and the expected events (a prefix, after dropping the ignored
//! types, matched with `42` as "any value").
//!
//! The pool is the real [`PoolMachine`]; [`world::World`] is a deterministic executor around
//! it: virtual time, threads as queues of operations, and a fake connection factory. The
//! "integration" files configure a `failCommand` fail point on `hello`; the fake factory
//! plays it (blockTimeMS delays the establishment, errorCode or closeConnection fails it,
//! `times` counts down), so those files run here too.

use std::path::Path;
use std::time::Duration;

use mongo_topology::pool::{CmapEvent, CmapEventKind, PoolOptions};
use serde_json::{json, Map, Value};

use crate::harness::Case;

mod world;

use world::{FailPoint, World};

pub fn run_file(path: &Path, json: &Value) -> Vec<Case> {
    let name = json
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| path.display().to_string());
    vec![Case::from_result(name, run_case(json))]
}

fn run_case(test: &Value) -> Result<(), String> {
    let options = pool_options(test.get("poolOptions"))?;
    let fail_point = match test.get("failPoint") {
        Some(command) => Some(FailPoint::from_command(command)?),
        None => None,
    };
    let mut world = World::new(options, fail_point)?;
    let operations = test
        .get("operations")
        .and_then(Value::as_array)
        .ok_or("no operations")?;
    for operation in operations {
        world.run_operation(operation)?;
        if world.main_error().is_some() {
            break;
        }
    }
    check_error(test.get("error"), world.main_error())?;
    check_events(test, world.events())
}

/// The standard pool options of `poolOptions`; `appName` and `backgroundThreadIntervalMS`
/// do not apply (the fail point matches every connection; the pool fills to minPoolSize as
/// soon as it can, with no background interval).
fn pool_options(spec: Option<&Value>) -> Result<PoolOptions, String> {
    let mut options = PoolOptions::default();
    let Some(spec) = spec else {
        return Ok(options);
    };
    let spec = spec.as_object().ok_or("poolOptions is not an object")?;
    for (name, value) in spec {
        let number = || {
            value
                .as_u64()
                .ok_or_else(|| format!("poolOptions.{name} is not a non-negative integer"))
        };
        let limit = |millis: u64| Some(Duration::from_millis(millis)).filter(|d| !d.is_zero());
        match name.as_str() {
            "maxPoolSize" => options.max_pool_size = as_u32(number()?)?,
            "minPoolSize" => options.min_pool_size = as_u32(number()?)?,
            "maxConnecting" => options.max_connecting = as_u32(number()?)?,
            "maxIdleTimeMS" => options.max_idle_time = limit(number()?),
            "waitQueueTimeoutMS" => options.wait_queue_timeout = limit(number()?),
            "appName" | "backgroundThreadIntervalMS" => {}
            other => return Err(format!("unknown pool option {other:?}")),
        }
    }
    Ok(options)
}

fn as_u32(value: u64) -> Result<u32, String> {
    u32::try_from(value).map_err(|e| e.to_string())
}

fn check_error(expected: Option<&Value>, actual: Option<&Value>) -> Result<(), String> {
    match (expected, actual) {
        (None, None) => Ok(()),
        (None, Some(actual)) => Err(format!("unexpected error {actual}")),
        (Some(expected), None) => Err(format!("expected error {expected}, got none")),
        (Some(expected), Some(actual)) => {
            matches(expected, actual).map_err(|why| format!("error {actual}: {why}"))
        }
    }
}

fn check_events(test: &Value, events: &[CmapEvent]) -> Result<(), String> {
    let ignored: Vec<&str> = test
        .get("ignore")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let actual: Vec<Value> = events
        .iter()
        .filter(|event| !ignored.contains(&event.kind.name()))
        .map(event_json)
        .collect();
    let expected = test
        .get("events")
        .and_then(Value::as_array)
        .ok_or("no events")?;
    let listing = || {
        actual
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (index, expected) in expected.iter().enumerate() {
        let Some(actual_event) = actual.get(index) else {
            return Err(format!(
                "event {index}: expected {expected}, got no more events; events:\n{}",
                listing()
            ));
        };
        matches(expected, actual_event).map_err(|why| {
            format!(
                "event {index}: expected {expected}, got {actual_event}: {why}; events:\n{}",
                listing()
            )
        })?;
    }
    Ok(())
}

/// An event as the test files write them.
fn event_json(event: &CmapEvent) -> Value {
    let mut fields = Map::new();
    fields.insert("type".into(), json!(event.kind.name()));
    fields.insert("address".into(), json!(event.address.to_string()));
    if let Some(id) = event.kind.connection_id() {
        fields.insert("connectionId".into(), json!(id.0));
    }
    let millis = |duration: &Duration| json!(duration.as_secs_f64() * 1000.0);
    match &event.kind {
        CmapEventKind::PoolCreated { options } => {
            fields.insert(
                "options".into(),
                json!({
                    "maxPoolSize": options.max_pool_size,
                    "minPoolSize": options.min_pool_size,
                    "maxConnecting": options.max_connecting,
                }),
            );
        }
        CmapEventKind::PoolCleared {
            interrupt_in_use_connections,
            ..
        } => {
            fields.insert(
                "interruptInUseConnections".into(),
                json!(interrupt_in_use_connections),
            );
        }
        CmapEventKind::ConnectionReady { duration, .. }
        | CmapEventKind::ConnectionCheckedOut { duration, .. } => {
            fields.insert("duration".into(), millis(duration));
        }
        CmapEventKind::ConnectionClosed { reason, .. } => {
            fields.insert("reason".into(), json!(reason.as_str()));
        }
        CmapEventKind::ConnectionCheckOutFailed { reason, duration } => {
            fields.insert("reason".into(), json!(reason.as_str()));
            fields.insert("duration".into(), millis(duration));
        }
        _ => {}
    }
    Value::Object(fields)
}

/// The README's MATCH: `expected` is a subset of `actual`, `42` and `"42"` meaning "any
/// value that exists".
fn matches(expected: &Value, actual: &Value) -> Result<(), String> {
    if expected == &json!(42) || expected == &json!("42") {
        return if actual.is_null() {
            Err("expected a value, got none".into())
        } else {
            Ok(())
        };
    }
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => {
            for (key, value) in expected {
                let actual = actual.get(key).unwrap_or(&Value::Null);
                matches(value, actual).map_err(|why| format!("{key}: {why}"))?;
            }
            Ok(())
        }
        (Value::Array(expected), Value::Array(actual)) => {
            for (index, value) in expected.iter().enumerate() {
                let actual = actual.get(index).unwrap_or(&Value::Null);
                matches(value, actual).map_err(|why| format!("[{index}]: {why}"))?;
            }
            Ok(())
        }
        (Value::Number(expected), Value::Number(actual))
            if expected.as_f64() == actual.as_f64() =>
        {
            Ok(())
        }
        (expected, actual) if expected == actual => Ok(()),
        (expected, actual) => Err(format!("expected {expected}, got {actual}")),
    }
}
