//! The one kind of connection the monitors use, the server monitor's and the RTT monitor's
//! alike ("Server Monitoring" spec): opened with the handshake (never authenticated), reads
//! bounded by connectTimeoutMS, and a hello per check, `hello` or legacy hello as the
//! server's `helloOk` said.

use std::time::Duration;

use bson::{Document, RawDocumentBuf};
use tokio::time::Instant;

use crate::address::ServerAddress;
use crate::connection::channel::{
    encode_command, reserve_connection_id, ConnectOptions, Connection, MAX_HELLO_REPLY_SIZE,
};
use crate::connection::error::ConnectionError;
use crate::connection::handshake::{handshake, hello_command, HandshakeOptions};
use crate::connection::reply::Reply;
use crate::connection::tls::TlsConnector;
use crate::settings::cluster_settings::ClusterSettings;
use crate::wire::MsgFlags;

/// How monitoring connections are opened: built once per cluster from its settings and
/// shared by every monitor and RTT monitor.
#[derive(Debug)]
pub(crate) struct MonitorConnector {
    connect: ConnectOptions,
    handshake: HandshakeOptions,
    tls: Option<TlsConnector>,
}

impl MonitorConnector {
    /// The connector for `settings`, with the handshake options and TLS configuration the
    /// cluster built for its pools.
    pub(crate) fn new(
        settings: &ClusterSettings,
        handshake: HandshakeOptions,
        tls: Option<TlsConnector>,
    ) -> Self {
        // Monitoring sockets use connectTimeoutMS for reads too (Server Monitoring spec).
        let connect = ConnectOptions {
            connect_timeout: settings.connect_timeout,
            socket_timeout: settings.connect_timeout,
            name_server: settings.dns.name_server,
        };
        MonitorConnector {
            connect,
            handshake,
            tls,
        }
    }

    /// Connects to `address` (the connection numbered `id`) and runs the handshake: the
    /// connection, the handshake's reply and its round trip (the first RTT sample).
    pub(crate) async fn open_as(
        &self,
        id: u64,
        address: &ServerAddress,
    ) -> Result<(MonitoringConnection, Document, Duration), ConnectionError> {
        let mut connection =
            Connection::connect_as(id, address, &self.connect, self.tls.as_ref()).await?;
        let outcome = handshake(&mut connection, &self.handshake).await?;
        connection.set_max_message_size(MAX_HELLO_REPLY_SIZE);
        let load_balanced = self.handshake.load_balanced;
        let hello = hello_command(!outcome.hello_ok, None, load_balanced, None);
        let monitoring = MonitoringConnection {
            connection,
            hello_ok: outcome.hello_ok,
            load_balanced,
            hello: encode_command("admin", hello)?,
        };
        Ok((monitoring, outcome.reply, outcome.round_trip_time))
    }

    /// One RTT sample over `slot` (the RTT monitor's): a hello on its connection whose reply
    /// is ignored, as the spec requires, or, when it has none, a new connection whose
    /// handshake is the sample. On an error the slot keeps what it had.
    pub(crate) async fn measure_round_trip(
        &self,
        slot: &mut Option<MonitoringConnection>,
        address: &ServerAddress,
    ) -> Result<Duration, ConnectionError> {
        match slot {
            Some(connection) => connection.round_trip().await,
            None => {
                let (connection, _reply, round_trip) =
                    self.open_as(reserve_connection_id(), address).await?;
                *slot = Some(connection);
                Ok(round_trip)
            }
        }
    }

    /// One check over `slot`: a hello on its connection, or, when it has none, a new
    /// connection (numbered `new_id`) whose handshake is the check. The reply (as received)
    /// and its round trip. On an error the slot keeps what it had: the caller decides
    /// whether to drop the connection.
    pub(crate) async fn check_as(
        &self,
        slot: &mut Option<MonitoringConnection>,
        address: &ServerAddress,
        new_id: u64,
    ) -> Result<(RawDocumentBuf, Duration), ConnectionError> {
        match slot {
            Some(connection) => connection.hello().await,
            None => {
                let (connection, reply, round_trip) = self.open_as(new_id, address).await?;
                // The handshake's reply was decoded (the handshake reads it whole); once
                // per connection it is encoded back, so that every check hands on one form.
                let reply = RawDocumentBuf::try_from(&reply).map_err(|error| {
                    ConnectionError::Protocol {
                        cause: format!("malformed handshake reply: {error}"),
                    }
                })?;
                *slot = Some(connection);
                Ok((reply, round_trip))
            }
        }
    }
}

/// A handshaken monitoring connection.
#[derive(Debug)]
pub(crate) struct MonitoringConnection {
    connection: Connection,
    /// Whether the server answered `helloOk: true` (then `hello` replaces legacy hello).
    hello_ok: bool,
    load_balanced: bool,
    /// The check's hello (or legacy hello), encoded once for every check of the connection.
    hello: Vec<u8>,
}

impl MonitoringConnection {
    /// The engine's id for this connection and the server's (its handshake's
    /// `connectionId`), for the heartbeat log messages.
    pub(crate) fn ids(&self) -> crate::logging::HeartbeatConnection {
        crate::logging::HeartbeatConnection {
            driver: Some(self.connection.id()),
            server: self.connection.server_connection_id(),
        }
    }

    /// A non-awaited hello: the reply (as received) and its round trip.
    pub(crate) async fn hello(&mut self) -> Result<(RawDocumentBuf, Duration), ConnectionError> {
        let started = Instant::now();
        let reply = self.connection.command_raw_encoded(&mut self.hello).await?;
        Ok((reply, started.elapsed()))
    }

    /// A hello whose reply is awaited but not read (the RTT monitor's): its round trip.
    pub(crate) async fn round_trip(&mut self) -> Result<Duration, ConnectionError> {
        let started = Instant::now();
        self.connection.round_trip_encoded(&mut self.hello).await?;
        Ok(started.elapsed())
    }

    /// Sends the awaitable hello of the streaming protocol (`exhaustAllowed`): the server
    /// answers when its `topologyVersion` changes, or after `max_await_time`.
    pub(crate) async fn send_awaitable_hello(
        &mut self,
        topology_version: &Document,
        max_await_time: Duration,
    ) -> Result<(), ConnectionError> {
        let command = hello_command(
            !self.hello_ok,
            None,
            self.load_balanced,
            Some((topology_version, max_await_time)),
        );
        self.connection
            .send("admin", command, MsgFlags::EXHAUST_ALLOWED)
            .await
            .map(|_request_id| ())
    }

    /// The next reply the server sends (as received), within `timeout` when given.
    pub(crate) async fn receive_within(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Reply<RawDocumentBuf>, ConnectionError> {
        self.connection.receive_raw_within(timeout).await
    }
}
