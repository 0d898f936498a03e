//! Servers the client saw and removed, for `discover` and `watch`: why each left (the core's
//! [`RemovalReason`] with its evidence), as text for people and as structured JSON, and the
//! hints those removals call for (a set name mismatch naming what each server reported,
//! advertised names that differ from the seeds').

use std::fmt::Write as _;

use mongo_topology::sdam::{
    Departure, RemovalReason, ServerDescription, ServerType, TopologyDescription,
};
use mongo_topology::ServerAddress;
use serde_json::{json, Value};

use super::same_server::SameServer;
use super::untrusted::{display_untrusted, LINE_CHARS};

/// The reason as one JSON object: `kind`, the evidence fields of that kind, and `message`
/// (the sentence people read). Values are exact (JSON escaping keeps them safe).
pub fn reason_json(reason: &RemovalReason) -> Value {
    let mut object = match reason {
        RemovalReason::SetNameMismatch { reported, expected } => json!({
            "reported_set_name": reported,
            "expected_set_name": expected,
        }),
        RemovalReason::NotInPrimaryMembers {
            primary,
            members,
            member_count,
        } => json!({
            "primary": primary.to_string(),
            "primary_members": members.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "primary_member_count": member_count,
        }),
        RemovalReason::AdvertisedNameMismatch { me } => json!({ "me": me.to_string() }),
        RemovalReason::TypeNotInTopology {
            server_type,
            topology_type,
        } => json!({
            "server_type": server_type.to_string(),
            "topology_type": topology_type.to_string(),
        }),
        _ => json!({}),
    };
    if let Value::Object(fields) = &mut object {
        fields.insert("kind".to_string(), json!(reason.kind()));
        fields.insert("message".to_string(), json!(reason.to_string()));
    }
    object
}

/// Milliseconds since the client started, as the core's clock counts them.
fn at_ms(departure: &Departure) -> u64 {
    u64::try_from(departure.at.offset().as_millis()).unwrap_or(u64::MAX)
}

/// The servers removed and not back in `topology`, oldest first.
pub fn departed(topology: &TopologyDescription) -> impl Iterator<Item = &Departure> {
    topology
        .departures
        .iter()
        .filter(|departure| !topology.servers.contains_key(&departure.address))
}

/// `discover --json`'s `removed` array: every server removed and not back, with when (ms
/// since the client started) and why.
/// `duplicate_of` names the member a removed seed was, under another name (see
/// [`SameServer`]).
pub fn removed_json(topology: &TopologyDescription, same_server: &[SameServer]) -> Value {
    departed(topology)
        .map(|departure| {
            let mut entry = json!({
                "address": departure.address.to_string(),
                "removed_at_ms": at_ms(departure),
                "reason": reason_json(&departure.reason),
            });
            if let (Some(same), Value::Object(fields)) =
                (duplicate_of(same_server, &departure.address), &mut entry)
            {
                fields.insert(
                    "duplicate_of".to_string(),
                    json!({
                        "member": same.member.to_string(),
                        "socket_address": same.socket.to_string(),
                    }),
                );
            }
            entry
        })
        .collect()
}

/// The member `address` duplicates, if it was one under another name.
fn duplicate_of<'a>(
    same_server: &'a [SameServer],
    address: &ServerAddress,
) -> Option<&'a SameServer> {
    same_server.iter().find(|same| &same.seed == address)
}

/// ` (a duplicate seed: the same server as M, both reach S)` or nothing.
fn duplicate_text(same_server: &[SameServer], address: &ServerAddress) -> String {
    duplicate_of(same_server, address).map_or_else(String::new, |same| {
        format!(
            "; a duplicate seed: the same server as {} (both reach {})",
            same.member, same.socket
        )
    })
}

/// `discover`'s "removed" section: one line per server removed and not back, with why; the
/// empty string when there is none. Server text goes through [`display_untrusted`].
pub fn removed_section(topology: &TopologyDescription, same_server: &[SameServer]) -> String {
    let mut out = String::new();
    for departure in departed(topology) {
        if out.is_empty() {
            out.push_str("removed servers (seen, then removed by the client):\n");
        }
        let line = format!(
            "{} at +{} ms: {}{}",
            departure.address,
            at_ms(departure),
            departure.reason,
            duplicate_text(same_server, &departure.address)
        );
        let _ = writeln!(out, "  {}", display_untrusted(&line, LINE_CHARS));
    }
    out
}

/// For a server added back after a removal and not checked since (Unknown or
/// PossiblePrimary, no error): that removal, for the LAST ERROR cell; `None` otherwise.
pub fn added_back_text(
    topology: &TopologyDescription,
    server: &ServerDescription,
) -> Option<String> {
    let unchecked = matches!(
        server.server_type,
        ServerType::Unknown | ServerType::PossiblePrimary
    ) && server.error.is_none();
    let departure = topology
        .departures
        .get(&server.address)
        .filter(|_| unchecked)?;
    Some(format!(
        "removed at +{} ms: {}; added back, not checked yet",
        at_ms(departure),
        departure.reason
    ))
}

/// Each server removed for another set name, with the name it reported.
fn set_name_reports(topology: &TopologyDescription) -> Vec<String> {
    topology
        .departures
        .iter()
        .filter_map(|departure| match &departure.reason {
            RemovalReason::SetNameMismatch { reported, .. } => Some(format!(
                "{} reported {}",
                departure.address,
                reported
                    .as_ref()
                    .map_or_else(|| "no set name".to_string(), |name| format!("{name:?}"))
            )),
            _ => None,
        })
        .collect()
}

/// The hint for servers removed because they report another replica set name, naming
/// what each reported; `None` when no server was removed for that.
pub fn set_name_hint(topology: &TopologyDescription, asked: Option<&str>) -> Option<String> {
    let reports = set_name_reports(topology);
    if reports.is_empty() {
        return None;
    }
    let asked = asked.or(topology.set_name.as_deref()).unwrap_or_default();
    Some(format!(
        "replica set name: the client expects {asked:?} but {}; a server that reports \
         another set name is removed: fix replicaSet in the connection string or the \
         server's replication.replSetName",
        reports.join(", ")
    ))
}

/// The hint for seeds removed because the server advertises itself (`me`) under another
/// name: the seed list should use the advertised names; `None` when there was none.
pub fn advertised_name_hint(topology: &TopologyDescription) -> Option<String> {
    let pairs: Vec<String> = topology
        .departures
        .iter()
        .filter_map(|departure| match &departure.reason {
            RemovalReason::AdvertisedNameMismatch { me } => {
                Some(format!("{} advertises itself as {me}", departure.address))
            }
            _ => None,
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    Some(format!(
        "advertised host names differ from the seeds ({}): the client monitors the \
         advertised names and drops the seed names; the set name is fine. Use the \
         advertised names in the connection string, and make sure this host can resolve \
         and reach them",
        pairs.join(", ")
    ))
}

/// The hint for seeds the primary does not list: its member list is authoritative, so the
/// client drops them; naming the members they duplicate when they were one under another
/// name. `None` when no seed left for that.
pub fn not_in_members_hint(
    topology: &TopologyDescription,
    seeds: &[ServerAddress],
    same_server: &[SameServer],
) -> Option<String> {
    let seeds: Vec<String> = topology
        .departures
        .iter()
        .filter(|departure| {
            matches!(departure.reason, RemovalReason::NotInPrimaryMembers { .. })
                && seeds.contains(&departure.address)
                && !topology.servers.contains_key(&departure.address)
        })
        .map(
            |departure| match duplicate_of(same_server, &departure.address) {
                Some(same) => format!("{}, the same server as {}", departure.address, same.member),
                None => departure.address.to_string(),
            },
        )
        .collect();
    if seeds.is_empty() {
        return None;
    }
    Some(format!(
        "seeds the primary does not list ({}): the primary's member list is authoritative, so \
         the client drops them; the set name is fine. Seed with the names in the replica set \
         configuration (rs.conf()), which this host must resolve and reach",
        seeds.join("; ")
    ))
}

/// Whether `address` left for a reason that has a hint of its own (see
/// [`set_name_hint`], [`advertised_name_hint`], [`not_in_members_hint`]).
pub fn has_own_hint(topology: &TopologyDescription, address: &ServerAddress) -> bool {
    topology.departures.get(address).is_some_and(|departure| {
        matches!(
            departure.reason,
            RemovalReason::SetNameMismatch { .. }
                | RemovalReason::AdvertisedNameMismatch { .. }
                | RemovalReason::NotInPrimaryMembers { .. }
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mongo_topology::sdam::{
        Departure, Departures, RemovalReason, ServerDescription, ServerType, TopologyDescription,
        TopologyType,
    };
    use mongo_topology::{MonotonicTime, ServerAddress};

    use super::{advertised_name_hint, reason_json, removed_json, removed_section, set_name_hint};

    fn addr(text: &str) -> ServerAddress {
        ServerAddress::parse(text).unwrap()
    }

    fn topology_with(departures: Vec<Departure>) -> TopologyDescription {
        let mut topology = TopologyDescription::with_seeds(
            TopologyType::ReplicaSetWithPrimary,
            Some("rs0".into()),
            [addr("a:1")],
        );
        let mut log = Departures::default();
        for departure in departures {
            log.record(departure);
        }
        topology.departures = Arc::new(log);
        topology
    }

    fn set_name_departure(name: &str) -> Departure {
        Departure {
            address: addr("b:2"),
            reason: RemovalReason::SetNameMismatch {
                reported: Some(name.into()),
                expected: Some("rs0".into()),
            },
            at: MonotonicTime::from_millis(1234),
        }
    }

    #[test]
    fn a_removed_server_is_listed_with_its_reason_in_text_and_json() {
        let topology = topology_with(vec![set_name_departure("foo")]);
        let text = removed_section(&topology, &[]);
        assert!(
            text.contains(r#"b:2 at +1234 ms: reported set name "foo", expected "rs0""#),
            "{text}"
        );
        let json = removed_json(&topology, &[]);
        assert_eq!(json[0]["address"], "b:2");
        assert_eq!(json[0]["removed_at_ms"], 1234);
        assert_eq!(json[0]["reason"]["kind"], "set_name_mismatch");
        assert_eq!(json[0]["reason"]["reported_set_name"], "foo");
        assert_eq!(json[0]["reason"]["expected_set_name"], "rs0");
    }

    #[test]
    fn a_set_name_with_escapes_is_neutralised_in_text_and_exact_in_json() {
        let topology = topology_with(vec![set_name_departure("x\u{1b}[2J\nFORGED")]);
        let text = removed_section(&topology, &[]);
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert_eq!(text.lines().count(), 2, "{text:?}");
        let hint = set_name_hint(&topology, Some("rs0")).unwrap();
        assert!(!hint.contains('\u{1b}') && !hint.contains('\n'), "{hint:?}");
        assert_eq!(
            reason_json(&topology.departures.iter().next().unwrap().reason)["reported_set_name"],
            "x\u{1b}[2J\nFORGED"
        );
    }

    #[test]
    fn a_server_added_back_shows_its_removal_until_checked() {
        let mut topology = topology_with(vec![Departure {
            address: addr("a:1"),
            ..set_name_departure("foo")
        }]);
        let server = topology.servers[&addr("a:1")].clone();
        let text = super::added_back_text(&topology, &server).unwrap();
        assert!(
            text.starts_with("removed at +1234 ms: reported set name"),
            "{text}"
        );
        assert!(
            removed_json(&topology, &[]).as_array().unwrap().is_empty(),
            "it is back"
        );
        let checked = ServerDescription {
            server_type: ServerType::RsSecondary,
            ..ServerDescription::clone(&server)
        };
        topology
            .servers
            .insert(addr("a:1"), Arc::new(checked.clone()));
        assert!(super::added_back_text(&topology, &checked).is_none());
    }

    #[test]
    fn the_hints_tell_a_set_name_from_an_advertised_name() {
        let topology = topology_with(vec![set_name_departure("foo")]);
        let hint = set_name_hint(&topology, Some("rs0")).unwrap();
        assert!(hint.contains(r#"b:2 reported "foo""#), "{hint}");
        assert!(advertised_name_hint(&topology).is_none());

        let me = topology_with(vec![Departure {
            address: addr("127.0.0.1:5"),
            reason: RemovalReason::AdvertisedNameMismatch {
                me: addr("localhost:5"),
            },
            at: MonotonicTime::from_millis(3),
        }]);
        assert!(set_name_hint(&me, Some("rs0")).is_none());
        let hint = advertised_name_hint(&me).unwrap();
        assert!(
            hint.contains("127.0.0.1:5 advertises itself as localhost:5"),
            "{hint}"
        );
    }
}
