//! What the blackhole tests share (tests/blackhole.rs, and
//! interop/rust-driver/tests/blackhole.rs through `#[path]`): re-running a test inside a
//! fresh network namespace, and dropping every packet to and from one port there.
//!
//! In the namespace, `lo` gets an htb root qdisc with a class whose leaf is `pfifo limit 0`
//! (it drops every packet it is given); `blackhole(port)` adds u32 filters sending packets
//! whose source or destination port is `port` into that class: SYNs vanish (connects hang)
//! and established connections go silent in both directions. (`action drop` and the `prio`
//! qdisc need kernel modules this machine's kernel does not have; the zero-length fifo does
//! the same.) Nothing outside the namespace is touched.
//!
//! Needs root, `unshare`, `ip` and `tc`; otherwise the test is skipped with the reason
//! printed, unless `MONGO_TOPOLOGY_REQUIRE_NETNS=1` (scripts/test sets it), which makes it
//! fail.

use std::process::Command;

/// Set in the re-run inside the namespace.
const INSIDE: &str = "MONGO_TOPOLOGY_BLACKHOLE_INSIDE_NETNS";

/// Why this machine cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"));
    if !root {
        return Some("not running as root (network namespaces and tc need it)".to_owned());
    }
    for (tool, arg) in [("unshare", "--help"), ("tc", "-V"), ("ip", "-V")] {
        if Command::new(tool).arg(arg).output().is_err() {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

/// Runs `scenario` in this test binary re-run inside a fresh network namespace (or, in
/// that re-run, runs it); skips when the machine cannot.
pub fn in_a_network_namespace<F: std::future::Future<Output = ()>>(
    test: &str,
    scenario: fn() -> F,
) {
    if std::env::var_os(INSIDE).is_some() {
        prepare_namespace();
        tokio::runtime::Runtime::new().unwrap().block_on(scenario());
        return;
    }
    if let Some(reason) = missing_prerequisite() {
        assert!(
            std::env::var("MONGO_TOPOLOGY_REQUIRE_NETNS").as_deref() != Ok("1"),
            "MONGO_TOPOLOGY_REQUIRE_NETNS=1 but {reason}"
        );
        println!("skipped: {reason}");
        return;
    }
    let output = Command::new("unshare")
        .arg("--net")
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "the run inside the namespace failed"
    );
    assert!(
        stdout.contains("blackhole figures:") || stdout.contains("skipped:"),
        "the scenario ran inside the namespace"
    );
}

fn run(command: &str, args: &[&str]) {
    let output = Command::new(command).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{command} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Loopback up, and the class that drops everything it is given (see the module docs).
fn prepare_namespace() {
    run("ip", &["link", "set", "lo", "up"]);
    run(
        "tc",
        &["qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb"],
    );
    run(
        "tc",
        &[
            "class", "add", "dev", "lo", "parent", "1:", "classid", "1:2", "htb", "rate", "1gbit",
        ],
    );
    run(
        "tc",
        &[
            "qdisc", "add", "dev", "lo", "parent", "1:2", "handle", "2:", "pfifo", "limit", "0",
        ],
    );
}

/// From now on packets to and from `port` vanish: SYNs, data and acknowledgements alike
/// (dropping only those to the port would still let a streaming server's pushed replies
/// through).
pub fn blackhole(port: u16) {
    let port = port.to_string();
    for direction in ["dport", "sport"] {
        run(
            "tc",
            &[
                "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                "match", "ip", direction, &port, "0xffff", "flowid", "1:2",
            ],
        );
    }
}
