//! The `sim` command as a process: first line is the connection string, control commands
//! on stdin, graceful exit 0 on stdin EOF, SIGINT and SIGTERM.

#[path = "../crates/sim/tests/sim_support/mod.rs"]
mod sim_support;

use std::process::Stdio;
use std::time::Duration;

use bson::doc;
use mongo_topology::wire::MsgFlags;
use sim_support::RawClient;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

fn sim(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .arg("sim")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the sim binary")
}

async fn line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("a line in time")
        .unwrap()
        .expect("stdout still open")
}

/// The hosts of a `mongodb://h1,h2/?...` connection string.
fn hosts(uri: &str) -> Vec<String> {
    let rest = uri.strip_prefix("mongodb://").expect("a mongodb:// URI");
    let hosts = rest.split('/').next().unwrap();
    hosts.split(',').map(str::to_owned).collect()
}

async fn exits_zero(mut child: Child) {
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the simulator exits in time")
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn replica_set_control_over_stdin_then_eof_exits_zero() {
    let mut child = sim(&[
        "--replset",
        "rs7",
        "--members",
        "3",
        "--arbiters",
        "1",
        "--port",
        "0",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let uri = line(&mut out).await;
    assert!(uri.ends_with("/?replicaSet=rs7"), "{uri}");
    let hosts = hosts(&uri);
    assert_eq!(hosts.len(), 4);
    let mut c = RawClient::connect(&hosts[0]).await;
    assert_eq!(
        c.hello().await.get_bool("isWritablePrimary").ok(),
        Some(true)
    );

    let mut ask = async |cmd: &str| -> String {
        stdin
            .write_all(format!("{cmd}\n").as_bytes())
            .await
            .unwrap();
        line(&mut out).await
    };
    let status = ask("status").await;
    assert!(
        status.starts_with("ok ") && status.contains("PRIMARY") && status.contains("ARBITER"),
        "{status}"
    );
    assert_eq!(ask("stepdown").await, "ok");
    assert_eq!(ask("elect 1").await, "ok");
    assert!(ask("bogus").await.starts_with("error: "));
    assert!(
        ask("elect 3").await.starts_with("error: "),
        "an arbiter cannot be elected"
    );
    assert!(ask("kill 99").await.starts_with("error: "));
    let h = c.hello().await;
    assert_eq!(h.get_str("primary").ok(), Some(hosts[1].as_str()));
    drop(stdin);
    exits_zero(child).await;
}

#[tokio::test]
async fn signals_exit_zero() {
    for signal in ["-TERM", "-INT"] {
        let mut child = sim(&["--mongos", "2", "--server-version", "4.2", "--port", "0"]);
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let uri = line(&mut out).await;
        assert!(!uri.contains("replicaSet"), "{uri}");
        let hosts = hosts(&uri);
        assert_eq!(hosts.len(), 2);
        let h = RawClient::connect(&hosts[1])
            .await
            .command("admin", doc! { "isMaster": 1 })
            .await;
        assert_eq!(h.get_str("msg").ok(), Some("isdbgrid"));
        assert_eq!(h.get_i32("maxWireVersion").ok(), Some(8));
        let pid = child.id().unwrap().to_string();
        let killed = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        exits_zero(child).await;
    }
}

/// Runs the simulator with `args`, which must make it fail: its standard error.
async fn fails(args: &[&str]) -> String {
    let child = sim(args);
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn bad_arguments_fail_with_a_message() {
    let err = fails(&["--server-version", "2.6", "--port", "0"]).await;
    assert!(err.contains("unsupported server version"), "{err}");
}

#[tokio::test]
async fn a_taken_port_fails_with_a_hint_to_use_any_free_port() {
    // A port held by another socket: binding it must fail, with a way out.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = fails(&["--standalone", "--port", &port.to_string()]).await;
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("--port 0 uses any free ports"), "{err}");
    drop(taken);
}

#[tokio::test]
async fn standalone_on_a_fixed_port() {
    // Find a free port, then ask for it explicitly.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = sim(&["--standalone", "--port", &port.to_string()]);
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(line(&mut out).await, format!("mongodb://127.0.0.1:{port}/"));
    drop(child.stdin.take());
    exits_zero(child).await;
}

#[tokio::test]
async fn malformed_message_is_logged_and_the_node_keeps_serving() {
    let mut child = sim(&["--standalone", "--port", "0"]);
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let host = hosts(&line(&mut out).await).remove(0);
    let mut bad = RawClient::connect(&host).await;
    let mut garbage = Vec::new();
    for v in [20i32, 1, 0, 2013] {
        garbage.extend_from_slice(&v.to_le_bytes());
    }
    garbage.extend_from_slice(&[0xFF; 4]);
    bad.send_raw(&garbage).await;
    assert!(bad.closed_within(Duration::from_secs(5)).await);
    let h = RawClient::connect(&host).await.hello().await;
    assert_eq!(h.get_bool("isWritablePrimary").ok(), Some(true));
    drop(child.stdin.take());
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("closing connection: malformed message"),
        "no log line for the malformed message: {log}"
    );
}

/// The open file descriptors of process `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_line_that_is_not_utf8_is_answered_and_input_goes_on() {
    let mut child = sim(&["--standalone", "--port", "0"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    line(&mut out).await;
    stdin.write_all(b"sta\xff\xfetus\n").await.unwrap();
    let answer = line(&mut out).await;
    assert!(answer.starts_with("error: "), "{answer}");
    stdin.write_all(b"status\n").await.unwrap();
    let status = line(&mut out).await;
    assert!(status.starts_with("ok "), "{status}");
    drop(stdin);
    exits_zero(child).await;
}

/// Standard error is piped and never read: the ~64 KB pipe fills with warnings, and the
/// node must go on serving, free the connections, and exit when standard input closes.
#[tokio::test]
async fn unread_standard_error_never_blocks_serving() {
    let mut child = sim(&["--standalone", "--port", "0"]);
    let pid = child.id().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let host = hosts(&line(&mut out).await).remove(0);
    let baseline = open_fds(pid);
    // A header announcing an unknown opCode: one warning per connection.
    let mut garbage = Vec::new();
    for v in [20i32, 1, 0, 9999] {
        garbage.extend_from_slice(&v.to_le_bytes());
    }
    garbage.extend_from_slice(&[0xFF; 4]);
    for _batch in 0..6 {
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (host, garbage) = (host.clone(), garbage.clone());
            clients.spawn(async move {
                let mut c = RawClient::connect(&host).await;
                c.send_raw(&garbage).await;
                c.closed_within(Duration::from_secs(10)).await
            });
        }
        while let Some(closed) = clients.join_next().await {
            assert!(
                closed.unwrap(),
                "the node closes a connection sending garbage"
            );
        }
    }
    let mut c = RawClient::connect(&host).await;
    c.send_msg("admin", doc! { "hello": 1 }, MsgFlags::empty())
        .await;
    let reply = c.try_recv(Duration::from_secs(5)).await;
    assert!(matches!(reply, Ok(Some(_))), "hello unanswered: {reply:?}");
    drop(c);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while open_fds(pid) > baseline && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        open_fds(pid) <= baseline,
        "{} fds open, {baseline} before",
        open_fds(pid)
    );
    drop(child.stdin.take());
    exits_zero(child).await;
}

#[tokio::test]
async fn load_balancer_prints_its_connection_string_and_kill_reaches_the_mongos() {
    let mut child = sim(&["--mongos", "2", "--port", "0", "--load-balancer"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let uri = line(&mut out).await;
    assert!(uri.ends_with("/?loadBalanced=true"), "{uri}");
    let balancer = hosts(&uri);
    assert_eq!(balancer.len(), 1);
    let mut client = RawClient::connect(&balancer[0]).await;
    let hello = client
        .command("admin", doc! { "hello": 1, "loadBalanced": true })
        .await;
    assert!(hello.get_object_id("serviceId").is_ok(), "{hello}");
    stdin.write_all(b"kill 0\n").await.unwrap();
    assert_eq!(line(&mut out).await, "ok");
    drop(stdin);
    exits_zero(child).await;
}

#[tokio::test]
async fn a_load_balancer_needs_mongos() {
    let child = sim(&["--load-balancer", "--port", "0"]);
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--mongos"), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn a_deployment_over_the_open_file_limit_is_refused_at_once_saying_what_it_needs() {
    // A shell lowers the limit (soft and hard, so the sim cannot raise it) for the sim only.
    let started = std::time::Instant::now();
    let child = Command::new("sh")
        .args([
            "-c",
            "ulimit -n 200 && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_mongo-topology"),
            "sim",
            "--members",
            "1000",
            "--port",
            "0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the sim binary under sh");
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("the sim refuses in time")
        .expect("wait for the sim");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no connection string was printed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs at least 1064 open files"), "{err}");
    assert!(err.contains("the open file limit is 200"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
