//! One client connection: a TCP stream speaking OP_MSG, with connect and socket timeouts.
//!
//! Reading goes through the wire codec's [`MessageReader`], which owns its buffer and is
//! cancellation safe: a read dropped by a timeout or a `select!` loses no byte, and the next
//! one continues the same message. Writing goes through a [`MessageWriter`] that reuses one
//! encoding buffer.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

use bson::{Document, RawDocumentBuf};

use crate::connection::dns::resolve;
use crate::connection::error::ConnectionError;
use crate::connection::reply::{command_error, Reply};
use crate::connection::stream::{split, split_tcp, ReadStream, WriteStream};
use crate::connection::tcp::connect_any;
use crate::connection::tls::{TlsConnector, TlsInfo};
use crate::wire::framing::{FrameError, MessageReader, MessageWriter};
use crate::wire::{Message, MsgFlags, OpMsg, Payload, WireError, MAX_MESSAGE_SIZE_BYTES};
use crate::ServerAddress;

mod awaited;
mod encoded;
mod frames;

pub(crate) use encoded::encode_command;
use frames::{decode_reply_frame, frame_error};

/// The timeouts of a connection, from the connection string's `connectTimeoutMS` and
/// `socketTimeoutMS`. `None` (or a zero duration) means no timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// How long name resolution and each TCP connection attempt may take (default 10 s).
    pub connect_timeout: Option<Duration>,
    /// How long each read or write may take once connected (default: no limit).
    pub socket_timeout: Option<Duration>,
    /// The name server host names are looked up at (A and AAAA records), as set by
    /// [`crate::connection::dns::DnsSettings::name_server`]; `None`, the default, uses the system's
    /// resolver.
    pub name_server: Option<std::net::SocketAddr>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Some(Duration::from_secs(10)),
            socket_timeout: None,
            name_server: None,
        }
    }
}

/// The largest message a monitoring connection accepts: a hello reply is one BSON document,
/// which a server keeps within maxBsonObjectSize plus its 16 KiB of internal headroom
/// (`BSONObjMaxInternalSize`). A bigger one (a server advertising a million hosts, say) is
/// refused on its header, before it costs any memory: by the handshake of every connection
/// and by every check of a monitor.
pub const MAX_HELLO_REPLY_SIZE: i32 = crate::wire::MAX_BSON_OBJECT_SIZE + 16 * 1024;

/// Identifiers of connections, unique in the process.
static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);
/// Request identifiers, unique in the process (wrapping, never 0).
static NEXT_REQUEST_ID: AtomicI32 = AtomicI32::new(1);

/// An id for a connection to be opened with [`Connection::connect_as`].
pub(crate) fn reserve_connection_id() -> u64 {
    NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed)
}

/// A requestID for a message to be sent with [`Connection::send_as`].
pub(crate) fn reserve_request_id() -> i32 {
    next_request_id()
}

fn next_request_id() -> i32 {
    loop {
        let id = NEXT_REQUEST_ID.fetch_add(1, Ordering::Relaxed);
        if id != 0 {
            return id;
        }
    }
}

/// One connection to a server over TCP, or TLS over TCP, speaking OP_MSG.
///
/// Requests and replies alternate, except in exhaust streaming: after a request sent with
/// [`MsgFlags::EXHAUST_ALLOWED`], each reply flagged `more_to_come` is followed by another
/// one, read with [`Connection::receive`] or [`Connection::receive_within`] without sending
/// anything. Each reply must answer the request, or the previous reply of the stream; any
/// other reply is a [`ConnectionError::Protocol`] error.
///
/// After a network or protocol error the connection is unusable, and every later call fails
/// with a [`ConnectionError::Network`] error repeating the first cause.
#[derive(Debug)]
pub struct Connection {
    id: u64,
    address: ServerAddress,
    options: ConnectOptions,
    reader: MessageReader<ReadStream>,
    writer: MessageWriter<WriteStream>,
    /// What the TLS handshake negotiated, on a TLS connection.
    tls: Option<TlsInfo>,
    /// Whether the server has sent any reply yet.
    replied: bool,
    /// The requestID the next reply must answer (`responseTo`), if a reply is expected.
    awaiting: Option<i32>,
    /// Why the connection broke, if it did.
    broken: Option<String>,
    /// The `serviceId` of the handshake reply, in load-balanced mode.
    service_id: Option<bson::oid::ObjectId>,
    /// The server's number for this connection (its handshake reply's `connectionId`).
    server_connection_id: Option<i64>,
}

impl Connection {
    /// Resolves `address` (IPv4 and IPv6; an IP literal needs no lookup) and connects to the
    /// first resolved address that accepts, each attempt under the connect timeout.
    ///
    /// Errors: [`ConnectionError::Dns`] when the name does not resolve,
    /// [`ConnectionError::Connect`] or [`ConnectionError::Timeout`] (during `"connect"`) for
    /// the last failed attempt. Unix domain sockets are not supported yet (`Connect`).
    pub async fn connect(
        address: &ServerAddress,
        options: &ConnectOptions,
    ) -> Result<Connection, ConnectionError> {
        Connection::connect_with_tls(address, options, None).await
    }

    /// [`Connection::connect`], then, with `tls`, the TLS handshake, under the same connect
    /// timeout. A failed handshake is a [`ConnectionError::Tls`] naming the cause (unknown
    /// issuer, expired certificate, name mismatch, a server that does not speak TLS).
    pub async fn connect_with_tls(
        address: &ServerAddress,
        options: &ConnectOptions,
        tls: Option<&TlsConnector>,
    ) -> Result<Connection, ConnectionError> {
        Connection::connect_as(reserve_connection_id(), address, options, tls).await
    }

    /// [`Connection::connect_with_tls`] for a connection whose id was taken beforehand
    /// with [`reserve_connection_id`] (a monitor names it in its heartbeat-started log).
    pub(crate) async fn connect_as(
        id: u64,
        address: &ServerAddress,
        options: &ConnectOptions,
        tls: Option<&TlsConnector>,
    ) -> Result<Connection, ConnectionError> {
        let connect_timeout = non_zero(options.connect_timeout);
        let ServerAddress::Tcp { host, port } = address else {
            return Err(ConnectionError::Connect {
                address: address.to_string(),
                cause: "Unix domain sockets are not supported yet".to_owned(),
            });
        };
        let addresses = match options.name_server {
            Some(name_server) => {
                crate::connection::dns::lookup_host(name_server, host, *port, connect_timeout)
                    .await?
            }
            None => resolve(host, *port, connect_timeout).await?,
        };
        let stream = connect_any(&address.to_string(), &addresses, connect_timeout).await?;
        tracing::debug!(connection = id, %address, peer = ?stream.peer_addr().ok(), "connected");
        let (read_half, write_half, tls) = match tls {
            None => {
                let (read, write) = split_tcp(stream);
                (read, write, None)
            }
            Some(connector) => {
                let (stream, info) = within(
                    connect_timeout,
                    "TLS handshake",
                    connector.handshake(host, stream),
                )
                .await?;
                tracing::debug!(connection = id, protocol = %info.protocol, "TLS established");
                let (read, write) = split(stream);
                (read, write, Some(info))
            }
        };
        Ok(Connection {
            id,
            address: address.clone(),
            options: *options,
            reader: MessageReader::new(read_half, MAX_MESSAGE_SIZE_BYTES),
            writer: MessageWriter::new(write_half),
            tls,
            replied: false,
            awaiting: None,
            broken: None,
            service_id: None,
            server_connection_id: None,
        })
    }

    /// What the TLS handshake negotiated; `None` on a plain TCP connection.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// The server address this connection was opened to.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// This connection's identifier: unique in the process, increasing with each connection.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The timeouts this connection was opened with.
    pub fn options(&self) -> &ConnectOptions {
        &self.options
    }

    /// The service behind the load balancer this connection reached: the `serviceId` of
    /// its handshake reply (load-balanced mode only; `None` otherwise).
    pub fn service_id(&self) -> Option<bson::oid::ObjectId> {
        self.service_id
    }

    /// The server's number for this connection: the `connectionId` of its handshake reply,
    /// if the server gave one.
    pub fn server_connection_id(&self) -> Option<i64> {
        self.server_connection_id
    }

    /// Records the `connectionId` of the handshake reply.
    pub(crate) fn set_server_connection_id(&mut self, id: i64) {
        self.server_connection_id = Some(id);
    }

    /// Records the `serviceId` of the handshake reply.
    pub(crate) fn set_service_id(&mut self, service_id: bson::oid::ObjectId) {
        self.service_id = Some(service_id);
    }

    /// Lowers (or restores) the largest message this connection accepts, from the default
    /// maxMessageSizeBytes; a larger announced messageLength is a protocol error before any
    /// of the body is read. The handshake reads its hello reply under
    /// [`MAX_HELLO_REPLY_SIZE`], and monitoring connections keep that limit.
    pub fn set_max_message_size(&mut self, max_message_size: i32) {
        self.reader
            .decoder_mut()
            .set_max_message_size(max_message_size);
    }

    /// Whether an earlier network or protocol error made the connection unusable.
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Whether a reply is expected: a request was sent and not yet answered, or the last
    /// reply was flagged `more_to_come`.
    pub fn awaiting_reply(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Sends `command` to database `db` as an OP_MSG with `flags` (adding `$db`) under the
    /// socket timeout, and returns the request's id. A reply is then expected unless `flags`
    /// has [`MsgFlags::MORE_TO_COME`].
    pub async fn send(
        &mut self,
        db: &str,
        command: Document,
        flags: MsgFlags,
    ) -> Result<i32, ConnectionError> {
        self.send_as(next_request_id(), db, command, flags).await
    }

    /// [`Connection::send`] under a requestID taken beforehand with
    /// [`reserve_request_id`] (so that a command's started event can carry it).
    pub(crate) async fn send_as(
        &mut self,
        request_id: i32,
        db: &str,
        mut command: Document,
        flags: MsgFlags,
    ) -> Result<i32, ConnectionError> {
        self.check_usable()?;
        command.insert("$db", db);
        let message = Message {
            request_id,
            response_to: 0,
            payload: Payload::Msg(OpMsg {
                flags,
                body: command,
                sequences: Vec::new(),
            }),
        };
        let written = within(
            non_zero(self.options.socket_timeout),
            "write",
            self.write_frame(&message),
        )
        .await;
        self.sent(request_id, flags, written)
    }

    /// After a request was written (or not): a write that timed out leaves the connection
    /// unusable; a reply is then awaited unless `flags` has moreToCome.
    fn sent(
        &mut self,
        request_id: i32,
        flags: MsgFlags,
        written: Result<(), ConnectionError>,
    ) -> Result<i32, ConnectionError> {
        if let Err(ConnectionError::Timeout { .. }) = &written {
            // Part of the message may be on the wire: nothing can follow it.
            self.broken = Some("a write timed out".to_owned());
        }
        self.note_failure(written)?;
        self.awaiting = (!flags.contains(MsgFlags::MORE_TO_COME)).then_some(request_id);
        Ok(request_id)
    }

    /// Reads the next reply under the socket timeout.
    pub async fn receive(&mut self) -> Result<Reply, ConnectionError> {
        self.receive_within(non_zero(self.options.socket_timeout))
            .await
    }

    /// Reads the next reply under `timeout` (`None`: no limit) instead of the socket
    /// timeout: an awaitable hello's reply may take connectTimeoutMS + maxAwaitTimeMS.
    ///
    /// The reply must be an OP_MSG answering the last request (or the previous reply of an
    /// exhaust stream), else [`ConnectionError::Protocol`].
    pub async fn receive_within(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Reply, ConnectionError> {
        let reply = self.receive_raw_within(timeout).await?;
        let body = Document::try_from(reply.body.as_ref()).map_err(|e| {
            frame_error(FrameError::Wire(WireError::InvalidBson {
                what: "OP_MSG body section",
                reason: e.to_string(),
            }))
        });
        Ok(Reply {
            body: self.note_failure(body)?,
            more_to_come: reply.more_to_come,
        })
    }

    /// [`Connection::receive_within`], the reply's body as received: its bytes checked
    /// (well formed, nesting bounded) but not decoded, for a reader of a few fields (the
    /// monitors read hello replies so).
    pub async fn receive_raw_within(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Reply<RawDocumentBuf>, ConnectionError> {
        self.check_usable()?;
        let read = within(
            non_zero(timeout),
            "read",
            self.read_frame(decode_reply_frame),
        )
        .await;
        let message = self.note_failure(read)?;
        let checked = self.check_reply(message);
        self.note_failure(checked)
    }

    /// Runs `command` on database `db`: sends it, reads its reply under the socket timeout,
    /// and returns the reply document. A reply with `ok` other than 1 is a
    /// [`ConnectionError::Command`]; one whose `ok` is not a number (or a boolean) is a
    /// [`ConnectionError::Protocol`].
    pub async fn command(
        &mut self,
        db: &str,
        command: Document,
    ) -> Result<Document, ConnectionError> {
        let timeout = self.options.socket_timeout;
        self.command_within(db, command, timeout).await
    }

    /// [`Connection::command`], reading the reply under `timeout` (`None`: no limit) instead
    /// of the socket timeout (the handshake uses the connect timeout).
    pub async fn command_within(
        &mut self,
        db: &str,
        command: Document,
        timeout: Option<Duration>,
    ) -> Result<Document, ConnectionError> {
        self.send(db, command, MsgFlags::empty()).await?;
        let reply = self.receive_within(timeout).await?;
        match command_error(&reply.body) {
            Some(error) => Err(error),
            None => Ok(reply.body),
        }
    }

    /// Writes one message.
    async fn write_frame(&mut self, message: &Message) -> Result<(), ConnectionError> {
        self.writer
            .write_message(message)
            .await
            .map_err(frame_error)
    }

    /// Reads one message and decodes it with `decode` (an OP_MSG, else a protocol error);
    /// cancellation safe, as [`MessageReader::read_frame`] is.
    async fn read_frame<M>(
        &mut self,
        decode: fn(&[u8]) -> Result<M, ConnectionError>,
    ) -> Result<M, ConnectionError> {
        let outcome = match self.reader.read_frame().await {
            Ok(Some(bytes)) => decode(bytes),
            Ok(None) => Err(ConnectionError::Network {
                cause: "the server closed the connection".to_owned(),
            }),
            Err(e) => Err(frame_error(e)),
        };
        match outcome {
            Ok(message) => {
                self.replied = true;
                Ok(message)
            }
            // A server that requires TLS closes a plain connection at its first message.
            Err(ConnectionError::Network { cause }) if !self.replied && self.tls.is_none() => {
                Err(ConnectionError::Network {
                    cause: format!("{cause} (if the server requires TLS, connect with tls=true)"),
                })
            }
            Err(error) => Err(error),
        }
    }

    fn check_usable(&self) -> Result<(), ConnectionError> {
        match &self.broken {
            Some(cause) => Err(ConnectionError::Network {
                cause: format!("connection unusable after an earlier error: {cause}"),
            }),
            None => Ok(()),
        }
    }

    /// Marks the connection broken on a network or protocol error (the stream's position
    /// in the message flow is unknown after either).
    fn note_failure<T>(
        &mut self,
        outcome: Result<T, ConnectionError>,
    ) -> Result<T, ConnectionError> {
        if let Err(error @ (ConnectionError::Network { .. } | ConnectionError::Protocol { .. })) =
            &outcome
        {
            tracing::debug!(connection = self.id, address = %self.address, %error, "connection failed");
            self.broken = Some(error.to_string());
        }
        outcome
    }
}

/// `None` for a zero duration: connectTimeoutMS=0 and socketTimeoutMS=0 mean "no timeout".
fn non_zero(timeout: Option<Duration>) -> Option<Duration> {
    timeout.filter(|t| !t.is_zero())
}

/// Runs `operation` under `timeout`, reporting expiry as a timeout `during` it.
async fn within<T>(
    timeout: Option<Duration>,
    during: &'static str,
    operation: impl std::future::Future<Output = Result<T, ConnectionError>>,
) -> Result<T, ConnectionError> {
    match timeout {
        Some(limit) => tokio::time::timeout(limit, operation)
            .await
            .unwrap_or(Err(ConnectionError::Timeout { during })),
        None => operation.await,
    }
}

#[cfg(test)]
#[path = "channel/tests.rs"]
mod tests;
