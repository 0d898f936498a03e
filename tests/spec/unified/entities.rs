//! The entities of a unified test (clients, databases, collections, recorded topology
//! descriptions, threads) and the simulated deployment they talk to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bson::{Bson, Document};
use mongo_topology::sdam::TopologyDescription;
use mongo_topology::{Cluster, ClusterSettings};
use mongo_topology_sim::Deployment;
use serde_json::Value;

use super::events::{collect, EventLog, SharedLog};
use super::requirements::{Choice, Topology};

/// A client entity: a running cluster, the names of the events it observes, and its log.
#[derive(Clone)]
pub struct Client {
    pub cluster: Cluster,
    pub observe: Vec<String>,
    pub log: SharedLog,
    /// Commands whose monitoring events are ignored (`ignoreCommandMonitoringEvents`,
    /// plus `configureFailPoint`).
    pub ignore_commands: Vec<String>,
    /// `observeSensitiveCommands`.
    pub observe_sensitive: bool,
    /// `retryReads` and `retryWrites` (both default to true).
    pub retry_reads: bool,
    pub retry_writes: bool,
    /// `observeLogMessages`: the least severity collected per component.
    pub observe_logs: Vec<(String, String)>,
    /// The read preference mode of the database or collection an operation runs on
    /// (`databaseOptions` / `collectionOptions`), else the connection string's.
    pub read_mode: Option<String>,
}

/// The commands the Command Logging and Monitoring spec calls sensitive.
const SENSITIVE: [&str; 9] = [
    "authenticate",
    "saslstart",
    "saslcontinue",
    "getnonce",
    "createuser",
    "updateuser",
    "copydbgetnonce",
    "copydbsaslstart",
    "copydb",
];

/// The `readPreference.mode` of an entity's `options_key` (databaseOptions,
/// collectionOptions).
fn read_mode(spec: &Value, options_key: &str) -> Option<String> {
    spec.get(options_key)?
        .get("readPreference")?
        .get("mode")?
        .as_str()
        .map(str::to_owned)
}

impl Client {
    /// This client, reading with `mode` when one is given.
    pub fn reading(mut self, mode: Option<String>) -> Client {
        if mode.is_some() {
            self.read_mode = mode;
        }
        self
    }

    /// Whether the client observes `event` (its name is in `observeEvents`, and it is not
    /// a command event the format says to ignore).
    pub fn observes(&self, event: &super::events::Observed) -> bool {
        if !self.observe.iter().any(|o| o == event.name) {
            return false;
        }
        if event.event_type != super::events::EventType::Command {
            return true;
        }
        let name = event.fields.get_str("commandName").unwrap_or_default();
        if self.ignore_commands.iter().any(|c| c == name) {
            return false;
        }
        let lower = name.to_ascii_lowercase();
        let redacted_hello = matches!(lower.as_str(), "hello" | "ismaster")
            && (event
                .fields
                .get_document("command")
                .is_ok_and(|c| c.is_empty())
                || event
                    .fields
                    .get_document("reply")
                    .is_ok_and(|r| r.is_empty()));
        self.observe_sensitive || !(SENSITIVE.contains(&lower.as_str()) || redacted_hello)
    }
}

/// A thread entity: the chain of operations sent to it (each waits for the previous one).
pub type Thread = Arc<tokio::sync::Mutex<Option<tokio::task::JoinHandle<Result<(), String>>>>>;

#[derive(Clone)]
pub enum Entity {
    Client(Client),
    Database {
        client: String,
        name: String,
        read_mode: Option<String>,
    },
    Collection {
        client: String,
        database: String,
        name: String,
        read_mode: Option<String>,
    },
    Topology(Arc<TopologyDescription>),
    Thread(Thread),
    /// A value an operation saved with `saveResultAsEntity`.
    Value(Bson),
}

/// The deployment of one test, its entities, and the runner's own client.
pub struct World {
    pub deployment: Deployment,
    pub choice: Choice,
    pub entities: Mutex<HashMap<String, Entity>>,
    pub internal: Cluster,
}

/// The credentials of deployments started with authentication.
pub const USER: &str = "unified";
pub const PASSWORD: &str = "unified-pass";

impl World {
    /// The connection string for a client of this world (see [`client_uri`]).
    pub fn uri(&self, multiple_mongoses: bool, options: &[(String, String)]) -> String {
        client_uri(&self.deployment, &self.choice, multiple_mongoses, options)
    }

    pub fn get(&self, id: &str) -> Result<Entity, String> {
        self.entities
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| format!("no entity {id:?}"))
    }

    pub fn insert(&self, id: &str, entity: Entity) -> Result<(), String> {
        let mut entities = self.entities.lock().unwrap_or_else(|p| p.into_inner());
        if entities.contains_key(id) {
            return Err(format!("entity {id:?} already exists"));
        }
        entities.insert(id.to_owned(), entity);
        Ok(())
    }

    pub fn client(&self, id: &str) -> Result<Client, String> {
        match self.get(id)? {
            Entity::Client(client) => Ok(client),
            _ => Err(format!("entity {id:?} is not a client")),
        }
    }

    /// The client, database name and collection name of a collection entity.
    pub fn collection(&self, id: &str) -> Result<(Client, String, String), String> {
        match self.get(id)? {
            Entity::Collection {
                client,
                database,
                name,
                read_mode,
            } => Ok((self.client(&client)?.reading(read_mode), database, name)),
            _ => Err(format!("entity {id:?} is not a collection")),
        }
    }

    /// The client and database name of a database entity.
    pub fn database(&self, id: &str) -> Result<(Client, String), String> {
        match self.get(id)? {
            Entity::Database {
                client,
                name,
                read_mode,
            } => Ok((self.client(&client)?.reading(read_mode), name)),
            _ => Err(format!("entity {id:?} is not a database")),
        }
    }

    /// What `$$matchesEntity` compares to.
    pub fn entity_value(&self, id: &str) -> Option<Bson> {
        match self.get(id).ok()? {
            Entity::Value(value) => Some(value),
            _ => None,
        }
    }

    /// Creates the entities of a `createEntities` list.
    pub fn create_entities(&self, list: &[Value]) -> Result<(), String> {
        for item in list {
            let Some((kind, spec)) = item.as_object().and_then(|o| o.iter().next()) else {
                return Err(format!("bad entity {item}"));
            };
            let id = spec
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("entity without id: {item}"))?;
            let text = |key: &str| -> Result<String, String> {
                spec.get(key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{kind} {id:?} without {key}"))
            };
            let entity = match kind.as_str() {
                "client" => Entity::Client(self.create_client(spec)?),
                "database" => {
                    let client = text("client")?;
                    self.client(&client)?;
                    Entity::Database {
                        client,
                        name: text("databaseName")?,
                        read_mode: read_mode(spec, "databaseOptions"),
                    }
                }
                "collection" => {
                    let database = text("database")?;
                    let (client, database_name, inherited) = match self.get(&database)? {
                        Entity::Database {
                            client,
                            name,
                            read_mode,
                        } => (client, name, read_mode),
                        _ => return Err(format!("{database:?} is not a database")),
                    };
                    Entity::Collection {
                        client,
                        database: database_name,
                        name: text("collectionName")?,
                        read_mode: read_mode(spec, "collectionOptions").or(inherited),
                    }
                }
                "thread" => Entity::Thread(Arc::default()),
                other => return Err(format!("entity kind {other:?} is not supported")),
            };
            self.insert(id, entity)?;
        }
        Ok(())
    }

    fn create_client(&self, spec: &Value) -> Result<Client, String> {
        let options: Vec<(String, String)> = spec
            .get("uriOptions")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .map(|(key, value)| {
                        let text = match value {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (key.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let multiple = spec
            .get("useMultipleMongoses")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let uri = self.uri(multiple, &options);
        let mut settings = ClusterSettings::parse(&uri).map_err(|e| format!("{uri}: {e}"))?;
        // The drivers' tests assume what CMAP says: a pool opens connections for check-outs
        // and for minPoolSize only. The engine's warm-up (a connection opened as soon as a
        // server is discovered) would make e.g. the backpressure tests' first insert reuse
        // a connection established before their fail point, so it is off here.
        settings.warm_up = false;
        let observe: Vec<String> = spec
            .get("observeEvents")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let mut ignore_commands: Vec<String> = spec
            .get("ignoreCommandMonitoringEvents")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        ignore_commands.push("configureFailPoint".to_owned());
        let flag = |key: &str| {
            options
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v != "false")
                .unwrap_or(true)
        };
        let (cluster, subscriber) =
            Cluster::with_events(settings).map_err(|e| format!("client for {uri}: {e}"))?;
        let log: SharedLog = Arc::new(Mutex::new(EventLog::default()));
        collect(subscriber, log.clone());
        Ok(Client {
            cluster,
            observe,
            log,
            ignore_commands,
            observe_sensitive: spec
                .get("observeSensitiveCommands")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            retry_reads: flag("retryReads"),
            retry_writes: flag("retryWrites"),
            read_mode: options
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("readPreference"))
                .map(|(_, v)| v.clone()),
            observe_logs: spec
                .get("observeLogMessages")
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .filter_map(|(component, level)| {
                            Some((component.clone(), level.as_str()?.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Closes every client entity.
    pub async fn close_all(&self) {
        let clients: Vec<Cluster> = self
            .entities
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter_map(|entity| match entity {
                Entity::Client(client) => Some(client.cluster.clone()),
                _ => None,
            })
            .collect();
        for cluster in clients {
            cluster.close().await;
            super::logs::forget(&cluster.topology_id().to_hex());
        }
        self.internal.close().await;
    }
}

/// The connection string for a client of `deployment`: every node, or one mongos without
/// `useMultipleMongoses`, or the load balancer; with credentials when the deployment
/// requires authentication; plus `options`.
pub fn client_uri(
    deployment: &Deployment,
    choice: &Choice,
    multiple_mongoses: bool,
    options: &[(String, String)],
) -> String {
    let base = match choice.topology {
        Topology::LoadBalanced => deployment
            .load_balancer_connection_string()
            .unwrap_or_default(),
        Topology::Sharded if !multiple_mongoses => {
            format!("mongodb://{}/", deployment.addresses()[0])
        }
        _ => deployment.connection_string(),
    };
    let mut uri = if choice.auth {
        base.replacen("mongodb://", &format!("mongodb://{USER}:{PASSWORD}@"), 1)
    } else {
        base
    };
    for (key, value) in options {
        if key.eq_ignore_ascii_case("loadBalanced") && uri.contains("loadBalanced=") {
            continue;
        }
        uri.push(if uri.contains('?') { '&' } else { '?' });
        uri.push_str(&format!("{key}={value}"));
    }
    uri
}

/// The documents of a collection, sorted by `_id` (numbers and strings).
pub fn sorted_by_id(mut documents: Vec<Document>) -> Vec<Document> {
    documents.sort_by(|a, b| {
        let key = |d: &Document| match d.get("_id") {
            Some(Bson::Int32(n)) => (0, f64::from(*n), String::new()),
            Some(Bson::Int64(n)) => (0, *n as f64, String::new()),
            Some(Bson::Double(n)) => (0, *n, String::new()),
            Some(other) => (1, 0.0, other.to_string()),
            None => (2, 0.0, String::new()),
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.partial_cmp(&kb.1).unwrap_or(std::cmp::Ordering::Equal))
            .then(ka.2.cmp(&kb.2))
    });
    documents
}
