//! Running commands on selected servers (mgo's `AcquireSocket` done the SDAM way): select a
//! server, check a connection out of its pool, send the command with `$readPreference` where
//! the Server Selection spec requires it, and feed every error back to the SDAM core, so
//! that e.g. a NotWritablePrimary from a stepped-down primary marks it Unknown and requests
//! an immediate check.

use std::sync::Arc;

use bson::Document;

use crate::address::ServerAddress;
use crate::cluster::handle::Cluster;
use crate::cluster::selection_wait::SelectedServer;
use crate::command_events::{is_sensitive, CommandEvent, CommandStage};
use crate::connection::channel::reserve_request_id;
use crate::connection::error::{establishment_error, ConnectionError};
use crate::error::ClusterError;
use crate::events::{EventEmitter, EventKind};
use crate::pool::{CheckOutError, PoolError, PooledConnection};
use crate::sdam::errors::SYSTEM_OVERLOADED_LABEL;
use crate::sdam::{
    ApplicationError, ApplicationErrorKind, CommandFailure, ErrorPhase, ServerDescription,
};
use crate::selection::{read_preference_argument, SelectionCriteria};
use crate::wire::{MsgFlags, MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE_BYTES};
use mongo_topology_core::reply as reply_fields;
use std::time::Instant;

/// The least a first check-out waits for a warm-up connection in flight.
const WARM_UP_PATIENCE: std::time::Duration = std::time::Duration::from_millis(2);

/// A connection checked out of a selected server's pool, for callers that need several
/// round trips (a cursor, a transaction's statements). It returns to the pool when dropped,
/// and counts as an operation in progress on its server until then.
#[derive(Debug)]
pub struct ServerConnection {
    cluster: Cluster,
    selected: SelectedServer,
    connection: PooledConnection,
    read_preference: Option<Document>,
}

impl Cluster {
    /// Runs `command` on database `database` of a server selected for `criteria`, and
    /// returns the reply. A reply with `ok: 0` is a [`ClusterError::Command`] carrying the
    /// server's code, codeName and error labels; every error also goes to the SDAM core.
    pub async fn run_command(
        &self,
        database: &str,
        command: Document,
        criteria: &SelectionCriteria,
    ) -> Result<Document, ClusterError> {
        let mut connection = self.checkout(criteria).await?;
        connection.run_command(database, command).await
    }

    /// Selects a server for `criteria` (waiting up to serverSelectionTimeoutMS) and checks
    /// a connection out of its pool (establishing and authenticating one if needed).
    pub async fn checkout(
        &self,
        criteria: &SelectionCriteria,
    ) -> Result<ServerConnection, ClusterError> {
        let selected = self.select_server(criteria).await?;
        if let Some(runtime) = selected.runtime() {
            // Waiting up to two round trips for a warm-up connection in flight costs less
            // than opening another one (connect, handshake, authentication).
            let rtt = selected.description().round_trip_time.unwrap_or_default();
            runtime
                .await_warm_up(rtt.saturating_mul(2).max(WARM_UP_PATIENCE))
                .await;
        }
        let pool = selected.pool().ok_or(ClusterError::Closed)?;
        let connection = match pool.check_out().await {
            Ok(connection) => connection,
            Err(error) => {
                if let PoolError::Establishment {
                    address,
                    generation,
                    source,
                } = &error
                {
                    self.report_application_error(establishment_error(
                        address,
                        *generation,
                        source,
                    ))
                    .await;
                }
                return Err(ClusterError::Pool(with_cause(error, &selected)));
            }
        };
        let topology_type = selected.topology().topology_type;
        let read_preference =
            read_preference_argument(topology_type, selected.description().server_type, criteria);
        Ok(ServerConnection {
            cluster: self.clone(),
            selected,
            connection,
            read_preference,
        })
    }
}

impl ServerConnection {
    /// The server this connection is to.
    pub fn address(&self) -> &ServerAddress {
        self.selected.address()
    }

    /// The server's description when it was selected.
    pub fn description(&self) -> &Arc<ServerDescription> {
        self.selected.description()
    }

    /// The service behind the load balancer this connection reached (its handshake's
    /// `serviceId`; load-balanced mode only).
    pub fn service_id(&self) -> Option<bson::oid::ObjectId> {
        self.connection.service_id()
    }

    /// The pool's number for this connection (CMAP `connectionId`).
    pub fn pool_id(&self) -> crate::pool::ConnectionId {
        self.connection.pool_id()
    }

    /// The pool generation of this connection (what SDAM error handling compares).
    pub fn generation(&self) -> u32 {
        self.connection.generation()
    }

    /// Runs `command` on database `database` (adding `$db`, and `$readPreference` when the
    /// selection's criteria require it) and returns the reply. A command larger than the
    /// server's maxBsonObjectSize is refused before it is sent.
    pub async fn run_command(
        &mut self,
        database: &str,
        mut command: Document,
    ) -> Result<Document, ClusterError> {
        if let Some(read_preference) = &self.read_preference {
            command.insert("$readPreference", read_preference.clone());
        }
        self.check_size(&command)?;
        let address = self.address().clone();
        let monitor = CommandMonitor::start(self, database, &command);
        let mut interruption = self.connection.interruption();
        let connection = &mut self.connection;
        let request_id = monitor.request_id;
        let exchange = async {
            connection
                .send_as(request_id, database, command, MsgFlags::empty())
                .await?;
            connection.receive().await
        };
        // A clear with interruptInUseConnections (after a monitor's timeout) abandons the
        // operation at once rather than waiting out the socket timeout.
        let received = tokio::select! {
            received = exchange => received,
            () = interrupted(&mut interruption) => Err(ConnectionError::Network {
                cause: "interrupted: the server's pool was cleared".to_owned(),
            }),
        };
        let reply = match received {
            Ok(reply) => reply.body,
            Err(source) => {
                monitor.failed(source.to_string(), None);
                self.connection.mark_broken();
                let kind = match source {
                    ConnectionError::Timeout { .. } => ApplicationErrorKind::Timeout,
                    _ => ApplicationErrorKind::Network,
                };
                self.report(kind, false).await;
                return Err(ClusterError::Connection { address, source });
            }
        };
        let Some(failure) = CommandFailure::from_reply(&reply) else {
            monitor.succeeded(&reply);
            return Ok(reply);
        };
        if reply_fields::succeeded(&reply) {
            monitor.succeeded(&reply);
        } else {
            monitor.failed(failure.to_string(), failure.code);
        }
        let overloaded = failure.has_label(SYSTEM_OVERLOADED_LABEL);
        self.report(ApplicationErrorKind::Command(failure.clone()), overloaded)
            .await;
        if reply_fields::succeeded(&reply) {
            // A write concern error rides on `ok: 1`: SDAM has seen it; the reply is the
            // caller's to read.
            return Ok(reply);
        }
        Err(ClusterError::Command {
            address,
            failure: Box::new(failure),
        })
    }

    /// Refuses a command the server would refuse for its size: more than maxBsonObjectSize,
    /// or a message (the command plus OP_MSG framing) over maxMessageSizeBytes; the
    /// defaults (16 MiB, 48 MB) when the server did not say.
    fn check_size(&self, command: &Document) -> Result<(), ClusterError> {
        let server = self.description();
        let max_document = server
            .max_bson_object_size
            .unwrap_or(i64::from(MAX_BSON_OBJECT_SIZE));
        let max_message = server
            .max_message_size_bytes
            .unwrap_or(i64::from(MAX_MESSAGE_SIZE_BYTES));
        let size = command.to_vec().map(|bytes| bytes.len()).unwrap_or(0);
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        // Header (16), flag bits (4) and the section kind (1).
        let message = size.saturating_add(21);
        if size > max_document {
            return Err(ClusterError::CommandTooLarge {
                size,
                max: max_document,
            });
        }
        if message > max_message {
            return Err(ClusterError::CommandTooLarge {
                size: message,
                max: max_message,
            });
        }
        Ok(())
    }

    async fn report(&self, kind: ApplicationErrorKind, system_overloaded: bool) {
        let error = ApplicationError {
            address: self.address().clone(),
            generation: self.connection.generation(),
            service_id: self.connection.service_id(),
            phase: ErrorPhase::AfterHandshake,
            kind,
            system_overloaded,
        };
        self.cluster.report_application_error(error).await;
    }
}

/// A check-out that failed because the pool was cleared by a connection nobody waited for
/// (a warm-up or minPoolSize connection that could not authenticate, say) reports that
/// connection's failure, which says why, rather than the bare "pool cleared".
fn with_cause(error: PoolError, selected: &SelectedServer) -> PoolError {
    let PoolError::CheckOut {
        address,
        error: CheckOutError::PoolCleared,
    } = &error
    else {
        return error;
    };
    let Some(runtime) = selected.runtime() else {
        return error;
    };
    let last = runtime
        .last_failure
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    match last {
        Some((generation, source)) => PoolError::Establishment {
            address: address.clone(),
            generation,
            source,
        },
        None => error,
    }
}

/// The command monitoring events of one command: started when created, then one of
/// succeeded or failed. Costs nothing when nobody listens.
struct CommandMonitor {
    emitter: Option<EventEmitter>,
    template: Option<CommandEvent>,
    redacted: bool,
    started: Instant,
    request_id: i32,
}

impl CommandMonitor {
    fn start(connection: &ServerConnection, database: &str, command: &Document) -> Self {
        let emitter = connection.cluster.listened_emitter();
        let name = command.keys().next().cloned().unwrap_or_default();
        let redacted = is_sensitive(&name, command);
        let template = emitter.as_ref().map(|_| CommandEvent {
            command_name: name,
            database_name: database.to_owned(),
            request_id: 0,
            address: connection.address().clone(),
            connection_id: connection.pool_id(),
            server_connection_id: connection.connection.server_connection_id(),
            service_id: connection.service_id(),
            stage: CommandStage::Started {
                command: Document::new(),
            },
        });
        let monitor = CommandMonitor {
            emitter,
            template,
            redacted,
            started: Instant::now(),
            request_id: reserve_request_id(),
        };
        if monitor.emitter.is_some() {
            let mut shown = if redacted {
                Document::new()
            } else {
                command.clone()
            };
            if !redacted {
                shown.insert("$db", database);
            }
            monitor.emit(CommandStage::Started { command: shown });
        }
        monitor
    }

    fn emit(&self, stage: CommandStage) {
        let (Some(emitter), Some(template)) = (&self.emitter, &self.template) else {
            return;
        };
        let mut event = template.clone();
        event.request_id = self.request_id;
        event.stage = stage;
        emitter.emit(EventKind::Command(event));
    }

    fn succeeded(&self, reply: &Document) {
        if self.emitter.is_none() {
            return;
        }
        let reply = if self.redacted {
            Document::new()
        } else {
            reply.clone()
        };
        self.emit(CommandStage::Succeeded {
            reply,
            duration: self.started.elapsed(),
        });
    }

    fn failed(&self, failure: String, code: Option<i32>) {
        let failure = if self.redacted {
            String::new()
        } else {
            failure
        };
        self.emit(CommandStage::Failed {
            failure,
            code,
            duration: self.started.elapsed(),
        });
    }
}

/// Completes when `interruption` turns `true`; never if its pool is gone.
async fn interrupted(interruption: &mut tokio::sync::watch::Receiver<bool>) {
    if interruption.wait_for(|flag| *flag).await.is_err() {
        std::future::pending::<()>().await;
    }
}
