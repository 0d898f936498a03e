//! How `discover` prints what it saw: a plain-text table with a summary and hints, or one
//! JSON object with the same content. No colour.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use mongo_topology::sdam::{
    ServerDescription, ServerErrorKind, ServerType, TopologyDescription, TopologyType,
};
use mongo_topology::ServerAddress;
use serde_json::{json, Value};

use super::connect;
use super::discovery::Discovery;
use super::proof;
use super::removed;
use super::same_server;
use super::tls_state;
use super::untrusted::{display_untrusted, CELL_CHARS, LINE_CHARS};
use super::wire_hint;

/// Estimated staleness of a secondary, in milliseconds: how far its lastWriteDate is behind
/// the primary's (or, without a primary, behind the most recent secondary's). This is a
/// simpler estimate than the Max Staleness spec's (it ignores when each hello was received).
fn staleness_ms(topology: &TopologyDescription, server: &ServerDescription) -> Option<i64> {
    if server.server_type != ServerType::RsSecondary {
        return None;
    }
    let reference = match topology.primary() {
        Some(primary) => primary.last_write_date?,
        None => topology
            .servers
            .values()
            .filter(|other| other.server_type == ServerType::RsSecondary)
            .filter_map(|other| other.last_write_date)
            .max()?,
    };
    let own = server.last_write_date?;
    Some(
        reference
            .timestamp_millis()
            .saturating_sub(own.timestamp_millis())
            .max(0),
    )
}

fn millis(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

fn tags_text(server: &ServerDescription) -> String {
    let tags: Vec<String> = server
        .tags
        .iter()
        .map(|(key, value)| format!("{key}:{value}"))
        .collect();
    tags.join(",")
}

fn error_text(server: &ServerDescription) -> Option<String> {
    server
        .error
        .as_ref()
        .map(|error| format!("[{}] {error}", error.kind.describe()))
}

/// The table's columns for one server; `-` where a value does not apply or is unknown.
/// Each cell is shown through [`display_untrusted`]: set names, tags, host names and error
/// messages come from servers.
pub(super) fn row(topology: &TopologyDescription, server: &ServerDescription) -> Vec<String> {
    raw_row(topology, server)
        .into_iter()
        .map(|cell| display_untrusted(&cell, CELL_CHARS).into_owned())
        .collect()
}

fn raw_row(topology: &TopologyDescription, server: &ServerDescription) -> Vec<String> {
    let dash = || "-".to_string();
    let is_primary = server.server_type == ServerType::RsPrimary;
    vec![
        server.address.to_string(),
        server.server_type.to_string(),
        server.set_name.clone().unwrap_or_else(dash),
        match (server.round_trip_time, server.min_round_trip_time) {
            // The SDAM minimum is 0 until two samples exist: shown as not known yet.
            (Some(average), Some(min)) if !min.is_zero() => {
                format!("{}/{}", millis(average), millis(min))
            }
            (Some(average), _) => format!("{}/-", millis(average)),
            _ => dash(),
        },
        Some(tags_text(server))
            .filter(|tags| !tags.is_empty())
            .unwrap_or_else(dash),
        // Every member that reports a setVersion shows it (a member behind the primary's
        // config shows an older one).
        server
            .set_version
            .map_or_else(dash, |version| version.to_string()),
        server
            .election_id
            .filter(|_| is_primary)
            .map_or_else(dash, |id| id.to_hex()),
        staleness_ms(topology, server).map_or_else(dash, |ms| ms.to_string()),
        // A load balancer reports no wire versions (no hello reaches it from a monitor).
        if matches!(
            server.server_type,
            ServerType::Unknown | ServerType::LoadBalancer
        ) {
            dash()
        } else {
            format!("{}..{}", server.min_wire_version, server.max_wire_version)
        },
        error_text(server)
            .or_else(|| removed::added_back_text(topology, server))
            .unwrap_or_else(dash),
    ]
}

pub(super) const HEADER: [&str; 10] = [
    "ADDRESS",
    "TYPE",
    "SET",
    "RTT AVG/MIN MS",
    "TAGS",
    "SETVERSION",
    "ELECTIONID",
    "STALENESS MS",
    "WIRE",
    "LAST ERROR",
];

/// Aligns `rows` under `HEADER`, two spaces between columns. Cells are padded by hand:
/// a format width (`{:<width$}`) panics past 65,535.
fn table(rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = HEADER.iter().map(|title| title.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = HEADER.iter().map(|title| title.to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(cell);
            let padding = width.saturating_sub(cell.chars().count()) + 2;
            line.extend(std::iter::repeat_n(' ', padding));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Seeds of the connection string that are no longer in the topology: SDAM removed them.
fn seeds_not_members(discovery: &Discovery) -> Vec<&ServerAddress> {
    discovery
        .uri
        .hosts()
        .iter()
        .filter(|seed| !discovery.topology.servers.contains_key(*seed))
        .collect()
}

/// Advice for the common traps this discovery shows.
fn hints(discovery: &Discovery) -> Vec<String> {
    let topology = &discovery.topology;
    let seeds = discovery.uri.hosts();
    let mut hints = Vec::new();
    let unresolved: Vec<String> = topology
        .servers
        .values()
        .filter(|server| !seeds.contains(&server.address))
        .filter(|server| {
            server
                .error
                .as_ref()
                .is_some_and(|error| error.kind == ServerErrorKind::Dns)
        })
        .map(|server| server.address.to_string())
        .collect();
    if !unresolved.is_empty() {
        hints.push(format!(
            "members advertise host names this client cannot resolve ({}): fix DNS or the \
             replica set config, or add directConnection=true to talk to one seed alone",
            unresolved.join(", ")
        ));
    }
    let mismatches: Vec<String> = topology
        .servers
        .values()
        .filter_map(|server| server.error.as_ref().map(|error| (server, error)))
        .filter(|(_, error)| error.kind == ServerErrorKind::ReplicaSetNameMismatch)
        .map(|(server, error)| format!("{}: {}", server.address, error.message))
        .collect();
    // Removed seeds whose removal has no hint of its own (see `removed`).
    let removed: Vec<_> = seeds_not_members(discovery)
        .into_iter()
        .filter(|seed| !removed::has_own_hint(topology, seed))
        .collect();
    let asked = discovery.uri.replica_set();
    if let Some(hint) = removed::set_name_hint(topology, asked) {
        hints.push(hint);
    } else if !mismatches.is_empty() || (!removed.is_empty() && asked.is_some()) {
        hints.push(format!(
            "replica set name: the connection string asks for {:?}; a seed that reports \
             another set name (or is not in the members' host lists) is removed{}",
            asked.unwrap_or_default(),
            if mismatches.is_empty() {
                String::new()
            } else {
                format!(" ({})", mismatches.join("; "))
            }
        ));
    }
    hints.extend(removed::advertised_name_hint(topology));
    hints.extend(removed::not_in_members_hint(
        topology,
        seeds,
        &discovery.same_server,
    ));
    let repeated = same_server::repeated_seeds(seeds);
    if !repeated.is_empty() {
        let names: Vec<String> = repeated.iter().map(ToString::to_string).collect();
        hints.push(format!(
            "the connection string names {} more than once (host names are \
             case-insensitive): the client monitors each once",
            names.join(", ")
        ));
    }
    hints.extend(wire_hint::incompatible_wire_version_hint(topology));
    hints.extend(tls_state::hints(&discovery.tls, SystemTime::now()));
    hints
}

/// Whether the topology type has a primary to show (`primary: …`): not sharded or
/// load-balanced deployments.
fn has_primary_role(topology_type: TopologyType) -> bool {
    !matches!(
        topology_type,
        TopologyType::Sharded | TopologyType::LoadBalanced
    )
}

/// The plain-text report: the table, then the topology summary and hints.
pub fn report(discovery: &Discovery) -> String {
    let topology = &discovery.topology;
    let rows: Vec<Vec<String>> = topology
        .servers
        .values()
        .map(|server| row(topology, server))
        .collect();
    let uri = discovery.uri.to_string();
    let mut out = format!(
        "connection string: {}\n",
        display_untrusted(&uri, LINE_CHARS)
    );
    if let Some(srv) = &discovery.settings.srv {
        let records: Vec<String> = discovery
            .srv_records
            .iter()
            .map(connect::srv_record_text)
            .collect();
        let _ = writeln!(
            out,
            "SRV records of {}: {}",
            display_untrusted(&srv.query_name(), CELL_CHARS),
            display_untrusted(&records.join(", "), LINE_CHARS)
        );
    }
    out.push('\n');
    out.push_str(&table(&rows));
    out.push('\n');
    let _ = writeln!(out, "topology type: {}", topology.topology_type);
    if let Some(name) = &topology.set_name {
        let _ = writeln!(out, "replica set: {}", display_untrusted(name, CELL_CHARS));
    }
    // Sharded and load-balanced deployments have no primary to speak of.
    if has_primary_role(topology.topology_type) {
        let primary = topology
            .primary()
            .map(|primary| primary.address.to_string());
        let _ = writeln!(
            out,
            "primary: {}",
            display_untrusted(&primary.unwrap_or_else(|| "none".to_string()), CELL_CHARS)
        );
    }
    let writable = if discovery.has_writable_server() {
        "yes"
    } else {
        "no"
    };
    let _ = writeln!(out, "writable server: {writable}");
    for verdict in &discovery.verdicts {
        for line in proof::text(verdict) {
            let _ = writeln!(out, "{}", display_untrusted(&line, LINE_CHARS));
        }
    }
    let removed: Vec<String> = seeds_not_members(discovery)
        .iter()
        .map(|seed| seed.to_string())
        .collect();
    if !removed.is_empty() {
        let removed = removed.join(", ");
        let _ = writeln!(
            out,
            "seeds that are not members: {}",
            display_untrusted(&removed, LINE_CHARS)
        );
    }
    let ms = discovery.elapsed.as_millis();
    if topology.topology_type == TopologyType::LoadBalanced {
        out.push_str(
            "discovery: none behind a load balancer: it is the one server, never monitored; \
             each connection learns the serviceId of the mongos it reached\n",
        );
    } else if discovery.complete {
        let _ = writeln!(out, "discovery: every server checked in {ms} ms");
    } else {
        let _ = writeln!(
            out,
            "discovery: {}",
            display_untrusted(&discovery.timed_out_text(), LINE_CHARS)
        );
    }
    // The footnote explains the STALENESS column: only when it shows something.
    if topology
        .servers
        .values()
        .any(|server| staleness_ms(topology, server).is_some())
    {
        out.push_str("staleness: lastWriteDate behind the primary's (or the newest secondary's)\n");
    }
    out.push_str(&removed::removed_section(topology, &discovery.same_server));
    for line in tls_state::lines(&discovery.tls, SystemTime::now()) {
        let _ = writeln!(out, "tls: {}", display_untrusted(&line, LINE_CHARS));
    }
    for hint in hints(discovery) {
        let _ = writeln!(out, "hint: {}", display_untrusted(&hint, LINE_CHARS));
    }
    out
}

fn server_json(discovery: &Discovery, server: &ServerDescription) -> Value {
    let topology = &discovery.topology;
    let is_primary = server.server_type == ServerType::RsPrimary;
    json!({
        "address": server.address.to_string(),
        "type": server.server_type.to_string(),
        "set_name": server.set_name,
        "rtt_avg_ms": server.round_trip_time.map(|rtt| rtt.as_secs_f64() * 1000.0),
        // null until two samples exist (the SDAM minimum is 0 until then).
        "rtt_min_ms": server
            .min_round_trip_time
            .filter(|rtt| !rtt.is_zero())
            .map(|rtt| rtt.as_secs_f64() * 1000.0),
        "tags": server.tags,
        "set_version": server.set_version,
        "election_id": server.election_id.filter(|_| is_primary).map(|id| id.to_hex()),
        "staleness_ms": staleness_ms(topology, server),
        "min_wire_version": server.min_wire_version,
        "max_wire_version": server.max_wire_version,
        "tls": discovery.tls.get(&server.address).map(tls_state::json_of),
        "error": server.error.as_ref().map(|error| json!({
            "cause": error.kind.describe(),
            "code": error.code,
            "message": error.message,
        })),
    })
}

/// The same content as [`report`], as one JSON object, plus `elapsed_ms`.
pub fn json(discovery: &Discovery) -> Value {
    let topology = &discovery.topology;
    json!({
        "connection_string": discovery.uri.to_string(),
        "topology_type": topology.topology_type.to_string(),
        "set_name": topology.set_name,
        "primary": topology.primary().map(|primary| primary.address.to_string()),
        "servers": topology
            .servers
            .values()
            .map(|server| server_json(discovery, server))
            .collect::<Vec<_>>(),
        "seeds_not_members": seeds_not_members(discovery)
            .iter()
            .map(|seed| seed.to_string())
            .collect::<Vec<_>>(),
        "removed": removed::removed_json(topology, &discovery.same_server),
        "complete": discovery.complete,
        "not_yet_checked": discovery
            .unchecked_servers()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        "elapsed_ms": u64::try_from(discovery.elapsed.as_millis()).unwrap_or(u64::MAX),
        "writable": discovery.has_writable_server(),
        "verdicts": discovery.verdicts.iter().map(proof::json).collect::<Vec<_>>(),
        "hints": hints(discovery),
        "srv": discovery.settings.srv.as_ref().map(|srv| json!({
            "query": srv.query_name(),
            "records": discovery.srv_records.iter().map(|record| json!({
                "target": connect::srv_target(record),
                "port": record.port,
                "ttl_s": record.ttl.map(|ttl| ttl.as_secs()),
            })).collect::<Vec<_>>(),
        })),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use mongo_topology::options::ConnectionString;
    use mongo_topology::sdam::{
        ServerDescription, ServerError, ServerErrorKind, ServerType, TopologyDescription,
        TopologyType,
    };
    use mongo_topology::{ClusterSettings, MonotonicTime, ServerAddress};

    use proptest::prelude::*;

    use super::{hints, report, Discovery};

    /// A discovery from seed `a:1` of set rs0 that learned `b.internal:1` from a's host list.
    fn discovery(b_error: ServerErrorKind) -> Discovery {
        let uri = ConnectionString::parse("mongodb://a:1/?replicaSet=rs0").unwrap();
        let settings = ClusterSettings::from_connection_string(&uri).unwrap();
        let a = ServerAddress::parse("a:1").unwrap();
        let b = ServerAddress::parse("b.internal:1").unwrap();
        let mut topology = TopologyDescription::with_seeds(
            TopologyType::ReplicaSetNoPrimary,
            Some("rs0".to_string()),
            [a.clone(), b.clone()],
        );
        let mut secondary = ServerDescription::unknown(a.clone());
        secondary.server_type = ServerType::RsSecondary;
        secondary.set_name = Some("rs0".to_string());
        topology.servers.insert(a, Arc::new(secondary));
        let failed = ServerDescription::unknown_with_error(
            b.clone(),
            ServerError::new(b_error, "failed"),
            MonotonicTime::ZERO,
        );
        topology.servers.insert(b, Arc::new(failed));
        Discovery {
            uri,
            settings,
            topology: Arc::new(topology),
            elapsed: Duration::from_millis(5),
            complete: true,
            tls: Default::default(),
            srv_records: Vec::new(),
            verdicts: Vec::new(),
            same_server: Vec::new(),
        }
    }

    #[test]
    fn unresolvable_member_names_suggest_direct_connection() {
        let discovery = discovery(ServerErrorKind::Dns);
        let hints = hints(&discovery);
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(hints[0].contains("b.internal:1"), "{hints:?}");
        assert!(hints[0].contains("directConnection=true"), "{hints:?}");
        let text = report(&discovery);
        assert!(text.contains("[DNS] failed"), "{text}");
        assert!(text.contains("primary: none"), "{text}");
    }

    #[test]
    fn other_errors_of_learned_members_give_no_dns_hint() {
        let hints = hints(&discovery(ServerErrorKind::Connect));
        assert!(hints.is_empty(), "{hints:?}");
    }

    #[test]
    fn a_set_name_mismatch_gets_its_hint() {
        let hints = hints(&discovery(ServerErrorKind::ReplicaSetNameMismatch));
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(hints[0].starts_with("replica set name"), "{hints:?}");
    }

    proptest! {
        /// Random bytes as a set name, a tag and an error message: the report keeps its own
        /// lines, with no control character in them, and no line grows without bound.
        #[test]
        fn server_text_never_escapes_its_cell(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        ) {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let mut discovery = discovery(ServerErrorKind::Connect);
            let expected_lines = report(&discovery).lines().count();
            let mut topology = (*discovery.topology).clone();
            let a = ServerAddress::parse("a:1").unwrap();
            let mut server = (*topology.servers[&a]).clone();
            server.set_name = Some(text.clone());
            server.tags.insert(text.clone(), text.clone());
            server.error = Some(ServerError::new(ServerErrorKind::Command, text.clone()));
            topology.servers.insert(a, Arc::new(server));
            topology.set_name = Some(text);
            discovery.topology = Arc::new(topology);
            let shown = report(&discovery);
            prop_assert_eq!(shown.lines().count(), expected_lines);
            prop_assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "{:?}", shown);
            prop_assert!(shown.lines().all(|line| line.chars().count() < 4000));
        }
    }
}
