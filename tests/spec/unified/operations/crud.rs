//! CRUD operations on database and collection entities, as commands sent through the
//! engine's `run_command`, with the retries a driver would make.

use std::sync::Arc;

use bson::{doc, Bson, Document};
use mongo_topology::selection::{ReadPreference, SelectionCriteria};
use mongo_topology::{ClusterError, ServerConnection};
use serde_json::Value;

use super::{
    argument_doc, command_first, from_cluster, retryable, runner_error, with_retry, OperationError,
    Outcome,
};
use crate::sdam::extjson::{to_bson, to_document};
use crate::unified::entities::{Client, Entity, World};

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

pub(super) async fn entity_operation(
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
