//! How the pool opens connections: the [`ConnectionFactory`] seam and the engine's
//! [`HandshakeFactory`] (connect, handshake, authenticate).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::connection::auth::{authenticated_handshake, MongoCredential, ScramKeyCache};
use crate::connection::error::ConnectionError;
use crate::connection::handshake::{handshake, HandshakeOptions};
use crate::connection::tls::TlsConnector;
use crate::connection::{ConnectOptions, Connection};
use crate::ServerAddress;

/// A connection being established.
pub(crate) type EstablishFuture =
    Pin<Box<dyn Future<Output = Result<Connection, ConnectionError>> + Send>>;

/// Opens and establishes (handshake, later authentication) the pool's connections.
pub(crate) trait ConnectionFactory: Send + Sync + 'static {
    /// Connects to `address` and makes the connection ready for commands.
    fn establish(&self, address: &ServerAddress) -> EstablishFuture;
}

/// The engine's factory: [`Connection::connect`] then the [`handshake`], which also
/// authenticates (speculatively, then the rest of the conversation) when a credential is
/// given.
#[derive(Debug, Clone, Default)]
pub(crate) struct HandshakeFactory {
    /// Connect and socket timeouts.
    pub connect: ConnectOptions,
    /// What the handshake says about the client.
    pub handshake: HandshakeOptions,
    /// The credential pool connections authenticate with, if any.
    pub credential: Option<Arc<MongoCredential>>,
    /// Derived SCRAM keys, shared by every pool of a cluster so that the expensive key
    /// derivation runs once per salt and iteration count.
    pub scram_keys: Arc<ScramKeyCache>,
    /// The cluster's TLS configuration, when it uses TLS.
    pub tls: Option<TlsConnector>,
}

impl ConnectionFactory for HandshakeFactory {
    fn establish(&self, address: &ServerAddress) -> EstablishFuture {
        let address = address.clone();
        let this = self.clone();
        Box::pin(async move {
            let mut connection =
                Connection::connect_with_tls(&address, &this.connect, this.tls.as_ref()).await?;
            match &this.credential {
                Some(credential) => {
                    authenticated_handshake(
                        &mut connection,
                        &this.handshake,
                        credential,
                        &this.scram_keys,
                    )
                    .await
                    .map_err(|mut error| {
                        error.service_id = connection.service_id();
                        ConnectionError::Authentication(Box::new(error))
                    })?;
                }
                None => {
                    handshake(&mut connection, &this.handshake).await?;
                }
            }
            Ok(connection)
        })
    }
}
