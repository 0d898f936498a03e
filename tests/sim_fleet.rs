//! `sim` at fleet scale, as processes: the mongos published on the simulator's loopback DNS
//! server and found by `discover 'mongodb+srv://fleet.test/'` (srvMaxHosts honoured), and
//! 2,000 mongos served by two simulator processes, the connection string passed through
//! files (`--uri-file-out`, `--uri-file`), every one of them known to `watch --json` with no
//! event missed, and control commands routed to the process owning the mongos named.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_mongo-topology");

/// A `sim` process: its standard output's lines, its standard input for control commands.
struct Sim {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Sim {
    fn start(args: &[&str]) -> Sim {
        let mut child = Command::new(BINARY)
            .arg("sim")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("run sim");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        Sim { child, stdout }
    }

    async fn line(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(60), self.stdout.next_line())
            .await
            .expect("the simulator prints in time")
            .expect("readable stdout")
            .expect("the simulator is running")
    }

    async fn ask(&mut self, command: &str) -> String {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        self.line().await
    }

    /// Closes standard input: the simulator (and its children) stop and it exits 0.
    async fn stop(mut self) {
        drop(self.child.stdin.take());
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the simulator exits in time")
            .unwrap();
        assert!(status.success(), "{status:?}");
    }
}

async fn run(args: &[&str]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("the command exits in time")
        .expect("run the binary")
}

fn temporary_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sim-fleet-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The seeds of a `mongodb://…/` string.
fn seeds(connection_string: &str) -> HashSet<String> {
    let hosts = connection_string
        .strip_prefix("mongodb://")
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    hosts.split(',').map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_finds_every_mongos_through_the_simulators_srv_records() {
    const MONGOS: usize = 50;
    let mut sim = Sim::start(&[
        "--mongos",
        &MONGOS.to_string(),
        "--port",
        "0",
        "--srv-name",
        "fleet.test",
        "--dns-port",
        "0",
    ]);
    let plain = sim.line().await;
    let dns = sim.line().await;
    let words: Vec<&str> = dns.split(' ').collect();
    assert_eq!(words.len(), 3, "{dns}");
    assert_eq!(words[0], "dns");
    assert_eq!(words[2], "mongodb+srv://fleet.test/?tls=false");
    let (server, uri) = (words[1], words[2]);
    let ports: HashSet<u16> = seeds(&plain)
        .iter()
        .map(|seed| seed.rsplit_once(':').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(ports.len(), MONGOS);

    let output = run(&["discover", uri, "--dns-server", server, "--json"]).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["srv"]["query"], "_mongodb._tcp.fleet.test");
    let records: HashSet<u16> = report["srv"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            assert_eq!(record["target"], "mongos.fleet.test", "{record}");
            u16::try_from(record["port"].as_u64().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(records, ports, "one SRV record per mongos");
    let servers = report["servers"].as_array().unwrap();
    assert_eq!(servers.len(), MONGOS, "{report}");
    assert!(servers.iter().all(|s| s["type"] == "Mongos"), "{report}");

    let limited = format!("{uri}&srvMaxHosts=7");
    let output = run(&["discover", &limited, "--dns-server", server, "--json"]).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let servers = report["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 7, "srvMaxHosts=7: {report}");
    assert!(servers.iter().all(|s| s["type"] == "Mongos"), "{report}");

    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_mongos_over_two_processes_all_known_to_watch_none_missed() {
    const MONGOS: usize = 2_000;
    let dir = temporary_dir("watch");
    let written = dir.join("uri");
    let mut sim = Sim::start(&[
        "--mongos",
        &MONGOS.to_string(),
        "--processes",
        "2",
        "--port",
        "0",
        "--uri-file-out",
        written.to_str().unwrap(),
    ]);
    let printed = sim.line().await;
    let expected = seeds(&printed);
    assert_eq!(expected.len(), MONGOS);
    let in_file = std::fs::read_to_string(&written).unwrap();
    assert_eq!(
        in_file,
        format!("{printed}\n"),
        "the file holds the string printed"
    );
    // Polling: one monitoring connection per mongos, as a 10,000-mongos client would.
    let polled = dir.join("uri-poll");
    std::fs::write(&polled, format!("{printed}?serverMonitoringMode=poll")).unwrap();

    let mut watch = Command::new(BINARY)
        .args(["watch", "--json", "--duration", "60", "--uri-file"])
        .arg(&polled)
        .env_remove("MONGODB_URI")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run watch");
    let mut stdout = BufReader::new(watch.stdout.take().expect("piped stdout")).lines();
    // Reads until every mongos is known, then stops the watch (SIGTERM: it closes the
    // client, shows the last events and reports any missed), and reads to the end.
    let read = async {
        let mut lines: Vec<Value> = Vec::new();
        let mut known = HashSet::new();
        let mut stopped = false;
        while let Some(line) = stdout.next_line().await.expect("readable stdout") {
            let value: Value = serde_json::from_str(&line).unwrap();
            if value["event"] == "server_description_changed" && value["new_type"] == "Mongos" {
                known.insert(value["address"].as_str().unwrap().to_owned());
            }
            lines.push(value);
            if known.len() == MONGOS && !stopped {
                stopped = true;
                let pid = watch.id().expect("the watch's pid").to_string();
                let sent = std::process::Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .expect("run kill");
                assert!(sent.success());
            }
        }
        lines
    };
    let lines = tokio::time::timeout(Duration::from_secs(25), read)
        .await
        .expect("every mongos known and the watch stopped within 25 s");
    let status = tokio::time::timeout(Duration::from_secs(5), watch.wait())
        .await
        .expect("watch exits in time")
        .expect("wait for watch");
    assert_eq!(status.code(), Some(143), "stopped by SIGTERM");
    let named = |event: &str| -> Vec<&Value> {
        lines.iter().filter(|line| line["event"] == event).collect()
    };
    assert!(
        named("events_missed").is_empty(),
        "events were missed: {:?}",
        named("events_missed")
    );
    let opened: HashSet<String> = named("server_opening")
        .iter()
        .map(|line| line["address"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(named("server_opening").len(), MONGOS);
    assert_eq!(
        opened, expected,
        "one server_opening per mongos of both processes"
    );

    // Control commands reach the process owning the mongos, by index or by address.
    let last = printed
        .strip_prefix("mongodb://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .split(',')
        .next_back()
        .unwrap()
        .to_owned();
    assert_eq!(sim.ask(&format!("latency {last} 5")).await, "ok");
    assert_eq!(sim.ask("freeze 3").await, "ok");
    let status = sim.ask("status").await;
    assert!(status.starts_with("ok "), "{status}");
    assert_eq!(
        status.matches("MONGOS").count(),
        MONGOS,
        "every mongos in status"
    );
    assert!(
        status.contains(&format!("{last} MONGOS [latency=5ms]")),
        "{last} latency in {status}"
    );
    assert_eq!(status.matches("frozen").count(), 1, "{status}");
    assert!(sim.ask("kill 2001").await.starts_with("error: "));
    sim.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
