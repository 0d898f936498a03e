//! The unified test format runner (unified-test-format.md), for the SDAM and load-balancer
//! suites: each test gets a fresh simulated deployment that meets its
//! `runOnRequirements`, on loopback; its entities are engine clusters; its CRUD
//! operations are commands sent through `Cluster::run_command`; its expectations are
//! checked against the engine's SDAM, CMAP and command monitoring events and against the
//! documents the simulator holds.

mod entities;
mod events;
mod logs;
mod matching;
mod operations;
mod requirements;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bson::Bson;
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{Cluster, ClusterSettings};
use mongo_topology_sim::{Deployment, DeploymentSpec, SimUser};
use serde_json::Value;

use crate::harness::{Case, Outcome};
use crate::sdam::extjson::{to_bson, to_document};
use entities::{sorted_by_id, World, PASSWORD, USER};
use events::EventType;
use requirements::{choose, Choice, Topology};

/// The longest one test may run.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Operations (and entities) of driver features outside this project's scope: a test
/// that uses one is skipped with this reason.
fn unsupported_feature(test: &Value, file: &Value) -> Option<String> {
    const OUT_OF_SCOPE: [(&str, &str); 9] = [
        (
            "startTransaction",
            "transactions are a driver feature outside this project",
        ),
        (
            "commitTransaction",
            "transactions are a driver feature outside this project",
        ),
        (
            "abortTransaction",
            "transactions are a driver feature outside this project",
        ),
        (
            "withTransaction",
            "transactions are a driver feature outside this project",
        ),
        (
            "createFindCursor",
            "the cursor API is a driver feature outside this project",
        ),
        (
            "iterateUntilDocumentOrError",
            "the cursor API is a driver feature outside this project",
        ),
        (
            "createChangeStream",
            "change streams are a driver feature outside this project",
        ),
        (
            "assertSameLsidOnLastTwoCommands",
            "sessions are a driver feature outside this project",
        ),
        (
            "targetedFailPoint",
            "sessions pinned to a server are a driver feature outside this project",
        ),
    ];
    let mut operations: Vec<&Value> = Vec::new();
    for operation in test
        .get("operations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        operations.push(operation);
        // runOnThread carries one operation of its own.
        if let Some(inner) = operation.get("arguments").and_then(|a| a.get("operation")) {
            operations.push(inner);
        }
    }
    for operation in operations {
        let name = operation
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some((_, reason)) = OUT_OF_SCOPE.iter().find(|(n, _)| *n == name) {
            return Some(format!("{name}: {reason}"));
        }
    }
    let entity_lists = [file.get("createEntities")];
    for list in entity_lists.into_iter().flatten() {
        for entity in list.as_array().into_iter().flatten() {
            if entity.get("session").is_some() {
                let used = test.to_string().contains("\"session\"");
                if used {
                    return Some("sessions are a driver feature outside this project".into());
                }
            }
        }
    }
    None
}

/// Runs every test of one unified-format file.
pub fn run_file(_path: &Path, json: &Value) -> Vec<Case> {
    logs::install();
    if let Err(broken) = matching::self_check() {
        return vec![Case::new("(runner)", Outcome::Failed(broken))];
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return vec![Case::new("(file)", Outcome::Failed(error.to_string()))],
    };
    crate::harness::run_described_tests(json, |name, test| {
        if let Some(reason) = test.get("skipReason").and_then(Value::as_str) {
            return Case::new(name, Outcome::Skipped(format!("the file says: {reason}")));
        }
        if let Some(reason) = unsupported_feature(test, json) {
            return Case::new(name, Outcome::Skipped(reason));
        }
        let choice = match choose(json.get("runOnRequirements"), test.get("runOnRequirements")) {
            Ok(choice) => choice,
            Err(reason) => return Case::new(name, Outcome::Skipped(reason)),
        };
        let result = runtime.block_on(async {
            match tokio::time::timeout(TEST_TIMEOUT, run_test(json, test, choice)).await {
                Ok(result) => result,
                Err(_) => Err(format!("the test did not finish within {TEST_TIMEOUT:?}")),
            }
        });
        Case::from_result(name, result.map_err(|why| format!("on {choice:?}: {why}")))
    })
}

async fn start_deployment(choice: Choice) -> Result<Deployment, String> {
    let spec = match choice.topology {
        Topology::Single => DeploymentSpec::standalone(),
        Topology::ReplicaSet => DeploymentSpec::replica_set("rs0", 3, 0, 0),
        Topology::Sharded => DeploymentSpec::sharded(2),
        Topology::LoadBalanced => DeploymentSpec::sharded(1).with_load_balancer(0),
    };
    let mut spec = spec.with_version(choice.version);
    if choice.auth {
        spec = spec.with_user(SimUser::new(USER, PASSWORD));
    }
    Deployment::start(spec).await.map_err(|e| e.to_string())
}

async fn run_test(file: &Value, test: &Value, choice: Choice) -> Result<(), String> {
    let deployment = start_deployment(choice).await?;
    let uri = entities::client_uri(&deployment, &choice, true, &[]);
    let internal = Cluster::new(ClusterSettings::parse(&uri).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let world = Arc::new(World {
        deployment,
        choice,
        entities: Mutex::new(HashMap::new()),
        internal,
    });
    let result = run_in(&world, file, test).await;
    world.close_all().await;
    match Arc::try_unwrap(world) {
        Ok(world) => world.deployment.shutdown().await,
        Err(_) => return result.and(Err("a thread of the test still runs".to_owned())),
    }
    result
}

async fn run_in(world: &Arc<World>, file: &Value, test: &Value) -> Result<(), String> {
    initial_data(world, file).await?;
    if let Some(list) = file.get("createEntities").and_then(Value::as_array) {
        world.create_entities(list)?;
    }
    for (i, operation) in test
        .get("operations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        operations::run(world, operation)
            .await
            .map_err(|why| format!("operation {i}: {why}"))?;
    }
    for expectation in test
        .get("expectEvents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let client_id = expectation
            .get("client")
            .and_then(Value::as_str)
            .ok_or("expectEvents without client")?;
        let client = world.client(client_id)?;
        let event_type = EventType::parse(expectation.get("eventType").and_then(Value::as_str))?;
        let expected = expectation
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ignore_extra = expectation
            .get("ignoreExtraEvents")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        // Events are delivered asynchronously: wait a little for the last ones.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            match operations::check_events(world, &client, event_type, &expected, ignore_extra) {
                Ok(()) => break,
                Err(why) if tokio::time::Instant::now() > deadline => {
                    return Err(format!("expectEvents for {client_id}: {why}"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    for expectation in test
        .get("expectLogMessages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check_log_messages(world, expectation)?;
    }
    for outcome in test
        .get("outcome")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check_outcome(world, outcome)?;
    }
    Ok(())
}

async fn initial_data(world: &World, file: &Value) -> Result<(), String> {
    let criteria = SelectionCriteria::write();
    for data in file
        .get("initialData")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let database = data
            .get("databaseName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let collection = data
            .get("collectionName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // The collection may not exist: a failed drop is expected.
        let _ = world
            .internal
            .run_command(database, bson::doc! { "drop": collection }, &criteria)
            .await;
        world
            .internal
            .run_command(database, bson::doc! { "create": collection }, &criteria)
            .await
            .map_err(|e| format!("initialData create {database}.{collection}: {e}"))?;
        let documents = data
            .get("documents")
            .map(to_bson)
            .transpose()?
            .unwrap_or(Bson::Array(Vec::new()));
        if matches!(&documents, Bson::Array(items) if !items.is_empty()) {
            world
                .internal
                .run_command(
                    database,
                    bson::doc! { "insert": collection, "documents": documents },
                    &criteria,
                )
                .await
                .map_err(|e| format!("initialData insert {database}.{collection}: {e}"))?;
        }
    }
    Ok(())
}

fn check_outcome(world: &World, outcome: &Value) -> Result<(), String> {
    let database = outcome
        .get("databaseName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let collection = outcome
        .get("collectionName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let expected: Vec<_> = outcome
        .get("documents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(to_document)
        .collect::<Result<_, _>>()?;
    let actual = sorted_by_id(
        world
            .deployment
            .snapshot()
            .data
            .documents(database, collection),
    );
    let lookup = |id: &str| world.entity_value(id);
    let expected_bson = Bson::Array(expected.into_iter().map(Bson::Document).collect());
    let actual_bson = Bson::Array(actual.into_iter().map(Bson::Document).collect());
    matching::match_value(&expected_bson, Some(&actual_bson), &lookup)
        .map_err(|why| format!("outcome {database}.{collection}: {why}"))
}

/// One `expectLogMessages` entry: the client's messages of the observed components and
/// severities, minus `ignoreMessages`, matched in order against `messages`.
fn check_log_messages(world: &World, expectation: &Value) -> Result<(), String> {
    let client_id = expectation
        .get("client")
        .and_then(Value::as_str)
        .ok_or("expectLogMessages without client")?;
    let client = world.client(client_id)?;
    let lookup = |id: &str| world.entity_value(id);
    let as_message = |value: &Value| -> Result<(String, String, Bson), String> {
        let level = value
            .get("level")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let component = value
            .get("component")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let data = to_bson(value.get("data").unwrap_or(&Value::Null))?;
        Ok((level.to_owned(), component.to_owned(), data))
    };
    let matches = |expected: &(String, String, Bson), actual: &logs::LogRecord| {
        expected.0 == actual.level
            && expected.1 == actual.component
            && matching::match_root(
                &expected.2,
                Some(&Bson::Document(actual.data.clone())),
                &lookup,
            )
            .is_ok()
    };
    let ignored: Vec<_> = expectation
        .get("ignoreMessages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(as_message)
        .collect::<Result<_, _>>()?;
    let expected: Vec<_> = expectation
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(as_message)
        .collect::<Result<_, _>>()?;
    let ignore_extra = expectation
        .get("ignoreExtraMessages")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let actual: Vec<logs::LogRecord> = logs::for_topology(&client.cluster.topology_id().to_hex())
        .into_iter()
        .filter(|record| {
            client.observe_logs.iter().any(|(component, level)| {
                component == record.component
                    && logs::severity(record.level) >= logs::severity(level)
            })
        })
        .filter(|record| !ignored.iter().any(|i| matches(i, record)))
        .collect();
    let shown = || {
        actual
            .iter()
            .map(|r| format!("{} {} {}", r.level, r.component, r.data))
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    if actual.len() < expected.len() || (!ignore_extra && actual.len() != expected.len()) {
        return Err(format!(
            "expectLogMessages for {client_id}: expected {} messages, observed {}:\n  {}",
            expected.len(),
            actual.len(),
            shown()
        ));
    }
    for (i, (want, got)) in expected.iter().zip(&actual).enumerate() {
        if want.0 != got.level || want.1 != got.component {
            return Err(format!(
                "log message {i}: expected {} {}, got {} {}\n  {}",
                want.0,
                want.1,
                got.level,
                got.component,
                shown()
            ));
        }
        matching::match_root(&want.2, Some(&Bson::Document(got.data.clone())), &lookup)
            .map_err(|why| format!("log message {i}: {why}\nobserved:\n  {}", shown()))?;
    }
    Ok(())
}
