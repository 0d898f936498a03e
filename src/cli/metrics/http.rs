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
        Ok(true) => {
            // Off the runtime's threads: a fleet's text takes tens of milliseconds to encode,
            // and a monitor waiting behind it would time its server's reply that much late.
            let answered = tokio::task::spawn_blocking(move || route(&head, metrics.as_ref()));
            match answered.await {
                Ok(answer) => answer,
                Err(_) => return,
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A scrape that holds its thread for [`Slow::TAKES`].
    struct Slow;

    impl Slow {
        const TAKES: Duration = Duration::from_millis(400);
    }

    impl Scrape for Slow {
        fn scrape(&self) -> String {
            std::thread::sleep(Slow::TAKES);
            "# EOF\n".to_string()
        }

        fn command(&self) -> &'static str {
            "test"
        }
    }

    /// The exporter runs every monitor on one thread: a scrape encoding a fleet's text must
    /// not stop them (their replies would be read, and timed, that much late).
    #[test]
    fn a_slow_scrape_leaves_the_runtime_thread_free() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(serve(listener, Arc::new(Slow)));
            let started = tokio::time::Instant::now();
            let client = tokio::spawn(async move {
                let mut stream = TcpStream::connect(address).await.unwrap();
                stream
                    .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
                    .await
                    .unwrap();
                let mut response = String::new();
                stream.read_to_string(&mut response).await.unwrap();
                response
            });
            // A task ticking every 10 ms on the same thread, as a monitor's timers do.
            let mut longest_gap = Duration::ZERO;
            let mut last = tokio::time::Instant::now();
            while !client.is_finished() {
                tokio::time::sleep(Duration::from_millis(10)).await;
                longest_gap = longest_gap.max(last.elapsed());
                last = tokio::time::Instant::now();
            }
            let response = client.await.unwrap();
            assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
            assert!(response.ends_with("# EOF\n"), "{response}");
            assert!(started.elapsed() >= Slow::TAKES, "the scrape ran");
            assert!(
                longest_gap < Duration::from_millis(200),
                "the runtime's thread was held for {longest_gap:?} by a scrape"
            );
        });
    }
}
