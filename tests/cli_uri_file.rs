//! `--uri-file PATH`: the connection string read from a file by `discover`, `select` and
//! `watch`, against simulated mongos routers; credentials in the file never printed; a
//! string given both ways, or a file that is not a regular one, refused with exit status 1.
//! (A 10,000-host string longer than one argument is parsed by the binary's unit tests.)

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use mongo_topology_sim::{Deployment, DeploymentSpec};
use tokio::process::Command;

async fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .env("RUST_LOG", "debug")
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(15), command.output())
        .await
        .expect("the command exits in time")
        .expect("run the binary")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cli-uri-file-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_and_select_read_the_connection_string_from_a_file() {
    let deployment = Deployment::start(DeploymentSpec::sharded(3)).await.unwrap();
    let dir = scratch("mongos");
    let file = dir.join("uri");
    std::fs::write(&file, format!("{}\n", deployment.connection_string())).unwrap();

    let output = run(&["discover", "--json", "--uri-file", path_arg(&file)]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["topology_type"], "Sharded", "{value}");
    let mut addresses: Vec<String> = value["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|server| {
            assert_eq!(server["type"], "Mongos", "{server}");
            server["address"].as_str().unwrap().to_owned()
        })
        .collect();
    addresses.sort();
    let mut expected = deployment.addresses();
    expected.sort();
    assert_eq!(addresses, expected);

    let output = run(&[
        "select",
        "--uri-file",
        path_arg(&file),
        "--read-preference",
        "nearest",
        "--json",
    ])
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    // Credentials in the file appear nowhere in the output (the mongos have no users, so
    // the pool's authentication fails, and says so without the password).
    let hosts = deployment.addresses().join(",");
    std::fs::write(&file, format!("mongodb://fleet:s3cretPW@{hosts}/\n")).unwrap();
    let output = run(&["discover", "--json", "--uri-file", path_arg(&file)]).await;
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    assert!(all.contains("fleet"), "the user name is shown: {all}");
    assert!(!all.contains("s3cretPW"), "the password is printed: {all}");

    std::fs::remove_dir_all(&dir).unwrap();
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_ways_or_a_special_file_is_one_line_and_exit_1() {
    let dir = scratch("refused");
    let file = dir.join("uri");
    std::fs::write(&file, "mongodb://u:hunter2@127.0.0.1:1/\n").unwrap();
    let fifo = dir.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "discover",
                "mongodb://u:hunter2@127.0.0.1:1/",
                "--uri-file",
                path_arg(&file),
            ],
            "both as an argument and with --uri-file",
        ),
        (
            vec!["watch", "--json", "--uri-file", path_arg(&fifo)],
            "not a regular file (a FIFO)",
        ),
        (
            vec![
                "select",
                "--uri-file",
                "/dev/zero",
                "--read-preference",
                "primary",
            ],
            "not a regular file (a character device)",
        ),
        (
            vec!["watch", "--uri-file", "/nonexistent/uri"],
            "cannot read the connection string from --uri-file /nonexistent/uri",
        ),
    ];
    for (args, expected) in cases {
        let output = run(&args).await;
        let errors = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {errors}");
        assert!(errors.contains(expected), "{args:?}: {errors}");
        assert_eq!(errors.trim_end().lines().count(), 1, "{args:?}: {errors}");
        assert!(!errors.contains("hunter2"), "{args:?}: {errors}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
