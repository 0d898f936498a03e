//! Spec runner for connection-monitoring-and-pooling/tests/cmap-format, per its README: one
//! case per file, a list of operations on a pool (some on named threads), then the expected
//! error of the main thread and the expected events (a prefix, after dropping the ignored
//! types, matched with `42` as "any value").
//!
//! The pool is the real `PoolMachine` of the pure core (`mongo_topology_core::cmap`: no
//! tokio, no engine); [`world::World`] is a deterministic executor around it: virtual time,
//! threads as queues of operations, and a fake connection factory. The "integration" files
//! configure a `failCommand` fail point on `hello`; the fake factory plays it (blockTimeMS
//! delays the establishment, errorCode or closeConnection fails it, `times` counts down,
//! `appName` limits it to the connections of a pool with that appName), so those files run
//! here too. `backgroundThreadIntervalMS` sets the pool's background run schedule on the
//! virtual clock (absent: runs when due; negative: never; positive: that interval).

use std::path::Path;
use std::time::Duration;

use mongo_topology_core::cmap::{BackgroundRuns, CmapEvent, CmapEventKind, GivenPoolOptions};
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
    let setup = pool_setup(test.get("poolOptions"))?;
    let fail_point = match test.get("failPoint") {
        Some(command) => FailPoint::from_command(command)?
            .filter(|fail_point| fail_point.applies_to_app(setup.app_name.as_deref())),
        None => None,
    };
    let mut world = World::new(setup.options, setup.background_runs, fail_point)?;
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

/// What `poolOptions` asks for.
struct PoolSetup {
    /// The standard pool options, as the user gave them.
    options: GivenPoolOptions,
    /// `backgroundThreadIntervalMS`: absent, the pool runs its background work when it is
    /// due; negative, never; positive, at that interval (0 is not allowed).
    background_runs: BackgroundRuns,
    /// `appName`: the fail point affects only connections with its own appName.
    app_name: Option<String>,
}

fn pool_setup(spec: Option<&Value>) -> Result<PoolSetup, String> {
    let mut setup = PoolSetup {
        options: GivenPoolOptions::default(),
        background_runs: BackgroundRuns::WhenDue,
        app_name: None,
    };
    let Some(spec) = spec else {
        return Ok(setup);
    };
    let spec = spec.as_object().ok_or("poolOptions is not an object")?;
    let options = &mut setup.options;
    for (name, value) in spec {
        let number = || {
            value
                .as_u64()
                .ok_or_else(|| format!("poolOptions.{name} is not a non-negative integer"))
        };
        match name.as_str() {
            "maxPoolSize" => options.max_pool_size = Some(as_u32(number()?)?),
            "minPoolSize" => options.min_pool_size = Some(as_u32(number()?)?),
            "maxConnecting" => options.max_connecting = Some(as_u32(number()?)?),
            "maxIdleTimeMS" => options.max_idle_time = Some(Duration::from_millis(number()?)),
            "waitQueueTimeoutMS" => {
                options.wait_queue_timeout = Some(Duration::from_millis(number()?))
            }
            "appName" => {
                let app_name = value
                    .as_str()
                    .ok_or("poolOptions.appName is not a string")?;
                setup.app_name = Some(app_name.to_string());
            }
            "backgroundThreadIntervalMS" => {
                let interval = value
                    .as_i64()
                    .ok_or("poolOptions.backgroundThreadIntervalMS is not an integer")?;
                setup.background_runs = match u64::try_from(interval) {
                    Err(_) => BackgroundRuns::Never,
                    Ok(0) => return Err("backgroundThreadIntervalMS of 0 is not allowed".into()),
                    Ok(millis) => BackgroundRuns::Every(Duration::from_millis(millis)),
                };
            }
            other => return Err(format!("unknown pool option {other:?}")),
        }
    }
    Ok(setup)
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
            let mut given = Map::new();
            let mut put = |name: &str, value: Option<u64>| {
                if let Some(value) = value {
                    given.insert(name.to_string(), json!(value));
                }
            };
            put("maxPoolSize", options.max_pool_size.map(u64::from));
            put("minPoolSize", options.min_pool_size.map(u64::from));
            put("maxConnecting", options.max_connecting.map(u64::from));
            let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            put("maxIdleTimeMS", options.max_idle_time.map(millis));
            put("waitQueueTimeoutMS", options.wait_queue_timeout.map(millis));
            fields.insert("options".into(), Value::Object(given));
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
