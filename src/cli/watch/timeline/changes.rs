//! What changed between two descriptions of one server, field by field, for `watch`'s
//! "still RSSecondary, its description changed" lines: the fields SDAM's "Server Description
//! Equality" compares (round trip times and update times do not count).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use mongo_topology::sdam::{ServerDescription, ServerError, TopologyVersion};
use mongo_topology::ServerAddress;
use serde_json::{json, Value};

/// The most added or removed members a [`Change::Members`] line names (the JSON has all).
const MEMBERS_SHOWN: usize = 5;

/// One field of a server's description that changed.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A value replaced by another, both as text (`none` when absent).
    Value {
        /// The hello field's name, e.g. `setVersion`.
        field: &'static str,
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// A member list (hosts, passives, arbiters) gained or lost members.
    Members {
        /// `hosts`, `passives` or `arbiters`.
        field: &'static str,
        /// Members now listed that were not.
        added: Vec<String>,
        /// Members no longer listed.
        removed: Vec<String>,
    },
}

impl Change {
    /// The change as a JSON object (`field`, then `from`/`to` or `added`/`removed`).
    pub fn json(&self) -> Value {
        match self {
            Change::Value { field, from, to } => json!({ "field": field, "from": from, "to": to }),
            Change::Members {
                field,
                added,
                removed,
            } => json!({ "field": field, "added": added, "removed": removed }),
        }
    }
}

fn some_members(prefix: char, members: &[String], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for member in members.iter().take(MEMBERS_SHOWN) {
        write!(f, " {prefix}{member}")?;
    }
    if members.len() > MEMBERS_SHOWN {
        write!(f, " ({prefix}{} more)", members.len() - MEMBERS_SHOWN)?;
    }
    Ok(())
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Value { field, from, to } => write!(f, "{field} {from} → {to}"),
            Change::Members {
                field,
                added,
                removed,
            } => {
                f.write_str(field)?;
                some_members('+', added, f)?;
                some_members('-', removed, f)
            }
        }
    }
}

fn text<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "none".to_string(), |value| value.to_string())
}

fn tags_text(tags: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

fn topology_version_text(version: Option<&TopologyVersion>) -> String {
    text(version.map(|v| format!("{}/{}", v.process_id.to_hex(), v.counter)))
}

fn error_text(error: Option<&ServerError>) -> String {
    text(error.map(|error| format!("[{}] {}", error.kind.describe(), error.message)))
}

fn members(
    field: &'static str,
    before: &BTreeSet<ServerAddress>,
    after: &BTreeSet<ServerAddress>,
) -> Option<Change> {
    let added: Vec<String> = after.difference(before).map(ToString::to_string).collect();
    let removed: Vec<String> = before.difference(after).map(ToString::to_string).collect();
    (!added.is_empty() || !removed.is_empty()).then_some(Change::Members {
        field,
        added,
        removed,
    })
}

/// The fields that differ between `before` and `after`, in a fixed order.
pub fn changes(before: &ServerDescription, after: &ServerDescription) -> Vec<Change> {
    let mut out = Vec::new();
    let mut value = |field: &'static str, from: String, to: String| {
        if from != to {
            out.push(Change::Value { field, from, to });
        }
    };
    value(
        "setName",
        text(before.set_name.as_ref().map(|s| format!("{s:?}"))),
        text(after.set_name.as_ref().map(|s| format!("{s:?}"))),
    );
    value(
        "setVersion",
        text(before.set_version),
        text(after.set_version),
    );
    value(
        "electionId",
        text(before.election_id.map(|id| id.to_hex())),
        text(after.election_id.map(|id| id.to_hex())),
    );
    value(
        "primary",
        text(before.primary.as_ref()),
        text(after.primary.as_ref()),
    );
    value("me", text(before.me.as_ref()), text(after.me.as_ref()));
    value("tags", tags_text(&before.tags), tags_text(&after.tags));
    value(
        "minWireVersion",
        before.min_wire_version.to_string(),
        after.min_wire_version.to_string(),
    );
    value(
        "maxWireVersion",
        before.max_wire_version.to_string(),
        after.max_wire_version.to_string(),
    );
    value(
        "logicalSessionTimeoutMinutes",
        text(before.logical_session_timeout_minutes),
        text(after.logical_session_timeout_minutes),
    );
    value(
        "topologyVersion",
        topology_version_text(before.topology_version.as_ref()),
        topology_version_text(after.topology_version.as_ref()),
    );
    value(
        "iscryptd",
        before.iscryptd.to_string(),
        after.iscryptd.to_string(),
    );
    value(
        "error",
        error_text(before.error.as_ref()),
        error_text(after.error.as_ref()),
    );
    out.extend(members("hosts", &before.hosts, &after.hosts));
    out.extend(members("passives", &before.passives, &after.passives));
    out.extend(members("arbiters", &before.arbiters, &after.arbiters));
    out
}

#[cfg(test)]
mod tests {
    use mongo_topology::sdam::{ServerDescription, ServerType};
    use mongo_topology::ServerAddress;

    use super::{changes, Change};

    fn addr(text: &str) -> ServerAddress {
        ServerAddress::parse(text).unwrap()
    }

    fn secondary(set_version: i64, hosts: &[&str]) -> ServerDescription {
        ServerDescription {
            server_type: ServerType::RsSecondary,
            set_version: Some(set_version),
            hosts: hosts.iter().map(|h| addr(h)).collect(),
            ..ServerDescription::unknown(addr("a:1"))
        }
    }

    #[test]
    fn a_reconfig_shows_the_set_version_and_the_hosts_added_and_removed() {
        let before = secondary(3, &["a:1", "b:2"]);
        let mut after = secondary(4, &["a:1", "c:3"]);
        after.tags.insert("dc".into(), "east".into());
        let found: Vec<String> = changes(&before, &after)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            ["setVersion 3 → 4", "tags {} → {dc:east}", "hosts +c:3 -b:2"]
        );
        let json = changes(&before, &after)[2].json();
        assert_eq!(json["field"], "hosts");
        assert_eq!(json["added"][0], "c:3");
        assert_eq!(json["removed"][0], "b:2");
    }

    #[test]
    fn long_member_lists_are_shortened_in_text_only() {
        let before = secondary(1, &[]);
        let hosts: Vec<String> = (0..8).map(|i| format!("h{i}:1")).collect();
        let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let after = secondary(1, &refs);
        let found = changes(&before, &after);
        assert_eq!(found.len(), 1);
        assert!(found[0].to_string().ends_with("(+3 more)"), "{}", found[0]);
        let Change::Members { added, .. } = &found[0] else {
            panic!("not a member change");
        };
        assert_eq!(added.len(), 8);
    }
}
