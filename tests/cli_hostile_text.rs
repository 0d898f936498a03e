//! Text from a hostile server reaching the CLI's output (issue 20, items 1, 4 and 8): a
//! simulated set whose set name and tags carry terminal escape sequences, a newline with a
//! forged summary line, and a 70,000-character value. `discover` and `select` must neither
//! panic nor pass the escapes or the newline through; JSON keeps the exact values; log lines
//! on a standard error that is not a terminal carry no colour codes.

use std::process::{Output, Stdio};
use std::time::Duration;

use mongo_topology_sim::{Deployment, DeploymentSpec, MemberSpec, TopologySpec};
use tokio::process::Command;

/// The hostile set name: a title change, a screen clear, red text.
const SET_NAME: &str = "rs0\u{1b}]0;TITLE\u{7}\u{1b}[2J\u{1b}[31m";

/// A tag value that forges a summary line.
const FORGED: &str = "east\nFORGED: writable server: yes";

/// Runs the binary with `args` and `env`, MONGODB_URI and NO_COLOR unset, standard error
/// to a file (not a terminal).
async fn run(args: &[&str], env: &[(&str, &str)]) -> (Output, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("cli-hostile-text-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stderr_path = dir.join(format!("stderr-{}", rand::random::<u64>()));
    let stderr_file = std::fs::File::create(&stderr_path).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .args(args)
        .env_remove("MONGODB_URI")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr_file))
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    // `output()` would pipe standard error: spawned, it keeps the file.
    let child = command.spawn().expect("run the binary");
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the command exits in time")
        .expect("wait for the binary");
    let stderr = std::fs::read(&stderr_path).unwrap();
    let _ = std::fs::remove_file(&stderr_path);
    (output, stderr)
}

/// A 2-member set with the hostile name; the second member's tags forge a line and, with
/// `long`, one tag value is 70,000 characters long.
async fn hostile_set(long: bool) -> Deployment {
    let long = "x".repeat(if long { 70_000 } else { 1 });
    let members = vec![
        MemberSpec::data(),
        MemberSpec::data().with_tags([("dc", FORGED), ("long", long.as_str())]),
    ];
    Deployment::start(DeploymentSpec::new(TopologySpec::ReplicaSet {
        name: SET_NAME.to_owned(),
        members,
    }))
    .await
    .unwrap()
}

fn assert_printable(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!bytes.contains(&0x1b), "ESC in {what}: {text:?}");
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{9b}'),
        "control character in {what}: {text:?}"
    );
}

/// Item 1: a 70,000-character cell panicked ("Formatting argument out of range").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_cuts_a_huge_cell_without_panic() {
    let deployment = hostile_set(true).await;
    let uri = format!("mongodb://{}/", deployment.addresses()[0]);
    let (output, stderr) = run(&["discover", &uri], &[]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&stderr);
    assert_eq!(output.status.code(), Some(0), "{text}{errors}");
    assert!(!errors.contains("panicked"), "{errors}");
    assert!(
        text.contains("… (70042 chars)"),
        "the cut cell states its length: {text}"
    );
    assert!(
        text.lines().all(|line| line.chars().count() < 10_000),
        "{text}"
    );
    // JSON keeps the exact value.
    let (output, _) = run(&["discover", "--json", &uri], &[]).await;
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let long = json["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|server| server["tags"]["long"].as_str())
        .expect("the tagged member");
    assert_eq!(long.len(), 70_000);
    deployment.shutdown().await;
}

/// Item 4: escape sequences and a forged line in a set name and a tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_shows_hostile_text_escaped() {
    let deployment = hostile_set(false).await;
    let uri = format!("mongodb://{}/", deployment.addresses()[0]);
    let (output, stderr) = run(&["discover", &uri], &[]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&stderr);
    assert_eq!(output.status.code(), Some(0), "{text}{errors}");
    // Item 4: no escape sequence, no forged line; the values are shown escaped.
    assert_printable("discover's stdout", &output.stdout);
    assert!(
        text.lines().all(|line| !line.starts_with("FORGED")),
        "{text}"
    );
    assert!(
        text.contains("rs0\\u{1b}]0;TITLE\\u{7}\\u{1b}[2J"),
        "{text}"
    );
    assert!(
        text.contains("dc:east\\nFORGED: writable server: yes"),
        "{text}"
    );
    // JSON keeps the exact values.
    let (output, _) = run(&["discover", "--json", &uri], &[]).await;
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["set_name"], SET_NAME);
    let tagged = json["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|server| server["tags"]["dc"].is_string())
        .expect("the tagged member");
    assert_eq!(tagged["tags"]["dc"], FORGED);
    deployment.shutdown().await;
}

/// Item 4 in `select`: a tag that forges a line, shown in a verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_shows_hostile_text_escaped() {
    let deployment = hostile_set(true).await;
    let uri = format!("mongodb://{}/", deployment.addresses()[0]);
    // The tagged secondary's verdict names its tags: the forged line and the long value.
    let args = [
        "select",
        "--read-preference",
        "secondary",
        "--tag",
        "dc:west",
        &uri,
    ];
    let (output, stderr) = run(&args, &[]).await;
    let text = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&stderr);
    assert_eq!(output.status.code(), Some(2), "{text}{errors}");
    assert_printable("select's stdout", &output.stdout);
    assert!(
        text.contains("dc: east\\nFORGED: writable server: yes"),
        "{text}"
    );
    assert!(
        text.lines().all(|line| !line.starts_with("FORGED")),
        "{text}"
    );
    assert!(text.contains(" chars)"), "{text}");
    deployment.shutdown().await;
}

/// Item 8: log lines written to a file carry no ANSI colour codes; nor with NO_COLOR set.
/// Nor the escape sequences of the hello replies logged at debug level (item 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_in_a_file_have_no_colour() {
    let deployment = hostile_set(false).await;
    let uri = format!("mongodb://{}/", deployment.addresses()[0]);
    for env in [
        &[("RUST_LOG", "debug")][..],
        &[("RUST_LOG", "debug"), ("NO_COLOR", "1")],
    ] {
        let (output, stderr) = run(&["discover", &uri], env).await;
        assert_eq!(output.status.code(), Some(0));
        assert!(!stderr.is_empty(), "debug logs were written");
        if let Some(at) = stderr.iter().position(|byte| *byte == 0x1b) {
            let from = at.saturating_sub(200);
            let to = (at + 100).min(stderr.len());
            panic!(
                "ESC in the log file: {:?}",
                String::from_utf8_lossy(&stderr[from..to])
            );
        }
    }
    deployment.shutdown().await;
}

/// Item 4 in error messages: the user's own arguments, quoted back in a usage error or a
/// connection string error, are shown on one line without their escapes (clap drops the
/// escape sequences itself; the connection string error shows them escaped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_show_arguments_escaped() {
    for (args, shown_escaped) in [
        (
            &[
                "discover",
                "--timeout-ms",
                "1\u{1b}[2J\nFORGED",
                "mongodb://a:1/",
            ][..],
            false,
        ),
        (&["discover", "mongodb://a\u{1b}[2J\nFORGED:1/"][..], true),
        (
            &[
                "select",
                "--read-preference",
                "x\u{1b}[2J\nFORGED",
                "mongodb://a:1/",
            ][..],
            true,
        ),
    ] {
        let (output, stderr) = run(args, &[]).await;
        let errors = String::from_utf8_lossy(&stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {errors}");
        assert_printable("a usage error", &stderr);
        assert_eq!(errors.lines().count(), 1, "{args:?}: {errors}");
        if shown_escaped {
            assert!(errors.contains("\\u{1b}[2J\\nFORGED"), "{args:?}: {errors}");
        }
    }
}
