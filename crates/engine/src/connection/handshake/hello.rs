//! The connection handshake (MongoDB Handshake spec) and the hello commands of monitoring
//! (Server Monitoring spec).

use std::sync::Arc;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use tokio::time::Instant;

use crate::connection::channel::{Connection, MAX_HELLO_REPLY_SIZE};
use crate::connection::error::ConnectionError;
use crate::wire::MAX_MESSAGE_SIZE_BYTES;

use crate::connection::handshake::metadata::client_metadata;

/// What the initial handshake says about the client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HandshakeOptions {
    /// The `client` document of every handshake: the connection string's `appName` (as
    /// `client.application.name`), this process's OS and environment. Built once per
    /// cluster, as drivers build it once per client: reading the environment and probing
    /// `/.dockerenv` for each of thousands of connections was a system call and an
    /// environment scan apiece.
    pub metadata: Arc<Document>,
    /// The connection string's `loadBalanced`: the handshake uses `hello` and says
    /// `loadBalanced: true`.
    pub load_balanced: bool,
}

impl HandshakeOptions {
    /// The options of a cluster with `app_name` and `load_balanced`, its client metadata
    /// read from the process now.
    pub(crate) fn new(app_name: Option<&str>, load_balanced: bool) -> Self {
        HandshakeOptions {
            metadata: Arc::new(client_metadata(app_name)),
            load_balanced,
        }
    }
}

impl Default for HandshakeOptions {
    /// No `appName`, not load balanced.
    fn default() -> Self {
        HandshakeOptions::new(None, false)
    }
}

/// The outcome of a successful initial handshake.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Handshake {
    /// The server's reply, as sent (`sdam::ServerDescription::from_hello` parses it).
    pub reply: Document,
    /// From sending the hello to receiving its reply: the first RTT sample.
    pub round_trip_time: Duration,
    /// Whether the reply said `helloOk: true`: later checks use `hello`, else `isMaster`.
    pub hello_ok: bool,
}

/// A hello command.
///
/// - `use_legacy`: `isMaster: 1` rather than `hello: 1`;
/// - `metadata`: the `client` document, for the initial handshake only; with it come the
///   handshake arguments `backpressure: "2"` and, on the legacy form, `helloOk: true`;
/// - `load_balanced`: adds `loadBalanced: true` (initial handshake only);
/// - `awaitable`: the server's last `topologyVersion` and the maxAwaitTime, for an
///   awaitable hello (`maxAwaitTimeMS` is sent as an int64).
///
/// The initial handshake is `hello_command(!load_balanced, Some(&metadata), load_balanced,
/// None)`; later checks pass `use_legacy = !hello_ok` and no metadata.
pub(crate) fn hello_command(
    use_legacy: bool,
    metadata: Option<&Document>,
    load_balanced: bool,
    awaitable: Option<(&Document, Duration)>,
) -> Document {
    let mut command = if use_legacy {
        doc! { "isMaster": 1 }
    } else {
        doc! { "hello": 1 }
    };
    if let Some(metadata) = metadata {
        if use_legacy {
            command.insert("helloOk", true);
        }
        command.insert("backpressure", "2");
        command.insert("client", metadata.clone());
        if load_balanced {
            command.insert("loadBalanced", true);
        }
    }
    if let Some((topology_version, max_await_time)) = awaitable {
        command.insert("topologyVersion", topology_version.clone());
        let millis = i64::try_from(max_await_time.as_millis()).unwrap_or(i64::MAX);
        command.insert("maxAwaitTimeMS", millis);
    }
    command
}

/// Performs the initial handshake on a new connection: the legacy hello with `helloOk`
/// (or `hello` when load balanced) and the client metadata, on database `admin`, with the
/// connection's connect timeout as the reply timeout. Measures the round trip.
///
/// A reply with `ok: 0` is a [`ConnectionError::Command`]; the caller must then close the
/// connection.
pub(crate) async fn handshake(
    conn: &mut Connection,
    options: &HandshakeOptions,
) -> Result<Handshake, ConnectionError> {
    handshake_with_fields(conn, options, bson::Document::new()).await
}

/// [`handshake`] with `fields` appended to the hello command: the authentication fields
/// of a pool connection (`saslSupportedMechs`, `speculativeAuthenticate`; see
/// [`crate::connection::auth::PreparedAuth::handshake_fields`]).
pub(crate) async fn handshake_with_fields(
    conn: &mut Connection,
    options: &HandshakeOptions,
    fields: Document,
) -> Result<Handshake, ConnectionError> {
    let mut command = hello_command(
        !options.load_balanced,
        Some(&options.metadata),
        options.load_balanced,
        None,
    );
    command.extend(fields);
    let timeout = conn.options().connect_timeout;
    let started = Instant::now();
    // A hello reply is one document: refuse a bigger one on its header, then give the
    // connection back its limit for commands (maxMessageSizeBytes).
    conn.set_max_message_size(MAX_HELLO_REPLY_SIZE);
    let reply = conn.command_within("admin", command, timeout).await;
    conn.set_max_message_size(MAX_MESSAGE_SIZE_BYTES);
    let reply = reply?;
    let round_trip_time = started.elapsed();
    let hello_ok = reply.get_bool("helloOk").unwrap_or(false);
    if options.load_balanced {
        conn.set_service_id(service_id(&reply)?);
    }
    match reply.get("connectionId") {
        Some(bson::Bson::Int32(id)) => conn.set_server_connection_id(i64::from(*id)),
        Some(bson::Bson::Int64(id)) => conn.set_server_connection_id(*id),
        Some(bson::Bson::Double(id)) if id.fract() == 0.0 && id.abs() < 9.0e15 => {
            conn.set_server_connection_id(*id as i64)
        }
        _ => {}
    }
    tracing::debug!(
        connection = conn.id(),
        address = %conn.address(),
        ?round_trip_time,
        hello_ok,
        "handshake done"
    );
    Ok(Handshake {
        reply,
        round_trip_time,
        hello_ok,
    })
}

/// The `serviceId` a service behind a load balancer must put in its handshake reply.
fn service_id(reply: &Document) -> Result<ObjectId, ConnectionError> {
    match reply.get("serviceId") {
        Some(Bson::ObjectId(id)) => Ok(*id),
        _ => Err(ConnectionError::NoServiceId),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_handshake_is_legacy_hello_with_hello_ok_and_metadata() {
        let metadata = doc! { "driver": { "name": "mongo-topology" } };
        let command = hello_command(true, Some(&metadata), false, None);
        assert_eq!(
            command,
            doc! {
                "isMaster": 1, "helloOk": true, "backpressure": "2", "client": metadata,
            }
        );
        assert_eq!(command.keys().next().map(String::as_str), Some("isMaster"));
    }

    #[test]
    fn load_balanced_handshake_uses_hello() {
        let metadata = doc! {};
        let command = hello_command(false, Some(&metadata), true, None);
        assert_eq!(command.keys().next().map(String::as_str), Some("hello"));
        assert_eq!(command.get_bool("loadBalanced").ok(), Some(true));
        assert!(!command.contains_key("helloOk"));
    }

    #[test]
    fn a_load_balanced_handshake_needs_an_object_id_service_id() {
        let id = ObjectId::new();
        assert_eq!(service_id(&doc! { "ok": 1, "serviceId": id }), Ok(id));
        for reply in [doc! { "ok": 1 }, doc! { "ok": 1, "serviceId": "abc" }] {
            assert_eq!(service_id(&reply), Err(ConnectionError::NoServiceId));
        }
    }

    #[test]
    fn later_checks_carry_no_handshake_arguments() {
        for legacy in [true, false] {
            let command = hello_command(legacy, None, true, None);
            assert_eq!(command.len(), 1, "{command}");
        }
        assert_eq!(hello_command(false, None, false, None), doc! { "hello": 1 });
        assert_eq!(
            hello_command(true, None, false, None),
            doc! { "isMaster": 1 }
        );
    }

    #[test]
    fn awaitable_hello_adds_topology_version_and_max_await_time_as_int64() {
        let tv = doc! { "processId": bson::oid::ObjectId::new(), "counter": 3i64 };
        let command = hello_command(false, None, false, Some((&tv, Duration::from_secs(10))));
        assert_eq!(
            command,
            doc! { "hello": 1, "topologyVersion": tv, "maxAwaitTimeMS": 10_000i64 }
        );
    }
}
