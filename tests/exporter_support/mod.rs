//! Running `mongo-topology exporter` as a process in a test: its configuration file, its
//! metrics port (it picks a free one and prints it), scrapes, signals.

#![allow(dead_code)]

pub mod prometheus;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use tokio::time::Instant;

/// How long any one step may take before the test fails instead of hanging.
pub const GUARD: Duration = Duration::from_secs(15);

/// A running exporter.
pub struct Exporter {
    pub child: Child,
    /// Its metrics port.
    pub port: u16,
    /// The rest of its standard error.
    pub stderr: BufReader<ChildStderr>,
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mongo-topology-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The configuration of `deployments` (name, connection string), inline.
pub fn config_text(deployments: &[(&str, &str)]) -> String {
    deployments
        .iter()
        .map(|(name, uri)| format!("[[deployment]]\nname = \"{name}\"\nuri = \"{uri}\"\n\n"))
        .collect()
}

impl Exporter {
    /// Starts the exporter on `config` with a free metrics port, and reads the port from
    /// its first line of standard error.
    pub async fn start(config: &Path, env: &[(&str, &str)]) -> Exporter {
        Exporter::spawn(config, env, &[]).await
    }

    /// [`Exporter::start`] with more command-line arguments.
    pub async fn start_with(config: &Path, args: &[&str]) -> Exporter {
        Exporter::spawn(config, &[], args).await
    }

    async fn spawn(config: &Path, env: &[(&str, &str)], args: &[&str]) -> Exporter {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
            .arg("exporter")
            .arg("--config")
            .arg(config)
            .args(["--metrics-addr", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the exporter");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let mut line = String::new();
        tokio::time::timeout(GUARD, stderr.read_line(&mut line))
            .await
            .expect("the exporter says where it serves")
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("metrics: http://127.0.0.1:")
            .and_then(|rest| rest.strip_suffix("/metrics"))
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Exporter {
            child,
            port,
            stderr,
        }
    }

    /// The body of `GET /metrics`.
    pub async fn scrape(&self) -> String {
        let response = http_get(self.port, "/metrics").await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default()
    }

    /// Scrapes until `ready` holds for the body (at most [`GUARD`]), and returns that body.
    pub async fn scrape_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let body = self.scrape().await;
            if ready(&body) {
                return body;
            }
            assert!(started.elapsed() < GUARD, "never {what}:\n{body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `signal` (a `kill` option such as `-HUP`).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("the exporter's pid").to_string();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill");
        assert!(sent.success());
    }

    /// Sends SIGTERM and returns the exit code and the rest of standard error.
    pub async fn terminate(mut self) -> (Option<i32>, String) {
        self.signal("-TERM");
        let status = tokio::time::timeout(GUARD, self.child.wait())
            .await
            .expect("the exporter exits in time")
            .unwrap();
        let mut rest = String::new();
        let _ = tokio::time::timeout(GUARD, self.stderr.read_to_string(&mut rest)).await;
        (status.code(), rest)
    }
}

/// One HTTP/1.1 GET on loopback: the whole response.
pub async fn http_get(port: u16, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(GUARD, stream.read_to_string(&mut response))
        .await
        .expect("a response in time")
        .unwrap();
    response
}

/// One HTTP/1.1 GET on loopback, or `None` when the port does not answer (yet).
pub async fn try_http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    tokio::time::timeout(GUARD, stream.read_to_string(&mut response))
        .await
        .ok()?
        .ok()?;
    Some(response)
}

/// The value of the first sample whose line starts with `prefix`.
pub fn sample<'a>(body: &'a str, prefix: &str) -> Option<&'a str> {
    body.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
}

/// `name` on the PATH, if there.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
}
