//! The terminal view of `mongo-topology watch` in a real terminal: tmux at 80, 120 and 200
//! columns, through a failover (stepdown, then an election). Every address is shown whole in
//! the table (issue 17: it cut `127.0.0.1:4xxxx` to `127.0.0.1:4` at 80 and 120 columns).
//!
//! Needs tmux (scripts/test installs it and sets MONGO_TOPOLOGY_REQUIRE_TMUX=1, so that a
//! missing tmux fails there); elsewhere a missing tmux skips the test with a message.
//! Each test uses its own tmux server (`-L`), killed at the end.

use std::process::Command;
use std::time::Duration;

use mongo_topology_sim::{Deployment, DeploymentSpec, MemberRef};
use tokio::time::Instant;

/// How long the view may take to show a change.
const GUARD: Duration = Duration::from_secs(15);

/// A private tmux server, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn capture(&self, session: &str) -> String {
        let output = self.run(&["capture-pane", "-p", "-t", session]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            std::env::var_os("MONGO_TOPOLOGY_REQUIRE_TMUX").is_none(),
            "tmux is required (MONGO_TOPOLOGY_REQUIRE_TMUX is set) but not installed"
        );
        eprintln!("skipped: tmux is not installed (apt-get install -y tmux)");
    }
    found
}

/// Polls the pane until `done` holds; fails with the last screen after [`GUARD`].
async fn wait_for_screen(
    tmux: &Tmux,
    session: &str,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + GUARD;
    loop {
        let screen = tmux.capture(session);
        if done(&screen) {
            return screen;
        }
        assert!(
            Instant::now() < deadline,
            "{session}: no {what} within {GUARD:?}; the screen:\n{screen}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server table's rows: lines that start, after the border, with one of `addresses`
/// (the event log below the table also names server types, and must not satisfy a wait).
fn table_rows<'a>(screen: &'a str, addresses: &[String]) -> Vec<&'a str> {
    screen
        .lines()
        .filter(|line| {
            addresses
                .iter()
                .any(|address| line.starts_with(&format!("│{address} ")))
        })
        .collect()
}

/// How many of the table's rows show `server_type`.
fn rows_of_type(screen: &str, addresses: &[String], server_type: &str) -> usize {
    table_rows(screen, addresses)
        .iter()
        .filter(|row| row.contains(&format!(" {server_type} ")))
        .count()
}

/// Each address's table row starts with the whole address after the table's border.
fn assert_addresses_whole(screen: &str, addresses: &[String], width: u16) {
    for address in addresses {
        let row = screen
            .lines()
            .find(|line| line.starts_with(&format!("│{address} ")) && line.contains("RS"))
            .unwrap_or_else(|| panic!("{width} columns: no whole row for {address}:\n{screen}"));
        assert!(row.chars().count() <= usize::from(width), "{row}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_view_never_cuts_addresses_during_a_failover() {
    if !tmux_available() {
        return;
    }
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let addresses = deployment.addresses();
    let uri = deployment.connection_string();
    let tmux = Tmux {
        socket: format!("mongo-topology-test-{}", std::process::id()),
    };
    let binary = env!("CARGO_BIN_EXE_mongo-topology");
    let widths = [80u16, 120, 200];
    for width in widths {
        let session = format!("w{width}");
        let (columns, rows) = (width.to_string(), "30".to_string());
        let started = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            &columns,
            "-y",
            &rows,
            "-e",
            "NO_COLOR=1",
            binary,
            "watch",
            &uri,
        ]);
        assert!(started.status.success(), "{started:?}");
    }
    let sessions = widths.map(|width| (width, format!("w{width}")));
    let mut first = None;
    for (width, session) in &sessions {
        let screen = wait_for_screen(&tmux, session, "the first view", |screen| {
            screen.contains("primary 127.")
                && rows_of_type(screen, &addresses, "RSPrimary") == 1
                && rows_of_type(screen, &addresses, "RSSecondary") == 2
        })
        .await;
        assert_addresses_whole(&screen, &addresses, *width);
        first = addresses
            .iter()
            .find(|address| screen.contains(&format!("primary {address}")))
            .cloned();
    }
    let first = first.expect("a primary in the title");
    // The failover: the primary steps down (no primary), then another member is elected.
    deployment.stepdown().unwrap();
    for (width, session) in &sessions {
        let screen = wait_for_screen(&tmux, session, "the stepdown", |screen| {
            screen.contains("primary none") && rows_of_type(screen, &addresses, "RSSecondary") == 3
        })
        .await;
        assert_addresses_whole(&screen, &addresses, *width);
    }
    let next = addresses
        .iter()
        .find(|address| **address != first)
        .expect("another member")
        .clone();
    deployment.elect(&MemberRef::Address(next.clone())).unwrap();
    let elected = format!("primary {next}");
    for (width, session) in &sessions {
        let screen = wait_for_screen(&tmux, session, "the new primary", |screen| {
            screen.contains(&elected) && screen.contains("primary changed")
        })
        .await;
        eprintln!("{width} columns after the failover:\n{screen}");
        assert_addresses_whole(&screen, &addresses, *width);
    }
    drop(tmux);
    deployment.shutdown().await;
}
