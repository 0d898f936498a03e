//! `mongo-topology watch` as a process against a simulated replica set running in the test:
//! the NDJSON stream through a failover, the metrics endpoint scraped over HTTP, signals,
//! a closed stdout, a bad connection string, and no escape bytes without a terminal.
//! (The terminal view is drawn from fixed snapshots by the binary's unit tests.)

use std::process::{Output, Stdio};
use std::time::Duration;

use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How long any one step may take before the test fails instead of hanging.
const GUARD: Duration = Duration::from_secs(15);

/// The binary with `args`, MONGODB_URI and NO_COLOR unset, stdout and stderr piped.
fn watch(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .arg("watch")
        .args(args)
        .env_remove("MONGODB_URI")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn output(child: Child) -> Output {
    tokio::time::timeout(GUARD, child.wait_with_output())
        .await
        .expect("watch exits in time")
        .expect("wait for watch")
}

async fn replica_set() -> Deployment {
    Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap()
}

fn events<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|line| line["event"] == name).collect()
}

fn send_signal(child: &Child, signal: &str) {
    let pid = child.id().expect("the watch's pid").to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("run kill");
    assert!(sent.success());
}

/// Waits for the first stdout line (the client has started and the handlers exist).
async fn first_line(
    child: &mut Child,
) -> (
    String,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(GUARD, lines.next_line())
        .await
        .expect("a line in time")
        .expect("readable stdout")
        .expect("watch still running");
    (line, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_stream_follows_a_failover() {
    let sim = replica_set().await;
    let addresses = sim.addresses();
    let uri = format!("mongodb://{}/?replicaSet=rs0", addresses[1]);
    let mut child = watch(&["--json", "--duration", "3", &uri]).spawn().unwrap();
    let (first, mut reader) = first_line(&mut child).await;
    let mut text = vec![first];
    // Once the client shows member 0 as primary, fail over from member 0 to member 2.
    let primary_0 = format!("\"to\":\"{}\"", addresses[0]);
    let mut failed_over = false;
    while let Some(line) = tokio::time::timeout(GUARD, reader.next_line())
        .await
        .expect("a line in time")
        .expect("readable stdout")
    {
        if !failed_over
            && line.contains("\"event\":\"primary_changed\"")
            && line.contains(&primary_0)
        {
            failed_over = true;
            sim.stepdown().unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            sim.elect(&MemberRef::Index(2)).unwrap();
        }
        text.push(line);
    }
    let status = tokio::time::timeout(GUARD, child.wait())
        .await
        .expect("watch exits in time")
        .unwrap();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).await.unwrap();
    }
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(failed_over, "member 0 never shown as primary: {text:?}");
    let lines: Vec<Value> = text
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for line in &lines {
        assert!(
            line["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')),
            "{line}"
        );
        assert!(
            line["elapsed_ms"].is_f64() || line["elapsed_ms"].is_u64(),
            "{line}"
        );
    }
    // In order: neither the wall-clock stamp nor the elapsed time goes back.
    for pair in lines.windows(2) {
        assert!(pair[0]["ts"].as_str() <= pair[1]["ts"].as_str(), "{pair:?}");
        assert!(
            pair[0]["elapsed_ms"].as_f64() <= pair[1]["elapsed_ms"].as_f64(),
            "{pair:?}"
        );
    }
    assert_eq!(lines.first().unwrap()["event"], "topology_opening");
    assert_eq!(lines.last().unwrap()["event"], "topology_closed");
    assert_eq!(events(&lines, "server_opening").len(), 3);
    let changes = events(&lines, "primary_changed");
    let from_0_to_none = changes
        .iter()
        .any(|line| line["from"] == addresses[0].as_str() && line["to"].is_null());
    assert!(from_0_to_none, "{changes:?}");
    let to_2 = changes
        .iter()
        .find(|line| line["to"] == addresses[2].as_str())
        .unwrap_or_else(|| panic!("no primary_changed to member 2: {changes:?}"));
    assert!(to_2["from"].is_null(), "{to_2}");
    let after = to_2["after_election_ms"]
        .as_f64()
        .expect("after_election_ms");
    assert!((0.0..1000.0).contains(&after), "{to_2}");
    // The election came about 300 ms after the stepdown: the view had no primary for
    // about that long (with slack for a loaded machine).
    let without = to_2["without_primary_ms"]
        .as_f64()
        .expect("without_primary_ms");
    assert!((150.0..2000.0).contains(&without), "{to_2}");
    let stepped_down = events(&lines, "server_description_changed")
        .into_iter()
        .any(|line| {
            line["address"] == addresses[0].as_str()
                && line["previous_type"] == "RSPrimary"
                && line["new_type"] == "RSSecondary"
        });
    assert!(stepped_down, "{lines:?}");
    eprintln!("sample:\n{}", text.join("\n"));
    sim.shutdown().await;
}

/// A free loopback port (bound, then released for the watch to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn http_get(port: u16, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(GUARD, stream.read_to_string(&mut response))
        .await
        .expect("a response in time")
        .unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_over_http() {
    let sim = replica_set().await;
    let addresses = sim.addresses();
    let port = free_port();
    let metrics_addr = format!("127.0.0.1:{port}");
    let mut child = watch(&[
        "--json",
        "--duration",
        "3",
        "--metrics-addr",
        &metrics_addr,
        &sim.connection_string(),
    ])
    .spawn()
    .unwrap();
    let _lines = first_line(&mut child).await;
    // Discovery may still be under way at the first line: scrape until every member is up.
    let up = |address: &String| {
        format!("mongo_topology_server_up{{address=\"{address}\",set=\"rs0\"}} 1")
    };
    let started = Instant::now();
    let body = loop {
        let response = http_get(port, "/metrics").await;
        let discovered = response.contains("\nmongo_topology_topology_has_primary 1\n")
            && addresses
                .iter()
                .all(|address| response.contains(&up(address)));
        if discovered {
            break response;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "{response}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.starts_with("HTTP/1.1 200 OK\r\n"), "{body}");
    assert!(
        body.contains("Content-Type: application/openmetrics-text"),
        "{body}"
    );
    for address in &addresses {
        let rtt =
            format!("mongo_topology_server_rtt_seconds{{address=\"{address}\",set=\"rs0\"}} ");
        assert!(body.contains(&rtt), "{rtt} in {body}");
        let failures = format!(
            "mongo_topology_server_heartbeat_failures_total{{address=\"{address}\",set=\"rs0\"}} 0"
        );
        assert!(body.contains(&failures), "{failures} in {body}");
    }
    let primary_type = format!(
        "mongo_topology_server_type{{address=\"{}\",set=\"rs0\",type=\"RSPrimary\"}} 1",
        addresses[0]
    );
    assert!(body.contains(&primary_type), "{body}");
    assert!(
        body.contains("mongo_topology_topology_type{type=\"ReplicaSetWithPrimary\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("mongo_topology_topology_changes_total "),
        "{body}"
    );
    assert!(http_get(port, "/nope").await.starts_with("HTTP/1.1 404"));
    let output = output(child).await;
    assert_eq!(output.status.code(), Some(0));
    sim.shutdown().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_exits_130_and_sigterm_143_promptly() {
    let sim = replica_set().await;
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let mut child = watch(&["--json", &sim.connection_string()])
            .spawn()
            .unwrap();
        let (_, mut lines) = first_line(&mut child).await;
        let signalled = Instant::now();
        send_signal(&child, signal);
        let status = tokio::time::timeout(GUARD, child.wait())
            .await
            .expect("watch exits")
            .unwrap();
        let took = signalled.elapsed();
        assert_eq!(status.code(), Some(code), "{signal}: {status}");
        assert!(took < Duration::from_secs(2), "{signal}: took {took:?}");
        // The client was closed cleanly: its last event is the last line.
        let mut last = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            last = line;
        }
        assert!(last.contains("\"event\":\"topology_closed\""), "{last}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_the_watch_quietly() {
    let sim = replica_set().await;
    // No --duration, and a set that stays quiet after discovery: no further line would
    // reveal the closed pipe, so the watch must notice it by itself.
    let mut child = watch(&["--json", &sim.connection_string()])
        .spawn()
        .unwrap();
    let (_, lines) = first_line(&mut child).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let closed = Instant::now();
    drop(lines);
    let output = output(child).await;
    let took = closed.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_bad_connection_string_is_one_line_and_exit_1() {
    let output = output(watch(&["--json", "mongodb://"]).spawn().unwrap()).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: invalid connection string"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    let output = output_of_missing_uri().await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("MONGODB_URI"));
}

async fn output_of_missing_uri() -> Output {
    output(watch(&[]).spawn().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_the_plain_view_has_no_escape_bytes() {
    let sim = replica_set().await;
    let addresses = sim.addresses();
    for no_color in [None, Some("1")] {
        let mut command = watch(&["--duration", "1", &sim.connection_string()]);
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let output = output(command.spawn().unwrap()).await;
        assert_eq!(output.status.code(), Some(0));
        assert!(!output.stdout.contains(&0x1b), "ESC in plain output");
        assert!(!output.stderr.contains(&0x1b), "ESC in stderr");
        let text = String::from_utf8_lossy(&output.stdout);
        let change = format!("primary changed none → {}", addresses[0]);
        assert!(text.contains(&change), "{text}");
        assert!(text.contains("reported its election"), "{text}");
        assert!(
            text.lines()
                .all(|line| line.len() > 13 && line.as_bytes()[2] == b':'),
            "{text}"
        );
    }
    sim.shutdown().await;
}

/// `discover` and `select` waiting on a server that accepts connections and never answers:
/// Ctrl-C stops them at once with exit status 130 (their timeout is far away).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_discover_and_select_promptly() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!(
        "mongodb://{}/?connectTimeoutMS=20000",
        silent.local_addr().unwrap()
    );
    // Accept and hold every connection, never answering.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    for command in [
        vec!["discover", "--timeout-ms", "20000", uri.as_str()],
        vec![
            "select",
            "--timeout-ms",
            "20000",
            "--read-preference",
            "primary",
            uri.as_str(),
        ],
    ] {
        let child = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
            .args(&command)
            .env_remove("MONGODB_URI")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        let signalled = Instant::now();
        send_signal(&child, "-INT");
        let output = output(child).await;
        let took = signalled.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(130), "{command:?}: {stderr}");
        assert!(took < Duration::from_secs(2), "{command:?}: took {took:?}");
        assert_eq!(stderr.trim(), "interrupted", "{command:?}");
    }
    holder.abort();
}

#[tokio::test]
async fn credentials_are_never_printed_and_failed_checks_are() {
    let output = output(
        watch(&["--duration", "0.5", "mongodb://alice:s3cret@127.0.0.1:1/"])
            .env("RUST_LOG", "debug")
            .spawn()
            .unwrap(),
    )
    .await;
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stdout.contains("s3cret") && !stderr.contains("s3cret"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("check of 127.0.0.1:1 failed"), "{stdout}");
    assert!(stdout.contains("[connect]"), "{stdout}");
}

/// A `--duration` past the clock's range was a panic ("overflow when adding duration to
/// instant"); every value is now either accepted or refused as a usage error.
#[tokio::test]
async fn a_huge_duration_is_a_usage_error_not_a_panic() {
    for huge in ["1e19", "9.3e18", "3155760001", "1e300"] {
        let child = watch(&["--duration", huge, "mongodb://127.0.0.1:1"])
            .spawn()
            .unwrap();
        let output = output(child).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{huge}: {stderr}");
        assert!(!stderr.contains("panicked"), "{huge}: {stderr}");
        assert!(
            stderr.contains("--duration must be at most"),
            "{huge}: {stderr}"
        );
    }
}
