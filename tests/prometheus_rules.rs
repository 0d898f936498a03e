//! The shipped alert rules (deploy/prometheus/alerts.yml): valid for `promtool check rules`,
//! every rule covered by the unit tests of deploy/prometheus/alerts_test.yml, and those
//! tests passing under `promtool test rules`. Needs promtool (Debian's `prometheus`
//! package, installed by scripts/test); skipped with the reason printed when it is absent
//! and `MONGO_TOPOLOGY_REQUIRE_PROMETHEUS` is unset.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus")
}

fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("promtool"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("MONGO_TOPOLOGY_REQUIRE_PROMETHEUS").is_none(),
            "MONGO_TOPOLOGY_REQUIRE_PROMETHEUS is set but promtool is not on the PATH"
        );
        eprintln!("skipped: promtool is absent (scripts/test installs Debian's prometheus)");
    }
    found
}

/// The values of `key: value` lines (after an optional `- `) in `text`.
fn values_of(text: &str, key: &str) -> BTreeSet<String> {
    text.lines()
        .map(|line| line.trim().trim_start_matches("- ").trim())
        .filter_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .map(|value| value.trim().to_string())
        .collect()
}

#[test]
fn every_alert_rule_has_unit_tests() {
    let rules = std::fs::read_to_string(deploy_dir().join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(deploy_dir().join("alerts_test.yml")).unwrap();
    let alerts = values_of(&rules, "alert");
    assert_eq!(alerts.len(), 7, "{alerts:?}");
    assert_eq!(alerts, values_of(&tests, "alertname"));
}

fn run(promtool: &Path, args: &[&str]) {
    let output = Command::new(promtool)
        .args(args)
        .current_dir(deploy_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    let Some(promtool) = promtool() else {
        return;
    };
    run(&promtool, &["check", "rules", "alerts.yml"]);
    run(&promtool, &["test", "rules", "alerts_test.yml"]);
}
