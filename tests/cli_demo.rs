//! The `demo` command as a process: it runs its whole narrated script against the embedded
//! simulator, ends by itself with exit 0 and a summary of measured timings, and stops
//! promptly on Ctrl-C.

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The guard against a hung demo.
const GUARD: Duration = Duration::from_secs(60);
/// How long the demo may take under test (`--pause-ms 0`).
const DEMO_LIMIT: Duration = Duration::from_secs(40);

/// The summary lines (label, then a figure ending in " ms") the demo must print.
const SUMMARY_LINES: [&str; 9] = [
    "discovery from one seed",
    "stepdown seen (no primary)",
    "election to new primary seen",
    "insert on the new primary",
    "frozen member marked Unknown",
    "thawed member back",
    "killed member marked Unknown",
    "restarted member back",
    "whole demo",
];

fn demo(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mongo-topology"));
    command
        .arg("demo")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn run_to_end(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = tokio::time::timeout(GUARD, demo(args).output())
        .await
        .expect("the demo ends within the guard")
        .expect("run the demo binary");
    (output, started.elapsed())
}

/// The milliseconds figure of the summary line starting with `label`, if it has one.
fn summary_millis(stdout: &str, label: &str) -> Option<f64> {
    let after_summary = stdout.split("\nSummary").nth(1)?;
    let line = after_summary
        .lines()
        .find(|line| line.trim_start().starts_with(label))?;
    let figure = line.trim_start().strip_prefix(label)?.trim();
    figure.strip_suffix(" ms")?.trim().parse().ok()
}

#[tokio::test]
async fn the_demo_runs_its_script_and_ends_with_a_summary_of_timings() {
    let (output, took) = run_to_end(&["--pause-ms", "0"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit status {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(took < DEMO_LIMIT, "the demo took {took:?}\n{stdout}");

    let seed_line = stdout
        .lines()
        .find(|line| line.starts_with("Started a simulated replica set rs0: "))
        .unwrap_or_else(|| panic!("no start line:\n{stdout}"));
    let members: Vec<&str> = seed_line
        .trim_start_matches("Started a simulated replica set rs0: ")
        .split(", ")
        .collect();
    assert_eq!(members.len(), 3, "{seed_line}");
    assert!(
        stdout.contains(&format!("mongodb://{}/?replicaSet=rs0", members[1])),
        "the client is seeded with member 1 only:\n{stdout}"
    );
    assert!(
        stdout.contains("discovery: all 3 members known after")
            && stdout.contains(&format!("; primary {}", members[0])),
        "discovery finds the first primary:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("new primary {} seen", members[2])),
        "the elected member is seen as the new primary:\n{stdout}"
    );
    assert!(
        stdout.contains("insert on the new primary: n=1"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "client saw {}: RSSecondary -> RSPrimary",
            members[2]
        )),
        "the narration shows the client's view changing:\n{stdout}"
    );

    let mut total = 0.0;
    for label in SUMMARY_LINES {
        let millis = summary_millis(&stdout, label)
            .unwrap_or_else(|| panic!("no millisecond figure for {label:?}:\n{stdout}"));
        assert!(millis >= 0.0, "{label}: {millis}");
        if label != "whole demo" {
            total += millis;
        }
    }
    let whole = summary_millis(&stdout, "whole demo").unwrap_or_default();
    assert!(
        whole >= total && whole < DEMO_LIMIT.as_secs_f64() * 1_000.0,
        "the whole demo ({whole} ms) includes every step ({total} ms):\n{stdout}"
    );
    // A frozen member can only be noticed by a check timing out, never at once.
    let frozen = summary_millis(&stdout, "frozen member marked Unknown").unwrap_or_default();
    assert!(frozen >= 500.0, "frozen member noticed after {frozen} ms");
}

#[tokio::test]
async fn a_change_not_seen_in_time_is_one_error_line_and_exit_1() {
    // A frozen member is only noticed when a check times out (connectTimeoutMS 1000 ms), so
    // 200 ms per step cannot be enough for step 3.
    let (output, _) = run_to_end(&["--pause-ms", "0", "--step-timeout-ms", "200"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("not seen"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stdout.contains("Summary"), "{stdout}");
}

#[tokio::test]
async fn the_help_shows_an_example() {
    let (output, _) = run_to_end(&["--help"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", output.status);
    assert!(
        stdout.contains("mongo-topology demo --pause-ms 0"),
        "{stdout}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_stops_the_demo_promptly() {
    let mut child = demo(&[]).spawn().expect("start the demo");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    // Interrupt once the script is under way (during the pause after discovery).
    loop {
        let line = tokio::time::timeout(GUARD, lines.next_line())
            .await
            .expect("a line in time")
            .expect("readable stdout")
            .expect("the demo still running");
        if line.contains("discovery: all 3 members known") {
            break;
        }
    }
    let pid = child.id().expect("the demo's pid").to_string();
    let interrupted = Instant::now();
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(signalled.success());
    let status = tokio::time::timeout(GUARD, child.wait())
        .await
        .expect("the demo exits within the guard")
        .expect("wait for the demo");
    let took = interrupted.elapsed();
    assert_eq!(status.code(), Some(130), "{status}");
    // Generous for a loaded machine; the demo abandons its tasks at once.
    assert!(
        took < Duration::from_secs(5),
        "the demo took {took:?} to stop"
    );
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
        rest.push('\n');
    }
    assert!(rest.contains("interrupted"), "{rest}");
    assert!(!rest.contains("Summary"), "{rest}");
}
