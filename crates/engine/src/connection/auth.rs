//! Authentication of pool connections (monitoring connections never authenticate): the
//! pure core's [`auth`](mongo_topology_core::auth) items, re-exported, plus the engine
//! side that runs the conversation over a [`Connection`].
//!
//! A pool opening a connection with a credential calls [`authenticated_handshake`]: the
//! handshake carries `saslSupportedMechs` (when the mechanism is negotiated) and a
//! speculative `saslStart`, so against a 4.4+ server the whole authentication costs one
//! more round trip (`saslContinue`), not three. [`authenticate`] runs a conversation
//! without speculation, after a handshake done elsewhere.

use bson::{doc, Bson, Document};

use crate::connection::channel::Connection;
use crate::connection::error::ConnectionError;
use crate::connection::handshake::{handshake_with_fields, Handshake, HandshakeOptions};

pub use crate::connection::error::{AuthError, AuthErrorKind};
pub(crate) use mongo_topology_core::auth::*;

/// Authentication prepared for one new connection: the speculative first message (with
/// its fresh nonce) to put in the handshake, and the state to continue from its reply.
#[derive(Debug)]
pub(crate) struct PreparedAuth {
    credential: MongoCredential,
    speculative: Option<ScramClient>,
}

impl PreparedAuth {
    /// Prepares authenticating with `credential`: for SCRAM (named or negotiated) a
    /// speculative client-first message with a fresh random nonce.
    pub(crate) fn new(credential: &MongoCredential) -> Result<PreparedAuth, AuthError> {
        let speculative = match speculative_scram_version(credential) {
            Some(version) => Some(scram_client(credential, version)?),
            None => None,
        };
        Ok(PreparedAuth {
            credential: credential.clone(),
            speculative,
        })
    }

    /// The fields to add to the handshake hello: `saslSupportedMechs` and
    /// `speculativeAuthenticate`.
    pub(crate) fn handshake_fields(&self) -> Document {
        if self.credential.mechanism == Some(AuthMechanism::MongoDbX509) {
            return doc! { "speculativeAuthenticate": x509_speculative(&self.credential) };
        }
        let first = self
            .speculative
            .as_ref()
            .map(|client| (client.version(), client.client_first()));
        handshake_fields(
            &self.credential,
            first
                .as_ref()
                .map(|(version, bytes)| (*version, bytes.as_slice())),
        )
    }

    /// Completes authentication after the handshake: continues the speculative
    /// conversation if the reply carries `speculativeAuthenticate`, else runs a full one
    /// with the mechanism negotiated from the reply. An arbiter needs none.
    pub(crate) async fn authenticate(
        self,
        conn: &mut Connection,
        handshake_reply: &Document,
        cache: &ScramKeyCache,
    ) -> Result<(), AuthError> {
        if handshake_reply.get_bool("arbiterOnly").unwrap_or(false) {
            return Ok(());
        }
        let credential = &self.credential;
        let speculative_reply = match handshake_reply.get("speculativeAuthenticate") {
            Some(Bson::Document(reply)) => Some(reply),
            _ => None,
        };
        if let (Some(client), Some(reply)) = (self.speculative, speculative_reply) {
            let mechanism = client.version().mechanism_name();
            let fail = |kind| AuthError::new(credential, mechanism, kind);
            let step = SaslStep::from_reply(reply).map_err(|e| fail(AuthErrorKind::Protocol(e)))?;
            tracing::debug!(
                connection = conn.id(),
                mechanism,
                "continuing speculative authentication"
            );
            return finish_scram(conn, credential, client, step, cache).await;
        }
        if credential.mechanism == Some(AuthMechanism::MongoDbX509) {
            return authenticate_x509(conn, credential, speculative_reply.is_some()).await;
        }
        let mechanism = negotiated_mechanism(credential, handshake_reply);
        let Some(version) = mechanism.scram_version() else {
            return Err(AuthError::new(
                credential,
                mechanism.name(),
                AuthErrorKind::UnsupportedMechanism,
            ));
        };
        let client = scram_client(credential, version)?;
        let mechanism = version.mechanism_name();
        let start = sasl_start(mechanism, &client.client_first());
        let reply = sasl_command(conn, credential, mechanism, start).await?;
        let step = SaslStep::from_reply(&reply)
            .map_err(|e| AuthError::new(credential, mechanism, AuthErrorKind::Protocol(e)))?;
        finish_scram(conn, credential, client, step, cache).await
    }
}

#[cfg(test)]
/// Authenticates `conn` with `credential` after a handshake that carried no speculative
/// authentication; `handshake_reply` gives `saslSupportedMechs` for negotiation.
pub(crate) async fn authenticate(
    conn: &mut Connection,
    credential: &MongoCredential,
    handshake_reply: &Document,
) -> Result<(), AuthError> {
    let prepared = PreparedAuth {
        credential: credential.clone(),
        speculative: None,
    };
    prepared
        .authenticate(conn, handshake_reply, &ScramKeyCache::default())
        .await
}

/// The handshake of a pool connection with authentication: the hello carries the
/// authentication fields, then the conversation completes. A failed handshake is an
/// [`AuthErrorKind::Connection`] error (the Authentication spec treats it as an
/// authentication error; the pool still sees the connection error inside).
pub(crate) async fn authenticated_handshake(
    conn: &mut Connection,
    options: &HandshakeOptions,
    credential: &MongoCredential,
    cache: &ScramKeyCache,
) -> Result<Handshake, AuthError> {
    let prepared = PreparedAuth::new(credential)?;
    let fields = prepared.handshake_fields();
    let handshake = handshake_with_fields(conn, options, fields)
        .await
        .map_err(|e| {
            let mechanism = credential.mechanism.map_or("SCRAM", AuthMechanism::name);
            AuthError::new(credential, mechanism, AuthErrorKind::Connection(e))
        })?;
    prepared.authenticate(conn, &handshake.reply, cache).await?;
    Ok(handshake)
}

/// MONGODB-X509: done if the handshake's speculative authentication succeeded (the reply
/// carries `speculativeAuthenticate`), else one `authenticate` command on `$external`.
async fn authenticate_x509(
    conn: &mut Connection,
    credential: &MongoCredential,
    speculative_succeeded: bool,
) -> Result<(), AuthError> {
    if speculative_succeeded {
        tracing::debug!(
            connection = conn.id(),
            "MONGODB-X509 speculative authentication"
        );
        return Ok(());
    }
    let mechanism = AuthMechanism::MongoDbX509.name();
    sasl_command(conn, credential, mechanism, x509_authenticate(credential)).await?;
    Ok(())
}

/// A SCRAM client for `credential` with a fresh nonce: 24 random bytes in base64.
fn scram_client(
    credential: &MongoCredential,
    version: ScramVersion,
) -> Result<ScramClient, AuthError> {
    use base64::Engine as _;
    let nonce = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 24]>());
    let password = credential.password.as_ref().map_or("", |p| p.expose());
    ScramClient::new(version, credential.username_or_empty(), password, &nonce).map_err(|e| {
        AuthError::new(
            credential,
            version.mechanism_name(),
            AuthErrorKind::Scram(e),
        )
    })
}

/// From the server-first step on: client-final, server-final check, and the empty
/// exchange of servers older than 4.4 (which ignore `skipEmptyExchange`).
async fn finish_scram(
    conn: &mut Connection,
    credential: &MongoCredential,
    client: ScramClient,
    server_first: SaslStep,
    cache: &ScramKeyCache,
) -> Result<(), AuthError> {
    let mechanism = client.version().mechanism_name();
    let fail = |kind| AuthError::new(credential, mechanism, kind);
    if server_first.done {
        return Err(fail(AuthErrorKind::Protocol(
            "the server ended the conversation before the client proved the password".into(),
        )));
    }
    let last = client
        .receive_server_first(&server_first.payload, cache)
        .map_err(|e| fail(AuthErrorKind::Scram(e)))?;
    let id = server_first.conversation_id;
    let command = sasl_continue(&id, last.client_final());
    let reply = sasl_command(conn, credential, mechanism, command).await?;
    let server_final =
        SaslStep::from_reply(&reply).map_err(|e| fail(AuthErrorKind::Protocol(e)))?;
    last.receive_server_final(&server_final.payload)
        .map_err(|e| fail(AuthErrorKind::Scram(e)))?;
    if server_final.done {
        return Ok(());
    }
    let reply = sasl_command(conn, credential, mechanism, sasl_continue(&id, &[])).await?;
    let empty = SaslStep::from_reply(&reply).map_err(|e| fail(AuthErrorKind::Protocol(e)))?;
    if empty.done {
        Ok(())
    } else {
        Err(fail(AuthErrorKind::Protocol(
            "the conversation did not end after the server's signature".into(),
        )))
    }
}

/// Runs a SASL command on the credential's database; `ok: 0` is a server refusal.
async fn sasl_command(
    conn: &mut Connection,
    credential: &MongoCredential,
    mechanism: &str,
    command: Document,
) -> Result<Document, AuthError> {
    conn.command(&credential.source, command)
        .await
        .map_err(|error| {
            let kind = match error {
                ConnectionError::Command(failure) => AuthErrorKind::Server(*failure),
                other => AuthErrorKind::Connection(other),
            };
            AuthError::new(credential, mechanism, kind)
        })
}
