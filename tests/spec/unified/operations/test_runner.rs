//! The test runner's own operations (`failPoint`, `createEntities`, `waitForEvent`,
//! `assertEventCount`, `runOnThread`, …).

use std::sync::Arc;
use std::time::Duration;

use bson::Bson;
use mongo_topology::selection::SelectionCriteria;
use serde_json::Value;

use super::{argument_doc, command_first, count_matching, run, text, WAIT};
use crate::unified::entities::{Entity, World};

pub(super) async fn test_runner(
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
