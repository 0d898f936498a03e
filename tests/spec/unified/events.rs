//! The engine's events as the unified format names and describes them, collected per
//! client entity.

use std::sync::{Arc, Mutex};

use bson::{doc, Bson, Document};
use mongo_topology::sdam::SdamEvent;
use mongo_topology::{ClusterEvent, CmapEventKind, CommandStage, EventKind, EventSubscriber};

/// The three kinds of events `expectEvents` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Command,
    Cmap,
    Sdam,
}

impl EventType {
    pub fn parse(name: Option<&str>) -> Result<EventType, String> {
        match name.unwrap_or("command") {
            "command" => Ok(EventType::Command),
            "cmap" => Ok(EventType::Cmap),
            "sdam" => Ok(EventType::Sdam),
            other => Err(format!("unknown eventType {other:?}")),
        }
    }
}

/// One observed event: its unified name (`commandStartedEvent` …), its type, and its
/// fields as the format compares them.
#[derive(Clone, Debug)]
pub struct Observed {
    pub name: &'static str,
    pub event_type: EventType,
    pub fields: Document,
}

/// Every event of one client, in order, plus the count of connections checked out now.
#[derive(Debug, Default)]
pub struct EventLog {
    pub events: Vec<Observed>,
    pub checked_out: i64,
}

pub type SharedLog = Arc<Mutex<EventLog>>;

/// Collects the events of `subscriber` into `log` until the cluster closes.
pub fn collect(mut subscriber: EventSubscriber, log: SharedLog) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match subscriber.recv().await {
                Ok(event) => {
                    if let Some(observed) = describe(&event) {
                        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                        match observed.name {
                            "connectionCheckedOutEvent" => log.checked_out += 1,
                            "connectionCheckedInEvent" => log.checked_out -= 1,
                            _ => {}
                        }
                        log.events.push(observed);
                    }
                }
                Err(mongo_topology::EventRecvError::Missed(_)) => {}
                Err(_) => return,
            }
        }
    })
}

fn observed(name: &'static str, event_type: EventType, fields: Document) -> Option<Observed> {
    Some(Observed {
        name,
        event_type,
        fields,
    })
}

/// The unified name and fields of an engine event; `None` for events the format has no
/// name for.
pub fn describe(event: &ClusterEvent) -> Option<Observed> {
    match &event.kind {
        EventKind::Command(command) => {
            let mut fields = doc! {
                "commandName": command.command_name.clone(),
                "databaseName": command.database_name.clone(),
                "hasServiceId": command.service_id.is_some(),
                "hasServerConnectionId": command.server_connection_id.is_some(),
            };
            match &command.stage {
                CommandStage::Started { command } => {
                    fields.insert("command", command.clone());
                    observed("commandStartedEvent", EventType::Command, fields)
                }
                CommandStage::Succeeded { reply, .. } => {
                    fields.insert("reply", reply.clone());
                    observed("commandSucceededEvent", EventType::Command, fields)
                }
                CommandStage::Failed { .. } => {
                    observed("commandFailedEvent", EventType::Command, fields)
                }
                _ => None,
            }
        }
        EventKind::Cmap(cmap) => {
            let (name, fields) = match &cmap.kind {
                CmapEventKind::PoolCreated { .. } => ("poolCreatedEvent", doc! {}),
                CmapEventKind::PoolReady => ("poolReadyEvent", doc! {}),
                CmapEventKind::PoolCleared {
                    interrupt_in_use_connections,
                    service_id,
                } => (
                    "poolClearedEvent",
                    doc! {
                        "hasServiceId": service_id.is_some(),
                        "interruptInUseConnections": *interrupt_in_use_connections,
                    },
                ),
                CmapEventKind::PoolClosed => ("poolClosedEvent", doc! {}),
                CmapEventKind::ConnectionCreated { .. } => ("connectionCreatedEvent", doc! {}),
                CmapEventKind::ConnectionReady { .. } => ("connectionReadyEvent", doc! {}),
                CmapEventKind::ConnectionClosed { reason, .. } => {
                    ("connectionClosedEvent", doc! { "reason": reason.as_str() })
                }
                CmapEventKind::ConnectionCheckOutStarted => {
                    ("connectionCheckOutStartedEvent", doc! {})
                }
                CmapEventKind::ConnectionCheckOutFailed { reason, .. } => (
                    "connectionCheckOutFailedEvent",
                    doc! { "reason": reason.as_str() },
                ),
                CmapEventKind::ConnectionCheckedOut { .. } => {
                    ("connectionCheckedOutEvent", doc! {})
                }
                CmapEventKind::ConnectionCheckedIn { .. } => ("connectionCheckedInEvent", doc! {}),
            };
            observed(name, EventType::Cmap, fields)
        }
        EventKind::Sdam(sdam) => {
            let (name, fields) = match sdam {
                SdamEvent::TopologyOpening => ("topologyOpeningEvent", doc! {}),
                SdamEvent::TopologyClosed => ("topologyClosedEvent", doc! {}),
                SdamEvent::ServerOpening { .. } => ("serverOpeningEvent", doc! {}),
                SdamEvent::ServerClosed { .. } => ("serverClosedEvent", doc! {}),
                SdamEvent::ServerDescriptionChanged { previous, new, .. } => (
                    "serverDescriptionChangedEvent",
                    doc! {
                        "previousDescription": { "type": previous.server_type.spec_name() },
                        "newDescription": { "type": new.server_type.spec_name() },
                    },
                ),
                SdamEvent::TopologyDescriptionChanged { previous, new } => (
                    "topologyDescriptionChangedEvent",
                    doc! {
                        "previousDescription": { "type": previous.topology_type.spec_name() },
                        "newDescription": { "type": new.topology_type.spec_name() },
                    },
                ),
                _ => return None,
            };
            observed(name, EventType::Sdam, fields)
        }
        EventKind::HeartbeatStarted { awaited, .. } => observed(
            "serverHeartbeatStartedEvent",
            EventType::Sdam,
            doc! { "awaited": *awaited },
        ),
        EventKind::HeartbeatSucceeded { awaited, .. } => observed(
            "serverHeartbeatSucceededEvent",
            EventType::Sdam,
            doc! { "awaited": *awaited },
        ),
        EventKind::HeartbeatFailed { awaited, .. } => observed(
            "serverHeartbeatFailedEvent",
            EventType::Sdam,
            doc! { "awaited": *awaited },
        ),
        _ => None,
    }
}

/// Whether `observed` matches an expected event `{name: {fields}}` (fields matched as a
/// root document).
pub fn event_matches(
    expected: &Document,
    observed: &Observed,
    lookup: super::matching::EntityLookup,
) -> Result<(), String> {
    let Some((name, fields)) = expected.iter().next() else {
        return Err("an expected event without a name".to_owned());
    };
    if name != observed.name {
        return Err(format!(
            "expected {name}, got {} {}",
            observed.name, observed.fields
        ));
    }
    let empty = Bson::Document(Document::new());
    let fields = if matches!(fields, Bson::Document(_)) {
        fields
    } else {
        &empty
    };
    let actual = Bson::Document(observed.fields.clone());
    let Bson::Document(expected_fields) = fields else {
        return Ok(());
    };
    for (key, value) in expected_fields {
        let present = observed.fields.get(key);
        // Event fields that hold documents (a command, a reply, a description) are
        // root documents: extra keys are allowed.
        let result = match key.as_str() {
            "command" | "reply" | "previousDescription" | "newDescription" => {
                super::matching::match_root(value, present, lookup)
            }
            _ => super::matching::match_value(value, present, lookup),
        };
        result.map_err(|why| format!("{name}.{key}: {why} (actual {actual})"))?;
    }
    Ok(())
}
