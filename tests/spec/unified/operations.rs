//! The operations of a unified test: CRUD operations mapped onto the engine's
//! `run_command`, and the test runner's own operations.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Bson, Document};
use mongo_topology::selection::{ReadPreference, SelectionCriteria};
use mongo_topology::{ClusterError, ServerConnection};
use serde_json::Value;

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
            test_runner(world, name, arguments)
                .await
                .map_err(runner_error)
        } else {
            entity_operation(world, object, name, arguments).await
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

async fn test_runner(
    world: &Arc<World>,
    name: &str,
    arguments: &Value,
) -> Result<Option<Bson>, String> {
    match name {
        "failPoint" => {
            let client = world.client(text(arguments, "client")?)?;
            let command =
                command_first(argument_doc(arguments, "failPoint")?, "configureFailPoint");
            client
                .cluster
                .run_command("admin", command, &SelectionCriteria::write())
                .await
                .map_err(|e| format!("configureFailPoint: {e}"))?;
            Ok(None)
        }
        "createEntities" => {
            let list = arguments
                .get("entities")
                .and_then(Value::as_array)
                .ok_or("createEntities without entities")?;
            world.create_entities(list)?;
            Ok(None)
        }
        "waitForEvent" => {
            let client = world.client(text(arguments, "client")?)?;
            let expected = argument_doc(arguments, "event")?;
            let count = arguments.get("count").and_then(Value::as_u64).unwrap_or(1);
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let found = count_matching(world, &client, &expected);
                if found >= count {
                    return Ok(None);
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(format!(
                        "waited {WAIT:?} for {count} {expected}, saw {found}"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        "assertEventCount" => {
            let client = world.client(text(arguments, "client")?)?;
            let expected = argument_doc(arguments, "event")?;
            let count = arguments.get("count").and_then(Value::as_u64).unwrap_or(0);
            let found = count_matching(world, &client, &expected);
            if found == count {
                Ok(None)
            } else {
                Err(format!("expected {count} {expected}, saw {found}"))
            }
        }
        "assertNumberConnectionsCheckedOut" => {
            let client = world.client(text(arguments, "client")?)?;
            let wanted = arguments
                .get("connections")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            // Events are delivered asynchronously: give the last ones a moment to arrive.
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            loop {
                let now = client
                    .log
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .checked_out;
                if now == wanted {
                    return Ok(None);
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(format!("{now} connections checked out, expected {wanted}"));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        "wait" => {
            let ms = arguments.get("ms").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(None)
        }
        "recordTopologyDescription" => {
            let client = world.client(text(arguments, "client")?)?;
            world.insert(
                text(arguments, "id")?,
                Entity::Topology(client.cluster.topology()),
            )?;
            Ok(None)
        }
        "assertTopologyType" => {
            let id = text(arguments, "topologyDescription")?;
            let wanted = text(arguments, "topologyType")?;
            match world.get(id)? {
                Entity::Topology(description) => {
                    let actual = description.topology_type.spec_name();
                    if actual == wanted {
                        Ok(None)
                    } else {
                        Err(format!("topology {id} is {actual}, expected {wanted}"))
                    }
                }
                _ => Err(format!("{id:?} is not a topology description")),
            }
        }
        "waitForPrimaryChange" => {
            let client = world.client(text(arguments, "client")?)?;
            let prior = match world.get(text(arguments, "priorTopologyDescription")?)? {
                Entity::Topology(description) => description,
                _ => return Err("priorTopologyDescription is not a topology description".into()),
            };
            let timeout = arguments
                .get("timeoutMS")
                .and_then(Value::as_u64)
                .map_or(WAIT, Duration::from_millis);
            let primary_of = |t: &mongo_topology::sdam::TopologyDescription| {
                t.servers
                    .values()
                    .find(|s| s.server_type == mongo_topology::sdam::ServerType::RsPrimary)
                    .map(|s| s.address.clone())
            };
            let before = primary_of(&prior);
            client
                .cluster
                .wait_for(
                    |t| primary_of(t).is_some_and(|p| Some(&p) != before.as_ref()),
                    timeout,
                )
                .await
                .map_err(|e| format!("no new primary: {e}"))?;
            Ok(None)
        }
        "runOnThread" => {
            let thread = match world.get(text(arguments, "thread")?)? {
                Entity::Thread(thread) => thread,
                _ => return Err("not a thread".into()),
            };
            let operation = arguments.get("operation").cloned().ok_or("no operation")?;
            let mut slot = thread.lock().await;
            let previous = slot.take();
            let world = world.clone();
            *slot = Some(tokio::spawn(async move {
                if let Some(previous) = previous {
                    previous.await.map_err(|e| e.to_string())??;
                }
                run(&world, &operation).await
            }));
            Ok(None)
        }
        "waitForThread" => {
            let thread = match world.get(text(arguments, "thread")?)? {
                Entity::Thread(thread) => thread,
                _ => return Err("not a thread".into()),
            };
            let handle = thread.lock().await.take();
            if let Some(handle) = handle {
                tokio::time::timeout(WAIT, handle)
                    .await
                    .map_err(|_| "the thread did not finish".to_owned())?
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("the thread's operation failed: {e}"))?;
            }
            Ok(None)
        }
        other => Err(format!("test runner operation {other:?} is not supported")),
    }
}

fn count_matching(world: &World, client: &Client, expected: &Document) -> u64 {
    let lookup = |id: &str| world.entity_value(id);
    let log = client.log.lock().unwrap_or_else(|p| p.into_inner());
    log.events
        .iter()
        .filter(|e| client.observes(e) && event_matches(expected, e, &lookup).is_ok())
        .count() as u64
}

fn primary() -> SelectionCriteria {
    SelectionCriteria::read(ReadPreference::primary())
}

/// The selection criteria of a read on `client`'s database or collection.
fn read_criteria(client: &Client) -> Result<SelectionCriteria, OperationError> {
    match &client.read_mode {
        None => Ok(primary()),
        Some(mode) => ReadPreference::from_uri_parts(Some(mode), &[], None)
            .map(SelectionCriteria::read)
            .map_err(|e| runner_error(format!("readPreference {mode:?}: {e}"))),
    }
}

async fn entity_operation(
    world: &Arc<World>,
    object: &str,
    name: &str,
    arguments: &Value,
) -> Outcome {
    let entity = world.get(object).map_err(runner_error)?;
    match entity {
        Entity::Collection { .. } => {
            let (client, database, collection) = world.collection(object).map_err(runner_error)?;
            collection_operation(&client, &database, &collection, name, arguments).await
        }
        Entity::Database { .. } => {
            let (client, database) = world.database(object).map_err(runner_error)?;
            database_operation(&client, &database, name, arguments).await
        }
        Entity::Client(client) => match name {
            "close" => {
                client.cluster.close().await;
                Ok(None)
            }
            other => Err(runner_error(format!(
                "client operation {other:?} is not supported"
            ))),
        },
        _ => Err(runner_error(format!(
            "operation {name:?} on {object:?} is not supported"
        ))),
    }
}

/// Runs a command and fails on `writeErrors` or `writeConcernError` as drivers do.
async fn write(
    client: &Client,
    database: &str,
    command: Document,
) -> Result<Document, OperationError> {
    let reply = with_retry(
        client,
        client.retry_writes,
        database,
        command,
        &SelectionCriteria::write(),
    )
    .await
    .map_err(from_cluster)?;
    let first_write_error = reply
        .get_array("writeErrors")
        .ok()
        .and_then(|errors| errors.first())
        .and_then(Bson::as_document)
        .cloned();
    if let Some(error) = first_write_error {
        return Err(OperationError {
            client_side: false,
            message: error.get_str("errmsg").unwrap_or_default().to_owned(),
            code: error.get_i32("code").ok(),
            code_name: None,
            labels: Vec::new(),
        });
    }
    if let Ok(error) = reply.get_document("writeConcernError") {
        return Err(OperationError {
            client_side: false,
            message: error.get_str("errmsg").unwrap_or_default().to_owned(),
            code: error.get_i32("code").ok(),
            code_name: error.get_str("codeName").ok().map(str::to_owned),
            labels: reply
                .get_array("errorLabels")
                .map(|labels| {
                    labels
                        .iter()
                        .filter_map(|l| l.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    Ok(reply)
}

/// Runs a cursor-returning command on one connection and reads every batch (`getMore`
/// with `batch_size`), retrying the first command once as retryReads says.
async fn read_all(
    client: &Client,
    database: &str,
    command: Document,
    collection: &str,
    batch_size: Option<Bson>,
) -> Outcome {
    let criteria = read_criteria(client)?;
    let mut attempt = 0;
    let (mut connection, reply) = loop {
        attempt += 1;
        let result = async {
            let mut connection: ServerConnection = client.cluster.checkout(&criteria).await?;
            let reply = connection.run_command(database, command.clone()).await?;
            Ok::<_, ClusterError>((connection, reply))
        }
        .await;
        match result {
            Ok(done) => break done,
            Err(error) if attempt == 1 && client.retry_reads && retryable(&error) => continue,
            Err(error) => return Err(from_cluster(error)),
        }
    };
    let cursor = reply
        .get_document("cursor")
        .map_err(|e| runner_error(e.to_string()))?;
    let mut documents: Vec<Bson> = cursor.get_array("firstBatch").cloned().unwrap_or_default();
    let mut id = cursor.get_i64("id").unwrap_or(0);
    while id != 0 {
        let mut get_more = doc! { "getMore": id, "collection": collection };
        if let Some(size) = &batch_size {
            get_more.insert("batchSize", size.clone());
        }
        let reply = connection
            .run_command(database, get_more)
            .await
            .map_err(from_cluster)?;
        let cursor = reply
            .get_document("cursor")
            .map_err(|e| runner_error(e.to_string()))?;
        documents.extend(cursor.get_array("nextBatch").cloned().unwrap_or_default());
        id = cursor.get_i64("id").unwrap_or(0);
    }
    Ok(Some(Bson::Array(documents)))
}

fn batch_size(arguments: &Value) -> Result<Option<Bson>, OperationError> {
    arguments
        .get("batchSize")
        .map(to_bson)
        .transpose()
        .map_err(runner_error)
}

async fn collection_operation(
    client: &Client,
    database: &str,
    collection: &str,
    name: &str,
    arguments: &Value,
) -> Outcome {
    let arg = |key: &str| argument_doc(arguments, key).map_err(runner_error);
    match name {
        "insertOne" => {
            let mut document = arg("document")?;
            if !document.contains_key("_id") {
                let mut with_id = doc! { "_id": bson::oid::ObjectId::new() };
                with_id.extend(document);
                document = with_id;
            }
            let id = document.get("_id").cloned().unwrap_or(Bson::Null);
            write(
                client,
                database,
                doc! { "insert": collection, "documents": [document] },
            )
            .await?;
            Ok(Some(Bson::Document(doc! { "insertedId": id })))
        }
        "insertMany" => {
            let documents = arguments
                .get("documents")
                .and_then(Value::as_array)
                .ok_or_else(|| runner_error("insertMany without documents".into()))?;
            let mut ids = Document::new();
            let mut batch = Vec::new();
            for (i, value) in documents.iter().enumerate() {
                let mut document = to_document(value).map_err(runner_error)?;
                if !document.contains_key("_id") {
                    let mut with_id = doc! { "_id": bson::oid::ObjectId::new() };
                    with_id.extend(document);
                    document = with_id;
                }
                ids.insert(
                    i.to_string(),
                    document.get("_id").cloned().unwrap_or(Bson::Null),
                );
                batch.push(document);
            }
            let ordered = arguments
                .get("ordered")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            write(
                client,
                database,
                doc! { "insert": collection, "ordered": ordered, "documents": batch },
            )
            .await?;
            Ok(Some(Bson::Document(doc! { "insertedIds": ids })))
        }
        "deleteOne" | "deleteMany" => {
            let limit = i32::from(name == "deleteOne");
            let reply = write(
                client,
                database,
                doc! { "delete": collection, "deletes": [{ "q": arg("filter")?, "limit": limit }] },
            )
            .await?;
            Ok(Some(Bson::Document(
                doc! { "deletedCount": reply.get_i32("n").unwrap_or(0) },
            )))
        }
        "updateOne" | "updateMany" | "replaceOne" => {
            let change = if name == "replaceOne" {
                arg("replacement")?
            } else {
                arg("update")?
            };
            let mut statement =
                doc! { "q": arg("filter")?, "u": change, "multi": name == "updateMany" };
            if let Some(upsert) = arguments.get("upsert").and_then(Value::as_bool) {
                statement.insert("upsert", upsert);
            }
            let reply = write(
                client,
                database,
                doc! { "update": collection, "updates": [statement] },
            )
            .await?;
            let upserted = reply.get_array("upserted").map(|u| u.len()).unwrap_or(0) as i32;
            Ok(Some(Bson::Document(doc! {
                "matchedCount": reply.get_i32("n").unwrap_or(0) - upserted,
                "modifiedCount": reply.get_i32("nModified").unwrap_or(0),
                "upsertedCount": upserted,
            })))
        }
        "find" => {
            let mut command = doc! { "find": collection, "filter": arg("filter")? };
            for key in ["sort", "projection", "skip", "limit", "batchSize"] {
                if let Some(value) = arguments.get(key) {
                    command.insert(key, to_bson(value).map_err(runner_error)?);
                }
            }
            read_all(
                client,
                database,
                command,
                collection,
                batch_size(arguments)?,
            )
            .await
        }
        "aggregate" => {
            let pipeline = to_bson(
                arguments
                    .get("pipeline")
                    .unwrap_or(&Value::Array(Vec::new())),
            )
            .map_err(runner_error)?;
            let mut cursor = Document::new();
            if let Some(size) = arguments.get("batchSize") {
                cursor.insert("batchSize", to_bson(size).map_err(runner_error)?);
            }
            let command = doc! { "aggregate": collection, "pipeline": pipeline, "cursor": cursor };
            read_all(
                client,
                database,
                command,
                collection,
                batch_size(arguments)?,
            )
            .await
        }
        "countDocuments" => {
            let command = doc! { "aggregate": collection, "pipeline": [{ "$match": arg("filter")? }], "cursor": {} };
            match read_all(client, database, command, collection, None).await? {
                Some(Bson::Array(found)) => Ok(Some(Bson::Int64(found.len() as i64))),
                other => Ok(other),
            }
        }
        "createIndex" => {
            let keys = arg("keys")?;
            let name = match arguments.get("name").and_then(Value::as_str) {
                Some(name) => name.to_owned(),
                None => keys
                    .iter()
                    .map(|(k, v)| format!("{k}_{v}"))
                    .collect::<Vec<_>>()
                    .join("_"),
            };
            write(
                client,
                database,
                doc! { "createIndexes": collection, "indexes": [{ "key": keys, "name": name.clone() }] },
            )
            .await?;
            Ok(Some(Bson::String(name)))
        }
        "listIndexes" => {
            let mut cursor = Document::new();
            if let Some(size) = batch_size(arguments)? {
                cursor.insert("batchSize", size);
            }
            let command = doc! { "listIndexes": collection, "cursor": cursor };
            read_all(
                client,
                database,
                command,
                collection,
                batch_size(arguments)?,
            )
            .await
        }
        "drop" => match write(client, database, doc! { "drop": collection }).await {
            Err(error) if error.code == Some(26) => Ok(None),
            other => other.map(|_| None),
        },
        other => Err(runner_error(format!(
            "collection operation {other:?} is not supported"
        ))),
    }
}

async fn database_operation(
    client: &Client,
    database: &str,
    name: &str,
    arguments: &Value,
) -> Outcome {
    match name {
        "runCommand" => {
            let command = argument_doc(arguments, "command").map_err(runner_error)?;
            // JSON objects lose their key order here: `commandName` says which key
            // names the command, and it goes first.
            let command = match arguments.get("commandName").and_then(Value::as_str) {
                Some(name) => command_first(command, name),
                None => command,
            };
            let criteria = match arguments.get("readPreference") {
                Some(preference) => {
                    let mode = preference.get("mode").and_then(Value::as_str);
                    let preference = ReadPreference::from_uri_parts(mode, &[], None)
                        .map_err(|e| runner_error(format!("readPreference: {e}")))?;
                    SelectionCriteria::read(preference)
                }
                None => primary(),
            };
            // runCommand is never retried (Retryable Reads: "runCommand" is excluded).
            let reply = client
                .cluster
                .run_command(database, command, &criteria)
                .await
                .map_err(from_cluster)?;
            Ok(Some(Bson::Document(reply)))
        }
        "listCollections" => {
            let mut cursor = Document::new();
            if let Some(size) = batch_size(arguments)? {
                cursor.insert("batchSize", size);
            }
            let mut command = doc! { "listCollections": 1, "cursor": cursor };
            if let Some(filter) = arguments.get("filter") {
                command.insert("filter", to_bson(filter).map_err(runner_error)?);
            }
            read_all(
                client,
                database,
                command,
                "$cmd.listCollections",
                batch_size(arguments)?,
            )
            .await
        }
        "createCollection" => {
            let collection = arguments
                .get("collection")
                .and_then(Value::as_str)
                .unwrap_or_default();
            write(client, database, doc! { "create": collection }).await?;
            Ok(None)
        }
        "dropCollection" => {
            let collection = arguments
                .get("collection")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match write(client, database, doc! { "drop": collection }).await {
                Err(error) if error.code == Some(26) => Ok(None),
                other => other.map(|_| None),
            }
        }
        other => Err(runner_error(format!(
            "database operation {other:?} is not supported"
        ))),
    }
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
