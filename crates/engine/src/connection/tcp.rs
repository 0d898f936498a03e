//! From resolved socket addresses to an open TCP stream: try each address in order until one
//! connects (the host is resolved first, in `dns.rs`).

use std::net::SocketAddr;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpStream;

use crate::connection::error::ConnectionError;

/// Idle time before the first keepalive probe. The MongoDB production notes recommend
/// 120 s, well under the typical idle timeouts of firewalls and load balancers.
const KEEPALIVE_TIME: Duration = Duration::from_secs(120);

/// Connects to the first of `addresses` that accepts, each attempt under `timeout` when
/// given, and sets TCP_NODELAY and TCP keepalive on the stream. When every attempt fails,
/// the last failure is returned: [`ConnectionError::Timeout`] if it timed out, else
/// [`ConnectionError::Connect`] naming `server` and the socket address that failed.
pub(crate) async fn connect_any(
    server: &str,
    addresses: &[SocketAddr],
    timeout: Option<Duration>,
) -> Result<TcpStream, ConnectionError> {
    let mut last_error = ConnectionError::Connect {
        address: server.to_owned(),
        cause: "no address to try".to_owned(),
    };
    for address in addresses {
        let attempt = TcpStream::connect(address);
        let outcome = match timeout {
            Some(limit) => tokio::time::timeout(limit, attempt)
                .await
                .map_err(|_| ConnectionError::Timeout { during: "connect" }),
            None => Ok(attempt.await),
        };
        let error = match outcome {
            Ok(Ok(stream)) => {
                configure(&stream).map_err(|e| ConnectionError::Connect {
                    address: server.to_owned(),
                    cause: format!("{address}: cannot configure the socket: {e}"),
                })?;
                return Ok(stream);
            }
            Ok(Err(e)) => ConnectionError::Connect {
                address: server.to_owned(),
                cause: format!("{address}: {e}"),
            },
            Err(timeout) => timeout,
        };
        tracing::debug!(server, %address, %error, "connection attempt failed");
        last_error = error;
    }
    Err(last_error)
}

/// TCP_NODELAY (commands are small and latency matters) and keepalive (to notice a peer
/// that vanished without closing).
fn configure(stream: &TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    SockRef::from(stream).set_tcp_keepalive(&TcpKeepalive::new().with_time(KEEPALIVE_TIME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn closed_port(ip: &str) -> SocketAddr {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        listener.local_addr().unwrap()
    }

    #[tokio::test]
    async fn tries_each_address_until_one_connects() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = listener.local_addr().unwrap();
        let dead = closed_port("127.0.0.1").await;
        let stream = connect_any("db:1", &[dead, live], Some(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(stream.peer_addr().unwrap(), live);
        assert!(stream.nodelay().unwrap());
        assert!(SockRef::from(&stream).keepalive().unwrap());
    }

    #[tokio::test]
    async fn tries_the_other_family_like_a_dual_stack_localhost() {
        let Ok(v6_listener) = TcpListener::bind("[::1]:0").await else {
            eprintln!("skipped: this machine has no IPv6 loopback");
            return;
        };
        let v6_live = v6_listener.local_addr().unwrap();
        let v4_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let v4_live = v4_listener.local_addr().unwrap();
        let v4_dead = closed_port("127.0.0.1").await;
        let v6_dead = closed_port("::1").await;
        for (addresses, expected) in [([v6_dead, v4_live], v4_live), ([v4_dead, v6_live], v6_live)]
        {
            let stream = connect_any("localhost:1", &addresses, None).await.unwrap();
            assert_eq!(stream.peer_addr().unwrap(), expected);
        }
    }

    #[tokio::test]
    async fn keeps_the_last_error() {
        let first = closed_port("127.0.0.1").await;
        let second = closed_port("127.0.0.1").await;
        let error = connect_any("db:1", &[first, second], None)
            .await
            .unwrap_err();
        match error {
            ConnectionError::Connect { address, cause } => {
                assert_eq!(address, "db:1");
                assert!(cause.starts_with(&second.to_string()), "{cause}");
            }
            other => panic!("expected Connect, got {other:?}"),
        }
    }
}
