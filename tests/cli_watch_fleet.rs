//! `watch --json` in front of a fleet: 2,000 simulated mongos (polling, one monitoring
//! connection each, so that the simulator and the client fit the open-file limit). Every
//! ServerOpening of discovery's burst is printed and none is missed: the engine's event
//! buffer and the watch's output queue are sized to the seeds (at 2,000 mongos the fixed
//! sizes lost ~500 lines, reported as `events_missed`).

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use mongo_topology_sim::{Deployment, DeploymentSpec};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The mongos of the fleet.
const MONGOS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_mongos_every_event_shown_none_missed() {
    let deployment = Deployment::start(DeploymentSpec::sharded(MONGOS))
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("cli-watch-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("uri");
    let uri = format!(
        "{}?serverMonitoringMode=poll",
        deployment.connection_string()
    );
    std::fs::write(&file, uri).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .args(["watch", "--json", "--duration", "60", "--uri-file"])
        .arg(&file)
        .env_remove("MONGODB_URI")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run watch");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
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
                let pid = child.id().expect("the watch's pid").to_string();
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
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
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
    let expected: HashSet<String> = deployment.addresses().into_iter().collect();
    let opened: Vec<&str> = named("server_opening")
        .iter()
        .map(|line| line["address"].as_str().unwrap())
        .collect();
    assert_eq!(opened.len(), MONGOS, "one server_opening per mongos");
    let opened: HashSet<String> = opened.into_iter().map(str::to_owned).collect();
    assert_eq!(opened, expected);
    let known: HashSet<&str> = named("server_description_changed")
        .iter()
        .filter(|line| line["new_type"] == "Mongos")
        .map(|line| line["address"].as_str().unwrap())
        .collect();
    assert_eq!(known.len(), MONGOS, "every mongos became known");
    std::fs::remove_dir_all(&dir).unwrap();
    deployment.shutdown().await;
}
