//! `mongo-topology watch --record FILE` as a process against a simulated replica set with
//! authentication: the recording's header and hello replies, rotation at
//! `--record-max-bytes` keeping `--record-keep` files, never the password, and a file that
//! cannot be created refused before watching.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use mongo_topology_sim::{Deployment, DeploymentSpec, SimUser};
use serde_json::Value;
use tokio::process::Command;

const PASSWORD: &str = "pa55-w0rd-xyz";

/// How long any one step may take before the test fails instead of hanging.
const GUARD: Duration = Duration::from_secs(15);

async fn watch(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_mongo-topology"))
        .arg("watch")
        .args(args)
        .env_remove("MONGODB_URI")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start watch");
    tokio::time::timeout(GUARD, child.wait_with_output())
        .await
        .expect("watch exits in time")
        .expect("wait for watch")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cli-watch-record-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect()
}

#[tokio::test]
async fn watch_records_rotated_files_without_the_password() {
    let sim = Deployment::start(
        DeploymentSpec::replica_set("rs0", 3, 0, 0)
            .with_user(SimUser::parse(&format!("alice:{PASSWORD}")).unwrap()),
    )
    .await
    .unwrap();
    let seed = &sim.addresses()[0];
    let uri = format!("mongodb://alice:{PASSWORD}@{seed}/?replicaSet=rs0&heartbeatFrequencyMS=500");
    let dir = scratch("rotation");
    let file = dir.join("incident.ndjson");
    let output = watch(&[
        "--json",
        "--duration",
        "3",
        "--record",
        file.to_str().unwrap(),
        "--record-max-bytes",
        "4000",
        "--record-keep",
        "3",
        &uri,
    ])
    .await;
    assert!(output.status.success(), "{output:?}");

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["incident.ndjson", "incident.ndjson.1", "incident.ndjson.2"],
        "rotated at 4000 bytes, 3 files kept"
    );
    let mut hello_addresses = std::collections::BTreeSet::new();
    for name in &names {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(PASSWORD), "the password is in {name}");
        let lines = lines(&path);
        let header = &lines[0];
        assert_eq!(header["format"], "mongo-topology-recording", "{name}");
        assert_eq!(header["version"], 1);
        assert!(
            header["connection_string"]
                .as_str()
                .unwrap()
                .starts_with("mongodb://alice:*****@"),
            "{header}"
        );
        for record in &lines[1..] {
            if record["type"] == "hello" {
                hello_addresses.insert(record["address"].as_str().unwrap().to_owned());
            }
        }
    }
    let current = lines(&file);
    assert!(
        current
            .iter()
            .any(|line| line["event"] == "topology_closed"),
        "the recording ends with the client"
    );
    assert_eq!(
        hello_addresses.len(),
        3,
        "hellos of every member in the kept files: {hello_addresses:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_recording_file_that_cannot_be_created_is_refused() {
    let dir = scratch("refused");
    let file = dir.join("no-such-dir").join("incident.ndjson");
    let output = watch(&[
        "--json",
        "--duration",
        "1",
        "--record",
        file.to_str().unwrap(),
        "mongodb://127.0.0.1:9/",
    ])
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot write the recording file") && stderr.contains("incident.ndjson"),
        "{stderr}"
    );
}
