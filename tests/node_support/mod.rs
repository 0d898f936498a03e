//! What the Node.js interoperability tests share: where the pinned driver is installed,
//! whether it can be loaded (required under CI or MONGO_TOPOLOGY_REQUIRE_NODE=1; otherwise a
//! missing driver skips the test with a printed reason), and running a probe from
//! `tests/node/` while answering its control requests.
//!
//! The driver directory is MONGO_TOPOLOGY_NODE_DIR (scripts/test sets it from
//! `scripts/node-driver`), else `$CARGO_TARGET_DIR/node`, else `target/node`. Node.js itself
//! is MONGO_TOPOLOGY_NODE (default `node`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// The Node.js executable.
pub fn node() -> String {
    std::env::var("MONGO_TOPOLOGY_NODE").unwrap_or_else(|_| "node".to_owned())
}

/// The directory holding `node_modules/mongodb`.
pub fn driver_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MONGO_TOPOLOGY_NODE_DIR") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(target) => root.join(target).join("node"),
        None => root.join("target/node"),
    }
}

/// The pinned driver version (tests/node/package.json).
pub fn pinned_version() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node/package.json");
    let text = std::fs::read_to_string(&path).expect("read tests/node/package.json");
    let manifest: Value = serde_json::from_str(&text).expect("tests/node/package.json is JSON");
    manifest["dependencies"]["mongodb"]
        .as_str()
        .expect("tests/node/package.json pins mongodb")
        .to_owned()
}

/// Whether the pinned driver loads; panics when it is required but missing.
pub fn node_driver_available() -> bool {
    let probe = std::process::Command::new(node())
        .arg("-e")
        .arg("const {createRequire} = require('node:module'); \
              const r = createRequire(require('node:path').resolve(process.argv[1], 'package.json')); \
              process.stdout.write(r('mongodb/package.json').version); r('mongodb');")
        .arg(driver_dir())
        .output();
    let why = match &probe {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if version == pinned_version() {
                return true;
            }
            format!(
                "npm mongodb {version} is installed, {} is pinned",
                pinned_version()
            )
        }
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .lines()
            .find(|l| l.contains("Error"))
            .unwrap_or("no output")
            .to_owned(),
        Err(e) => format!("{} could not start: {e}", node()),
    };
    let required = std::env::var("MONGO_TOPOLOGY_REQUIRE_NODE").is_ok_and(|v| v == "1")
        || std::env::var_os("CI").is_some();
    assert!(
        !required,
        "the Node.js driver is required (MONGO_TOPOLOGY_REQUIRE_NODE=1 or CI) but cannot be \
         loaded from {}: {why}; run scripts/node-driver",
        driver_dir().display()
    );
    eprintln!(
        "SKIPPED: the Node.js driver cannot be loaded from {} ({why}); run scripts/node-driver",
        driver_dir().display()
    );
    false
}

/// Runs `tests/node/<name>` with `args`, answers each `{"request": VERB}` line with
/// `act(VERB)` then "done", and returns the `result` object of its result line. Panics
/// (with the probe's stderr) when it fails, prints no result, or takes longer than 40 s.
pub async fn run_probe<F>(name: &str, args: &[String], mut act: F) -> Value
where
    F: FnMut(&str) -> Result<(), String>,
{
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/node")
        .join(name);
    let mut child = Command::new(node())
        .arg(script)
        .args(args)
        .env("MONGO_TOPOLOGY_NODE_DIR", driver_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut result = None;
    let drive = async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{name} printed a line that is not JSON ({e}): {line}"));
            if let Some(verb) = message["request"].as_str() {
                act(verb).unwrap_or_else(|e| panic!("control request {verb:?} failed: {e}"));
                stdin.write_all(b"done\n").await.unwrap();
                stdin.flush().await.unwrap();
            } else if message.get("result").is_some() {
                result = Some(message["result"].clone());
            } else {
                panic!("{name} printed an unknown message: {line}");
            }
        }
        child.wait().await.unwrap()
    };
    let status = tokio::time::timeout(Duration::from_secs(40), drive).await;
    if status.is_err() {
        let _ = child.start_kill();
    }
    let log = stderr_task.await.unwrap();
    let status = status.unwrap_or_else(|_| panic!("{name} took longer than 40 s:\n{log}"));
    eprintln!("--- {name} ---\n{log}");
    assert!(status.success(), "{name} failed ({status}):\n{log}");
    result.unwrap_or_else(|| panic!("{name} printed no result line:\n{log}"))
}
