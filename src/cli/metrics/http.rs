//! The `/metrics` endpoint of `watch --metrics-addr` and of `exporter`: a tiny HTTP/1.1
//! responder (one request per connection, `Connection: close`) that answers `GET /metrics`
//! with the OpenMetrics text a [`Scrape`] encodes at the time of the request.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request head read; longer requests get 431.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The content type of the OpenMetrics text format `prometheus-client` writes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What an endpoint serves: the OpenMetrics text at the time of a scrape, and the name of
/// the command (for the page at `/`).
pub trait Scrape: Send + Sync + 'static {
    /// The OpenMetrics text of every metric, as of now.
    fn scrape(&self) -> String;
    /// The command serving (`watch`, `exporter`).
    fn command(&self) -> &'static str;
}

/// Answers HTTP requests on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<dyn Scrape>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream, metrics.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "metrics: accept failed");
                // Out of file descriptors, say: do not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads the request head (or gives up on a slow or oversized one) and answers it.
async fn answer(mut stream: TcpStream, metrics: Arc<dyn Scrape>) {
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    let read = tokio::time::timeout(REQUEST_TIMEOUT, async {
        while !head.windows(4).any(|window| window == b"\r\n\r\n") {
            if head.len() > MAX_REQUEST_HEAD {
                return false;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
        true
    })
    .await;
    let (status, body) = match read {
        Ok(true) => route(&head, metrics.as_ref()),
        Ok(false) if head.len() > MAX_REQUEST_HEAD => {
            ("431 Request Header Fields Too Large", String::new())
        }
        _ => return,
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status.starts_with("200") && body.starts_with('#') {
            CONTENT_TYPE
        } else {
            "text/plain; charset=utf-8"
        },
        body.len()
    );
    // The head, then the body as encoded: a fleet's body is megabytes, not copied again
    // (without Nagle's delay, a short body is not held back until the head is acknowledged).
    let _ = stream.set_nodelay(true);
    if stream.write_all(head.as_bytes()).await.is_ok() {
        let _ = stream.write_all(body.as_bytes()).await;
    }
    let _ = stream.shutdown().await;
}

/// The status line and body for a request head.
fn route(head: &[u8], metrics: &dyn Scrape) -> (&'static str, String) {
    let head = String::from_utf8_lossy(head);
    let mut words = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => ("200 OK", metrics.scrape()),
        ("GET", "/") => (
            "200 OK",
            format!("mongo-topology {}: see /metrics\n", metrics.command()),
        ),
        ("GET", _) => ("404 Not Found", "not found; see /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "only GET\n".to_string()),
    }
}
