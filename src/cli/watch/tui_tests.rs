//! The interactive view drawn from fixed snapshots on ratatui's `TestBackend`: no terminal.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bson::oid::ObjectId;
use mongo_topology::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};
use mongo_topology::ServerAddress;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::time::Instant;

use super::state::WatchState;
use super::timeline::{Timeline, What};
use super::tui::draw;

fn address(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

fn server(at: &str, server_type: ServerType, rtt_ms: u64) -> ServerDescription {
    let mut server = ServerDescription::unknown(address(at));
    server.server_type = server_type;
    if server_type != ServerType::Unknown {
        server.set_name = Some("rs0".to_string());
        server.round_trip_time = Some(Duration::from_millis(rtt_ms));
        server.max_wire_version = 25;
    }
    if server_type == ServerType::RsPrimary {
        server.election_id = Some(ObjectId::parse_str("7fffffff0000000000000002").unwrap());
        server.set_version = Some(1);
    }
    server
}

/// a:27017 secondary, b:27017 primary, c:27017 unknown; a log with a failover.
fn state() -> WatchState {
    let mut topology = TopologyDescription::with_seeds(
        TopologyType::ReplicaSetWithPrimary,
        Some("rs0".to_string()),
        [address("a:27017"), address("b:27017"), address("c:27017")],
    );
    for description in [
        server("a:27017", ServerType::RsSecondary, 2),
        server("b:27017", ServerType::RsPrimary, 4),
        server("c:27017", ServerType::Unknown, 0),
    ] {
        topology
            .servers
            .insert(description.address.clone(), Arc::new(description));
    }
    let topology = Arc::new(topology);
    let started = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let timeline = Timeline::new(started, wall);
    let mut state = WatchState::new("mongodb://a:27017/?replicaSet=rs0".into(), topology.clone());
    // Repeats the server change before it: not shown to people.
    state.push_record(timeline.record(
        started + Duration::from_millis(1400),
        What::TopologyDescriptionChanged {
            previous_type: TopologyType::ReplicaSetWithPrimary,
            new_type: TopologyType::ReplicaSetWithPrimary,
            primary: Some(address("a:27017")),
        },
    ));
    state.push_record(timeline.record(
        started + Duration::from_millis(1500),
        What::PrimaryChanged {
            from: Some(address("a:27017")),
            to: Some(address("b:27017")),
            after_election: Some(Duration::from_millis(3)),
            without_primary: None,
        },
    ));
    for tick in 0..20 {
        state.sample(topology.clone(), Duration::from_millis(500 * tick));
    }
    // A varying trend for b, so its sparkline has bars of several heights.
    if let Some(samples) = state.rtt.get_mut(&address("b:27017")) {
        for (index, sample) in samples.iter_mut().enumerate() {
            *sample = 1000 + 300 * (index as u64 % 5);
        }
    }
    state
}

fn screen_lines(state: &WatchState) -> Vec<String> {
    screen_lines_at(state, 180)
}

fn screen_lines_at(state: &WatchState, width: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, 30)).unwrap();
    terminal.draw(|frame| draw(frame, state, false)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    let width = usize::from(buffer.area.width);
    buffer
        .content
        .chunks(width)
        .map(|row| row.iter().map(|cell| cell.symbol()).collect::<String>())
        .collect()
}

fn line_with<'a>(lines: &'a [String], needle: &str) -> &'a str {
    lines
        .iter()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{}", lines.join("\n")))
}

#[test]
fn the_table_has_one_row_per_server_with_its_type_and_rtt() {
    let lines = screen_lines(&state());
    // Shown with --nocapture: what the view looks like.
    eprintln!("{}", lines.join("\n"));
    assert!(line_with(&lines, "ADDRESS").contains("RTT AVG/MIN MS"));
    let row = |needle: &str| {
        lines
            .iter()
            // Rows sit right inside the table's left border.
            .find(|line| line.starts_with(&format!("│{needle}")) && line.contains("rs0"))
            .cloned()
            .unwrap_or_else(|| panic!("no row for {needle}:\n{}", lines.join("\n")))
    };
    assert!(row("a:27017").contains("RSSecondary"));
    let primary = row("b:27017");
    assert!(primary.contains("RSPrimary"), "{primary}");
    assert!(primary.contains("4.0/-"), "{primary}");
    assert!(primary.contains("7fffffff0000000000000002"), "{primary}");
    assert!(line_with(&lines, "│c:27017").contains("Unknown"));
    assert!(line_with(&lines, "mongodb://a:27017").contains("primary b:27017"));
}

#[test]
fn the_log_shows_the_failover_with_its_time_and_duration() {
    let lines = screen_lines(&state());
    let line = line_with(&lines, "primary changed");
    // 1_800_000_001.5 s after the epoch is 2027-01-15T08:00:01.500Z.
    assert!(line.contains("08:00:01.500"), "{line}");
    assert!(
        line.contains(
            "primary changed a:27017 → b:27017, 3.0 ms after b:27017 reported its election"
        ),
        "{line}"
    );
    assert!(!lines.iter().any(|line| line.contains("topology still")));
}

#[test]
fn each_server_has_an_rtt_sparkline() {
    let lines = screen_lines(&state());
    let bars = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let b_line = lines
        .iter()
        .find(|line| line.contains("b:27017") && line.contains("ms") && !line.contains("rs0"))
        .unwrap_or_else(|| panic!("no RTT line for b:\n{}", lines.join("\n")));
    let heights: std::collections::BTreeSet<char> =
        b_line.chars().filter(|c| bars.contains(c)).collect();
    assert!(heights.len() >= 2, "bars of several heights: {b_line}");
    // One scale: a's 2 ms is below b's highest 2.2 ms, so a's bars are not full blocks.
    let a_line = lines
        .iter()
        .find(|line| line.contains("a:27017  2.0 ms"))
        .unwrap_or_else(|| panic!("no RTT line for a:\n{}", lines.join("\n")));
    assert!(a_line.contains('▇') && !a_line.contains('█'), "{a_line}");
    // c has no RTT: its trend is empty (no bars).
    let c_line = lines
        .iter()
        .find(|line| line.contains("c:27017  -"))
        .unwrap_or_else(|| panic!("no RTT line for c:\n{}", lines.join("\n")));
    assert!(!c_line.chars().any(|c| bars.contains(&c)), "{c_line}");
}

#[test]
fn without_colour_no_cell_is_styled() {
    let mut terminal = Terminal::new(TestBackend::new(180, 30)).unwrap();
    let state = state();
    terminal.draw(|frame| draw(frame, &state, false)).unwrap();
    let styled = terminal
        .backend()
        .buffer()
        .content
        .iter()
        .any(|cell| cell.fg != ratatui::style::Color::Reset);
    assert!(!styled);
    terminal.draw(|frame| draw(frame, &state, true)).unwrap();
    let coloured = terminal
        .backend()
        .buffer()
        .content
        .iter()
        .any(|cell| cell.fg == ratatui::style::Color::Green);
    assert!(coloured, "with colour the primary's row is green");
}

/// A set name and a tag with a title-changing escape sequence and a forged line, and a
/// connection string with an escape: shown escaped, nothing reaches the terminal raw.
#[test]
fn a_servers_escape_sequences_are_shown_escaped() {
    let mut state = state();
    let mut topology = (*state.topology).clone();
    let mut hostile = server("a:27017", ServerType::RsSecondary, 2);
    hostile.set_name = Some("rs0\u{1b}]0;TITLE\u{7}\u{1b}[2J".to_string());
    hostile.tags.insert(
        "dc".to_string(),
        "east\nFORGED: writable server: yes".to_string(),
    );
    topology
        .servers
        .insert(address("a:27017"), Arc::new(hostile));
    state.topology = Arc::new(topology);
    state.uri = "mongodb://a:27017/?appName=\u{1b}[31mred".into();
    let lines = screen_lines(&state);
    let text = lines.join("\n");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains("rs0\\u{1b}]0;TITLE\\u{7}"), "{text}");
    assert!(text.contains("appName=\\u{1b}[31mred"), "{text}");
    assert!(
        !lines.iter().any(|line| line.starts_with("FORGED")),
        "{text}"
    );
}

/// Loopback addresses with five-digit ports (as `sim --port 0` gives) and a long last error,
/// during a failover (no primary): at 80, 120 and 200 columns every address is shown whole
/// in the table and in the RTT pane; LAST ERROR gets what is left.
#[test]
fn addresses_are_never_cut_at_80_120_or_200_columns() {
    use mongo_topology::sdam::{ServerError, ServerErrorKind};
    let addresses = ["127.0.0.1:41389", "127.0.0.1:42835", "127.0.0.1:45785"];
    let mut topology = TopologyDescription::with_seeds(
        TopologyType::ReplicaSetNoPrimary,
        Some("rs0".to_string()),
        addresses.map(address),
    );
    for (index, at) in addresses.iter().enumerate() {
        let mut description = if index == 0 {
            ServerDescription::unknown_with_error(
                address(at),
                ServerError::new(
                    ServerErrorKind::Connect,
                    format!("cannot connect to {at}: Connection refused (os error 111)"),
                ),
                mongo_topology::MonotonicTime::ZERO,
            )
        } else {
            server(at, ServerType::RsSecondary, 2)
        };
        description.set_version = (index > 0).then_some(3);
        topology.servers.insert(address(at), Arc::new(description));
    }
    let topology = Arc::new(topology);
    let mut state = WatchState::new(
        "mongodb://127.0.0.1:41389/?replicaSet=rs0".into(),
        topology.clone(),
    );
    state.sample(topology, Duration::from_millis(500));
    for width in [80, 120, 200] {
        let lines = screen_lines_at(&state, width);
        let text = lines.join("\n");
        for at in addresses {
            // Its table row (with its type) and its RTT line, each starting with the
            // whole address.
            let starting = |line: &&String| line.starts_with(&format!("│{at}  "));
            let table_rows = lines
                .iter()
                .filter(starting)
                .filter(|line| line.contains("RSSecondary") || line.contains("Unknown"))
                .count();
            assert_eq!(table_rows, 1, "{width} columns: table row of {at}:\n{text}");
            assert_eq!(
                lines.iter().filter(starting).count(),
                2,
                "{width} columns: RTT line of {at}:\n{text}"
            );
        }
        let header = line_with(&lines, "ADDRESS");
        assert!(header.contains("LAST ERROR"), "{width}: {header}");
        assert!(
            line_with(&lines, "│127.0.0.1:41389 ").contains("[connect]"),
            "{width}: {text}"
        );
        if width == 200 {
            assert!(header.contains("ELECTIONID"), "{header}");
            assert!(text.contains("Connection refused (os error 111)"), "{text}");
        }
    }
}
