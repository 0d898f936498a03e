//! Helpers for running the official MongoDB Rust driver (`mongodb`) against deployments of
//! the mongo-topology simulator.
//!
//! The simulator is reached only through its connection string (the driver dials it over
//! loopback) and its Rust control API; no BSON value crosses from one crate to the other.
//! The driver's view of the deployment is read from its own SDAM events, recorded by
//! [`SdamLog`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::event::command::CommandEvent;
use mongodb::event::sdam::{SdamEvent, TopologyDescription};
use mongodb::event::EventHandler;
use mongodb::options::ClientOptions;
use mongodb::{Client, ServerType, TopologyType};

/// How long the driver may look for a suitable server before an operation fails.
pub const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the driver's monitors check each server (the SDAM spec's minimum).
pub const HEARTBEAT_FREQUENCY: Duration = Duration::from_millis(500);

/// Every SDAM event the driver published, in order.
#[derive(Clone, Default)]
pub struct SdamLog {
    events: Arc<Mutex<Vec<SdamEvent>>>,
}

impl SdamLog {
    /// An empty log.
    pub fn new() -> SdamLog {
        SdamLog::default()
    }

    /// A handler that appends each event to this log.
    pub fn handler(&self) -> EventHandler<SdamEvent> {
        let events = Arc::clone(&self.events);
        EventHandler::callback(move |event| lock(&events).push(event))
    }

    /// The driver's latest topology description, if it published one.
    pub fn latest_topology(&self) -> Option<TopologyDescription> {
        lock(&self.events).iter().rev().find_map(|e| match e {
            SdamEvent::TopologyDescriptionChanged(changed) => Some(changed.new_description.clone()),
            _ => None,
        })
    }

    /// Every failed heartbeat, as "host:port: error" (empty when none failed).
    pub fn heartbeat_failures(&self) -> Vec<String> {
        lock(&self.events)
            .iter()
            .filter_map(|e| match e {
                SdamEvent::ServerHeartbeatFailed(f) => {
                    Some(format!("{}: {}", f.server_address, f.failure))
                }
                _ => None,
            })
            .collect()
    }

    /// How many successful heartbeats were awaitable (streaming) hellos.
    pub fn awaited_heartbeats(&self) -> usize {
        lock(&self.events)
            .iter()
            .filter(|e| matches!(e, SdamEvent::ServerHeartbeatSucceeded(s) if s.awaited))
            .count()
    }

    /// Waits until the latest topology description satisfies `want`, polling every 20 ms.
    /// On timeout, the error shows the last description seen.
    pub async fn wait_for_topology<F>(
        &self,
        what: &str,
        timeout: Duration,
        want: F,
    ) -> Result<TopologyDescription, String>
    where
        F: Fn(&TopologyDescription) -> bool,
    {
        let deadline = Instant::now() + timeout;
        loop {
            let latest = self.latest_topology();
            if let Some(t) = latest.as_ref().filter(|t| want(t)) {
                return Ok(t.clone());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what}; the driver's latest topology: {}",
                    latest.as_ref().map_or("none".to_owned(), describe)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn lock<T>(events: &Mutex<Vec<T>>) -> MutexGuard<'_, Vec<T>> {
    events.lock().unwrap_or_else(|p| p.into_inner())
}

/// What happened to one command the driver sent, from its command monitoring events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRecord {
    /// The command's name ("insert", "ping", ...).
    pub name: String,
    /// The "host:port" the command was sent to.
    pub address: String,
    /// `"started"`, `"succeeded"`, or `"failed: <error>"`.
    pub outcome: String,
}

/// Every command monitoring event the driver published, in order.
#[derive(Clone, Default)]
pub struct CommandLog {
    records: Arc<Mutex<Vec<CommandRecord>>>,
}

impl CommandLog {
    /// An empty log.
    pub fn new() -> CommandLog {
        CommandLog::default()
    }

    /// A handler that appends each event to this log.
    pub fn handler(&self) -> EventHandler<CommandEvent> {
        let records = Arc::clone(&self.records);
        EventHandler::callback(move |event| {
            let record = match event {
                CommandEvent::Started(e) => CommandRecord {
                    name: e.command_name,
                    address: e.connection.address.to_string(),
                    outcome: "started".to_owned(),
                },
                CommandEvent::Succeeded(e) => CommandRecord {
                    name: e.command_name,
                    address: e.connection.address.to_string(),
                    outcome: "succeeded".to_owned(),
                },
                CommandEvent::Failed(e) => CommandRecord {
                    name: e.command_name,
                    address: e.connection.address.to_string(),
                    outcome: format!("failed: {}", e.failure),
                },
                _ => return,
            };
            lock(&records).push(record);
        })
    }

    /// The records of commands named `name`, oldest first.
    pub fn named(&self, name: &str) -> Vec<CommandRecord> {
        lock(&self.records)
            .iter()
            .filter(|r| r.name == name)
            .cloned()
            .collect()
    }
}

/// The server types in a topology description, keyed by "host:port".
pub fn server_types(topology: &TopologyDescription) -> BTreeMap<String, ServerType> {
    topology
        .servers()
        .into_iter()
        .map(|(address, info)| (address.to_string(), info.server_type()))
        .collect()
}

/// Whether every server in the driver's topology has been checked (none is Unknown).
pub fn all_known(topology: &TopologyDescription) -> bool {
    server_types(topology)
        .values()
        .all(|kind| *kind != ServerType::Unknown)
}

/// The address of the topology's primary, if it has exactly one.
pub fn primary(topology: &TopologyDescription) -> Option<String> {
    let types = server_types(topology);
    let mut primaries = types
        .iter()
        .filter(|(_, t)| **t == ServerType::RsPrimary)
        .map(|(a, _)| a.clone());
    match (primaries.next(), primaries.next()) {
        (Some(p), None) => Some(p),
        _ => None,
    }
}

/// A one-line summary of a topology description for assertion messages.
pub fn describe(topology: &TopologyDescription) -> String {
    format!(
        "{:?} {:?}",
        topology.topology_type(),
        server_types(topology)
    )
}

/// Whether the topology is a replica set with a primary.
pub fn has_primary(topology: &TopologyDescription) -> bool {
    topology.topology_type() == TopologyType::ReplicaSetWithPrimary && primary(topology).is_some()
}

/// Parses `uri` and applies the short timeouts of these tests, recording SDAM events in `log`.
pub async fn client_options(uri: &str, log: &SdamLog) -> mongodb::error::Result<ClientOptions> {
    let mut options = ClientOptions::parse(uri).await?;
    options.server_selection_timeout = Some(SERVER_SELECTION_TIMEOUT);
    options.heartbeat_freq = Some(HEARTBEAT_FREQUENCY);
    options.connect_timeout = Some(Duration::from_secs(2));
    options.app_name = Some("mongo-topology-interop".to_owned());
    options.sdam_event_handler = Some(log.handler());
    Ok(options)
}

/// A driver client for `uri` with the short timeouts of these tests.
pub async fn client(uri: &str, log: &SdamLog) -> mongodb::error::Result<Client> {
    Client::with_options(client_options(uri, log).await?)
}

/// The server's error code and code name in a driver error, if the server answered with one
/// (a failed command, a write error, or a write concern error).
pub fn server_error(error: &mongodb::error::Error) -> Option<(i32, String)> {
    match error.kind.as_ref() {
        ErrorKind::Command(e) => Some((e.code, e.code_name.clone())),
        ErrorKind::Write(WriteFailure::WriteError(e)) => {
            Some((e.code, e.code_name.clone().unwrap_or_default()))
        }
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => Some((e.code, e.code_name.clone())),
        _ => None,
    }
}

/// Whether a command reply says `ok: 1` (as a double, an int32 or an int64).
pub fn reply_ok(reply: &mongodb::bson::Document) -> bool {
    use mongodb::bson::Bson;
    match reply.get("ok") {
        Some(Bson::Double(v)) => *v == 1.0,
        Some(Bson::Int32(v)) => *v == 1,
        Some(Bson::Int64(v)) => *v == 1,
        _ => false,
    }
}

/// Runs `future` for at most `limit`: a simulator that stops answering fails the test with
/// `what` instead of hanging it.
pub async fn within<F: std::future::Future>(
    limit: Duration,
    what: &str,
    future: F,
) -> Result<F::Output, String> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| format!("{what} took longer than {limit:?}"))
}

/// Shuts the client down (waiting at most 10 s), then the deployment.
pub async fn shut_down(
    client: Client,
    deployment: mongo_topology_sim::Deployment,
) -> Result<(), String> {
    let closed = within(
        Duration::from_secs(10),
        "Client::shutdown",
        client.shutdown().into_future(),
    )
    .await;
    deployment.shutdown().await;
    closed.map_err(|why| {
        format!("{why}: a cursor or session is still alive, or a server stopped answering")
    })
}
