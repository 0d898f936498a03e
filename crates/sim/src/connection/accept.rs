//! The streams of a new connection: the TCP stream's halves, or a TLS stream's after the
//! handshake, and the `stall-tls-handshake` fault.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::shared::Shared;
use crate::tls::certificate_subject;

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection's read side, write side, the subject of the client's certificate, and
/// the server name the client asked for in its TLS handshake (SNI).
pub(super) type Streams = (
    Box<dyn AsyncRead + Send + Unpin>,
    Box<dyn AsyncWrite + Send + Unpin>,
    Option<String>,
    Option<String>,
);

/// The connection's read and write sides: the TCP stream's halves, or, when the deployment
/// serves TLS (and the client starts a TLS handshake, if plain clients are allowed too),
/// the TLS stream's after the handshake (with the subject of the client's
/// certificate, if it sent one). `None` when the handshake fails or times out (logged).
/// While `stall-tls-handshake` is armed, the handshake waits after the client's first bytes.
pub(super) async fn open_streams(
    shared: &Shared,
    idx: usize,
    stream: TcpStream,
    port: u16,
    id: i64,
) -> Option<Streams> {
    let Some(tls) = &shared.tls else {
        if starts_tls_handshake(&stream).await {
            // As mongod without TLS: refuse, so the client fails at once instead of
            // waiting for a "message" as long as the ClientHello's first bytes say.
            tracing::info!(
                port,
                connection = id,
                "TLS handshake received but the server is started without TLS"
            );
            return None;
        }
        let (rd, wr) = stream.into_split();
        return Some((Box::new(rd), Box::new(wr), None, None));
    };
    if tls.options().allow_plain && !starts_tls_handshake(&stream).await {
        let (rd, wr) = stream.into_split();
        return Some((Box::new(rd), Box::new(wr), None, None));
    }
    let accepted = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, async {
        stall_while_armed(shared, idx, &stream, port, id).await;
        tls.acceptor().accept(stream).await
    })
    .await;
    let stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::info!(port, connection = id, "TLS handshake failed: {e}");
            return None;
        }
        Err(_) => {
            tracing::info!(port, connection = id, "TLS handshake timed out");
            return None;
        }
    };
    let subject = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(certificate_subject);
    let sni = stream.get_ref().1.server_name().map(str::to_owned);
    let (rd, wr) = tokio::io::split(stream);
    Some((Box::new(rd), Box::new(wr), subject, sni))
}

/// The `stall-tls-handshake` fault: when armed on node `idx`, waits for the client's first
/// bytes (leaving them unread), then answers nothing until the fault is cleared (the
/// caller's handshake timeout ends the wait otherwise). A stall that is cleared resumes:
/// the handshake goes on from the client's first bytes.
async fn stall_while_armed(shared: &Shared, idx: usize, stream: &TcpStream, port: u16, id: i64) {
    let Some(node) = shared.nodes.get(idx) else {
        return;
    };
    // Subscribed before the first look: a change between a look and the wait still wakes it.
    let mut changes = node.subscribe_state_changes();
    let armed = || {
        shared
            .world()
            .node(idx)
            .is_some_and(|n| n.faults.stall_tls_handshake)
    };
    if !armed() {
        return;
    }
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await.is_err() {
        return;
    }
    tracing::debug!(port, connection = id, "stalling the TLS handshake");
    while armed() {
        if changes.changed().await.is_err() {
            return; // the deployment is gone
        }
    }
}

/// Whether the client's first bytes are a TLS handshake record (content type 22,
/// version 3.x). Waits for the client's first byte; the client always speaks first.
async fn starts_tls_handshake(stream: &TcpStream) -> bool {
    let mut first = [0u8; 2];
    matches!(stream.peek(&mut first).await, Ok(2..) if first == [0x16, 0x03])
}
