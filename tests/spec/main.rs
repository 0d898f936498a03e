//! Runs the MongoDB specification test suites (JSON) against the pure core
//! (and, for CMAP, the pure pool state machine; for the DNS seedlist suites, the engine
//! against a DNS server on loopback and the simulator).
//!
//! The suites are read from `$MONGO_SPECS_DIR` (default `../shared/specs`); they are never
//! committed to this repository. `scripts/fetch-specs` fetches them at the pinned commit.
//!
//! Output: one line per suite directory, `spec <dir>: N passed, M failed, K skipped`, then
//! every failure with its file, case and what differed, then a total line. Set
//! `SPEC_FILTER=<substring>` to run only the suite directories whose path contains it.

mod auth;
mod cmap;
mod dns_seedlist;
#[path = "../../crates/engine/tests/dns_support/mod.rs"]
mod dns_support;
mod harness;
mod sdam;
mod selection;
mod unified;
mod uri;

use harness::Suite;

/// How many unified-format files run at once.
const UNIFIED_FILES_AT_ONCE: usize = 4;

/// Every suite directory this runner knows, relative to the specs directory.
fn suites() -> Vec<Suite> {
    let mut suites = Vec::new();
    for dir in [
        "rs",
        "sharded",
        "single",
        "errors",
        "monitoring",
        "load-balanced",
    ] {
        suites.push(Suite::new(
            format!("server-discovery-and-monitoring/tests/{dir}"),
            sdam::run_file,
        ));
    }
    // The unified files mostly wait on simulated deployments: four run at once.
    suites.push(
        Suite::new(
            "server-discovery-and-monitoring/tests/unified",
            unified::run_file,
        )
        .files_at_once(UNIFIED_FILES_AT_ONCE),
    );
    suites.push(
        Suite::new("load-balancers/tests", unified::run_file).files_at_once(UNIFIED_FILES_AT_ONCE),
    );
    suites.push(Suite::new(
        "connection-string/tests",
        uri::run_connection_string_file,
    ));
    suites.push(Suite::new("uri-options/tests", uri::run_uri_options_file));
    for dir in ["server_selection", "rtt", "in_window"] {
        suites.push(Suite::new(
            format!("server-selection/tests/{dir}"),
            selection::run_file,
        ));
    }
    suites.push(Suite::new("max-staleness/tests", selection::run_file));
    suites.push(Suite::new(
        "connection-monitoring-and-pooling/tests/cmap-format",
        cmap::run_file,
    ));
    suites.push(Suite::new("auth/tests/legacy", auth::run_file));
    for dir in ["replica-set", "sharded", "load-balanced"] {
        suites.push(Suite::new(
            format!("initial-dns-seedlist-discovery/tests/{dir}"),
            dns_seedlist::run_file,
        ));
    }
    suites
}

fn main() {
    std::process::exit(harness::run_all(suites()));
}
