//! A real Prometheus server run by a test (Debian's `prometheus` package), scraping one
//! exporter: started on a free port with the shipped alert rules, queried through its HTTP
//! API.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long Prometheus may take to see a change (scrapes every second, evaluates rules every
/// second; generous for a loaded machine).
pub const SEEN: Duration = Duration::from_secs(20);

/// A Prometheus server run by the test.
pub struct Prometheus {
    _child: Child,
    port: u16,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (and evaluating the shipped alert rules) every
    /// `interval`, its storage in `dir`; waits until it is ready.
    pub async fn start(binary: &Path, dir: &Path, target: u16, interval: Duration) -> Prometheus {
        let every = format!("{}ms", interval.as_millis());
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/alerts.yml");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: {every}\n  evaluation_interval: {every}\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: mongo-topology\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n",
                rules.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            _child: child,
            port,
        };
        let started = Instant::now();
        while !super::try_http_get(port, "/-/ready")
            .await
            .is_some_and(|response| response.starts_with("HTTP/1.1 200"))
        {
            assert!(started.elapsed() < SEEN, "prometheus never became ready");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        prometheus
    }

    /// The instant vector of `query`: each result's labels and value.
    pub async fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let encoded: String = query
            .bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (byte as char).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect();
        let response = super::http_get(self.port, &format!("/api/v1/query?query={encoded}")).await;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .unwrap_or("");
        // Prometheus answers HTTP/1.1 with chunked encoding or a length; take the JSON object.
        let json = body
            .find('{')
            .and_then(|start| body.rfind('}').map(|end| &body[start..=end]))
            .unwrap_or("{}");
        let value: Value = serde_json::from_str(json).unwrap_or_else(|_| panic!("{response}"));
        assert_eq!(value["status"], "success", "{query}: {response}");
        value["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|result| {
                let sample = result["value"][1]
                    .as_str()
                    .and_then(|text| text.parse().ok());
                (result["metric"].clone(), sample.unwrap_or(f64::NAN))
            })
            .collect()
    }

    /// Queries until `ready` holds for the results (at most [`SEEN`]).
    pub async fn query_until(
        &self,
        query: &str,
        what: &str,
        ready: impl Fn(&[(Value, f64)]) -> bool,
    ) -> Vec<(Value, f64)> {
        let started = Instant::now();
        loop {
            let results = self.query(query).await;
            if ready(&results) {
                return results;
            }
            assert!(
                started.elapsed() < SEEN,
                "never {what}: {query} gave {results:?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
