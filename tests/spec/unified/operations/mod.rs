//! The operations of a unified test: CRUD operations mapped onto the engine's
//! `run_command`, and the test runner's own operations.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bson::{Bson, Document};
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::ClusterError;
use serde_json::Value;

mod crud;
mod test_runner;

use super::entities::{Client, Entity, World};
use super::events::event_matches;
use super::matching::match_root;
use crate::sdam::extjson::{to_bson, to_document};

/// How long `waitForEvent` and friends wait: more than a default heartbeat interval (an
/// awaited hello already in progress when a fail point is set ends after it).
const WAIT: Duration = Duration::from_secs(20);

/// An operation's failure as the format's `expectError` reads it.
#[derive(Debug)]
pub struct OperationError {
    pub client_side: bool,
    pub message: String,
    pub code: Option<i32>,
    pub code_name: Option<String>,
    pub labels: Vec<String>,
}

/// What an operation returned.
pub type Outcome = Result<Option<Bson>, OperationError>;

fn runner_error(message: String) -> OperationError {
    OperationError {
        client_side: true,
        message,
        code: None,
        code_name: None,
        labels: Vec::new(),
    }
}

fn from_cluster(error: ClusterError) -> OperationError {
    let labels = error.error_labels();
    match &error {
        ClusterError::Command { failure, .. } => OperationError {
            client_side: false,
            message: error.to_string(),
            code: failure.code,
            code_name: failure.code_name.clone(),
            labels,
        },
        _ => OperationError {
            labels,
            ..runner_error(error.to_string())
        },
    }
}

/// The codes the retryable reads and writes specs retry on.
const RETRYABLE_CODES: [i32; 12] = [
    11600, 11602, 10107, 13435, 13436, 189, 91, 7, 6, 89, 9001, 262,
];

/// Whether a driver retries an operation that failed with `error` (Retryable Reads /
/// Retryable Writes: network errors, a cleared pool, retryable codes and labels).
fn retryable(error: &ClusterError) -> bool {
    match error {
        ClusterError::Connection { .. } => true,
        ClusterError::Command { failure, .. } => {
            failure.has_label("RetryableWriteError")
                || failure.has_label("RetryableError")
                || failure.code.is_some_and(|c| RETRYABLE_CODES.contains(&c))
        }
        _ => error.has_label("RetryableWriteError") || error.has_label("RetryableError"),
    }
}

/// Runs `command` once more after a retryable failure, as drivers do when retryReads or
/// retryWrites is on (the runner plays the driver: the engine leaves retries to drivers).
async fn with_retry(
    client: &Client,
    retry: bool,
    database: &str,
    command: Document,
    criteria: &SelectionCriteria,
) -> Result<Document, ClusterError> {
    match client
        .cluster
        .run_command(database, command.clone(), criteria)
        .await
    {
        Err(error) if retry && retryable(&error) => {
            client
                .cluster
                .run_command(database, command, criteria)
                .await
        }
        other => other,
    }
}

/// Runs one operation of a test (`object` and `name`, `arguments`) and checks its
/// `expectError` / `expectResult`; `Err` says what went wrong.
pub fn run<'a>(
    world: &'a Arc<World>,
    operation: &'a Value,
) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
    Box::pin(async move {
        let name = operation
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let object = operation
            .get("object")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let empty = Value::Object(Default::default());
        let arguments = operation.get("arguments").unwrap_or(&empty);
        let outcome = if object == "testRunner" {
            test_runner::test_runner(world, name, arguments)
                .await
                .map_err(runner_error)
        } else {
            crud::entity_operation(world, object, name, arguments).await
        };
        let context = |why: String| format!("{object}.{name}: {why}");
        if operation
            .get("ignoreResultAndError")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Ok(());
        }
        if let Some(expected) = operation.get("expectError") {
            return match outcome {
                Ok(result) => Err(context(format!("expected an error, got {result:?}"))),
                Err(error) => check_error(expected, &error).map_err(context),
            };
        }
        let result = outcome.map_err(|e| context(format!("unexpected error: {}", e.message)))?;
        if let Some(id) = operation.get("saveResultAsEntity").and_then(Value::as_str) {
            world
                .insert(id, Entity::Value(result.clone().unwrap_or(Bson::Null)))
                .map_err(context)?;
        }
        if let Some(expected) = operation.get("expectResult") {
            let expected = to_bson(expected).map_err(context)?;
            let lookup = |id: &str| world.entity_value(id);
            match_root(&expected, result.as_ref(), &lookup).map_err(context)?;
        }
        Ok(())
    })
}

fn check_error(expected: &Value, error: &OperationError) -> Result<(), String> {
    let shown = || format!("{error:?}");
    if expected.get("isClientError").and_then(Value::as_bool) == Some(true) && !error.client_side {
        return Err(format!("expected a client error, got {}", shown()));
    }
    if expected.get("isClientError").and_then(Value::as_bool) == Some(false) && error.client_side {
        return Err(format!("expected a server error, got {}", shown()));
    }
    if let Some(text) = expected.get("errorContains").and_then(Value::as_str) {
        if !error.message.to_lowercase().contains(&text.to_lowercase()) {
            return Err(format!(
                "expected an error containing {text:?}, got {}",
                shown()
            ));
        }
    }
    if let Some(code) = expected.get("errorCode").and_then(Value::as_i64) {
        if error.code.map(i64::from) != Some(code) {
            return Err(format!("expected code {code}, got {}", shown()));
        }
    }
    if let Some(name) = expected.get("errorCodeName").and_then(Value::as_str) {
        if error.code_name.as_deref() != Some(name) {
            return Err(format!("expected codeName {name}, got {}", shown()));
        }
    }
    for label in expected
        .get("errorLabelsContain")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !error.labels.iter().any(|l| l == label) {
            return Err(format!("expected label {label}, got {}", shown()));
        }
    }
    for label in expected
        .get("errorLabelsOmit")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if error.labels.iter().any(|l| l == label) {
            return Err(format!("expected no label {label}, got {}", shown()));
        }
    }
    if expected.get("expectResult").is_some() {
        return Err(
            "expectError.expectResult (a bulk write's partial result) is not supported".into(),
        );
    }
    Ok(())
}

fn argument_doc(arguments: &Value, key: &str) -> Result<Document, String> {
    match arguments.get(key) {
        Some(value) => to_document(value),
        None => Ok(Document::new()),
    }
}

/// `command` with its key `name` first (a command document's first key names it).
fn command_first(command: Document, name: &str) -> Document {
    let mut ordered = Document::new();
    if let Some(value) = command.get(name) {
        ordered.insert(name, value.clone());
    }
    for (key, value) in command {
        if key != name {
            ordered.insert(key, value);
        }
    }
    ordered
}

fn text<'a>(arguments: &'a Value, key: &str) -> Result<&'a str, String> {
    arguments
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing argument {key}"))
}

fn count_matching(world: &World, client: &Client, expected: &Document) -> u64 {
    let lookup = |id: &str| world.entity_value(id);
    let log = client.log.lock().unwrap_or_else(|p| p.into_inner());
    log.events
        .iter()
        .filter(|e| client.observes(e) && event_matches(expected, e, &lookup).is_ok())
        .count() as u64
}

/// Matches the observed events of `client` of `event_type` against `expected`.
pub fn check_events(
    world: &World,
    client: &Client,
    event_type: super::events::EventType,
    expected: &[Value],
    ignore_extra: bool,
) -> Result<(), String> {
    let lookup = |id: &str| world.entity_value(id);
    let log = client.log.lock().unwrap_or_else(|p| p.into_inner());
    let actual: Vec<_> = log
        .events
        .iter()
        .filter(|e| e.event_type == event_type && client.observes(e))
        .collect();
    let shown = || {
        actual
            .iter()
            .map(|e| format!("{} {}", e.name, e.fields))
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    if actual.len() < expected.len() || (!ignore_extra && actual.len() != expected.len()) {
        return Err(format!(
            "expected {} {event_type:?} events, observed {}:\n  {}",
            expected.len(),
            actual.len(),
            shown()
        ));
    }
    for (i, (want, got)) in expected.iter().zip(&actual).enumerate() {
        let want = to_document(want)?;
        event_matches(&want, got, &lookup)
            .map_err(|why| format!("event {i}: {why}\nobserved:\n  {}", shown()))?;
    }
    Ok(())
}
