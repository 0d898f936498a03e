//! A recording read for replay: per recorded address, what its checks gave over time.

use std::collections::{BTreeMap, BTreeSet};

use bson::{Bson, Document};
use serde_json::Value;

use super::outcome::{effective_time, versioned, Entry, Failure, Outcome};

/// Why a recording cannot be replayed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The text is not a recording of a version this simulator reads.
    #[error("not a replayable recording: {0}")]
    Format(String),
    /// A node could not listen.
    #[error("cannot listen on loopback: {0}")]
    Listen(#[from] std::io::Error),
}

/// The recording format this replays (the header's `format` and `version`).
const FORMAT: &str = "mongo-topology-recording";
const VERSION: u64 = 1;

/// heartbeatFrequencyMS when the header does not say.
const DEFAULT_HEARTBEAT_MS: u64 = 10_000;

/// A parsed recording.
#[derive(Debug)]
pub(crate) struct Recording {
    header: Value,
    /// Per recorded address: its outcomes, in the order they take effect.
    outcomes: BTreeMap<String, Vec<Entry>>,
    /// Addresses named in host lists but never checked.
    named: BTreeSet<String>,
}

impl Recording {
    pub(crate) fn parse(text: &str) -> Result<Recording, ReplayError> {
        let mut lines = text.lines().filter(|line| !line.trim().is_empty());
        let header: Value = lines
            .next()
            .and_then(|line| serde_json::from_str(line).ok())
            .ok_or_else(|| ReplayError::Format("no header line".into()))?;
        if header["format"] != FORMAT || header["version"].as_u64() != Some(VERSION) {
            return Err(ReplayError::Format(format!(
                "the header is not that of a {FORMAT} version {VERSION}"
            )));
        }
        let mut outcomes: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        let mut named = BTreeSet::new();
        // Address → (when the client stopped monitoring it, whether it has been added back).
        let mut unmonitored: BTreeMap<String, (u64, bool)> = BTreeMap::new();
        let heartbeat_us = header["settings"]["heartbeatFrequencyMS"]
            .as_u64()
            .unwrap_or(DEFAULT_HEARTBEAT_MS)
            .saturating_mul(1000);
        for (number, line) in lines.enumerate() {
            let record: Value = serde_json::from_str(line)
                .map_err(|e| ReplayError::Format(format!("record {}: {e}", number + 1)))?;
            let (Some(address), Some(at)) = (record["address"].as_str(), record["t_us"].as_u64())
            else {
                continue;
            };
            let outcome = match record["type"].as_str() {
                Some("sdam") if record["event"] == "server_closed" => {
                    unmonitored.insert(address.to_owned(), (at, false));
                    continue;
                }
                Some("sdam") if record["event"] == "server_opening" => {
                    if let Some((_, added_back)) = unmonitored.get_mut(address) {
                        *added_back = true;
                    }
                    continue;
                }
                Some("hello") => {
                    let reply = Bson::try_from(record["reply"].clone())
                        .map_err(|e| ReplayError::Format(format!("record {}: {e}", number + 1)))?;
                    let Bson::Document(reply) = reply else {
                        return Err(ReplayError::Format(format!(
                            "record {}: the reply is not a document",
                            number + 1
                        )));
                    };
                    named.extend(host_names(&reply));
                    Outcome::Reply(reply)
                }
                Some("check_failed") => {
                    Outcome::Failed(Failure::of_cause(record["cause"].as_str()))
                }
                _ => continue,
            };
            let mut at = effective_time(&record, at, outcome.failure());
            // While the client did not monitor the server (from its removal until it was
            // added back), what it said is unknown: the first check of the server added
            // back takes effect a check interval after the monitoring stopped (a polling
            // client may take that long to stop monitoring it too; a client that learns of
            // it sooner than the recorded one must not meet what it said before). A check
            // recorded between the removal and the adding back was under way at the removal:
            // it belongs to the monitoring that stopped and takes effect when recorded.
            if let Some(&(closed, true)) = unmonitored.get(address) {
                unmonitored.remove(address);
                at = at.min(closed.saturating_add(heartbeat_us));
            }
            outcomes.entry(address.to_owned()).or_default().push(Entry {
                at,
                outcome,
                version: 0,
            });
        }
        let outcomes = outcomes
            .into_iter()
            .map(|(address, entries)| (address, versioned(entries)))
            .collect();
        Ok(Recording {
            header,
            outcomes,
            named,
        })
    }

    /// Every address to serve: those checked and those only named in host lists.
    pub(crate) fn addresses(&self) -> Vec<String> {
        let mut all: BTreeSet<String> = self.outcomes.keys().cloned().collect();
        all.extend(self.named.iter().cloned());
        all.extend(self.seeds());
        all.into_iter().collect()
    }

    /// The recorded seeds.
    pub(crate) fn seeds(&self) -> Vec<String> {
        self.header["settings"]["seeds"]
            .as_array()
            .map(|seeds| {
                seeds
                    .iter()
                    .filter_map(|seed| seed.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// replicaSet and directConnection as connection string options.
    pub(crate) fn connection_options(&self) -> Vec<String> {
        let settings = &self.header["settings"];
        let mut options = Vec::new();
        if let Some(name) = settings["replicaSet"].as_str() {
            options.push(format!("replicaSet={name}"));
        }
        if let Some(direct) = settings["directConnection"].as_bool() {
            options.push(format!("directConnection={direct}"));
        }
        options
    }

    /// The recording with every reply's host names mapped (and the recorded
    /// `topologyVersion` removed: the replay sends its own).
    pub(crate) fn rewritten(mut self, mapping: &BTreeMap<String, String>) -> Recording {
        for outcomes in self.outcomes.values_mut() {
            for entry in outcomes.iter_mut() {
                if let Outcome::Reply(reply) = &mut entry.outcome {
                    rewrite(reply, mapping);
                }
            }
        }
        self
    }

    /// `address`'s outcomes in the order they take effect (empty for an address never
    /// checked).
    pub(crate) fn entries(&self, address: &str) -> &[Entry] {
        self.outcomes.get(address).map(Vec::as_slice).unwrap_or(&[])
    }

    /// What `address`'s check gives `at` µs into the recording: the last outcome at or
    /// before it (the first one before the first); `None` for an address never checked.
    #[cfg(test)]
    pub(crate) fn outcome_at(&self, address: &str, at: u64) -> Option<&Outcome> {
        super::outcome::entry_at(self.entries(address), at).map(|entry| &entry.outcome)
    }

    /// The header's `started_wall_us`: the wall-clock time of the recording's time zero.
    pub(crate) fn started_wall_us(&self) -> Option<u64> {
        self.header["started_wall_us"].as_u64()
    }

    /// The recording cut to the window from `from` to `to` (µs since its start; `None`: the
    /// start, the end), time zero moved to `from`: each address starts with the outcome in
    /// effect at `from`, and keeps the one in effect at `to` after it.
    pub(crate) fn window(mut self, from: u64, to: Option<u64>) -> Recording {
        for entries in self.outcomes.values_mut() {
            let first_kept = entries
                .partition_point(|entry| entry.at <= from)
                .saturating_sub(1);
            let kept: Vec<Entry> = entries
                .drain(first_kept..)
                .filter(|entry| to.is_none_or(|to| entry.at <= to))
                .map(|entry| Entry {
                    at: entry.at.saturating_sub(from),
                    ..entry
                })
                .collect();
            *entries = kept;
        }
        self
    }
}

const HOST_LISTS: [&str; 3] = ["hosts", "passives", "arbiters"];
const HOST_FIELDS: [&str; 2] = ["primary", "me"];

fn host_names(reply: &Document) -> Vec<String> {
    let mut names = Vec::new();
    for list in HOST_LISTS {
        if let Ok(hosts) = reply.get_array(list) {
            names.extend(hosts.iter().filter_map(Bson::as_str).map(str::to_lowercase));
        }
    }
    for field in HOST_FIELDS {
        if let Ok(host) = reply.get_str(field) {
            names.push(host.to_lowercase());
        }
    }
    names
}

fn rewrite(reply: &mut Document, mapping: &BTreeMap<String, String>) {
    let map = |name: &str| {
        mapping
            .get(&name.to_lowercase())
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    };
    reply.remove("topologyVersion");
    for list in HOST_LISTS {
        if let Ok(hosts) = reply.get_array(list) {
            let hosts: Vec<Bson> = hosts
                .iter()
                .map(|host| match host {
                    Bson::String(name) => Bson::String(map(name)),
                    other => other.clone(),
                })
                .collect();
            reply.insert(list, hosts);
        }
    }
    for field in HOST_FIELDS {
        if let Ok(host) = reply.get_str(field) {
            let host = map(host);
            reply.insert(field, host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDING: &str = r#"{"format":"mongo-topology-recording","version":1,"settings":{"seeds":["a:1"],"replicaSet":"rs0","directConnection":null}}
{"t_us":10,"type":"hello","address":"a:1","reply":{"isWritablePrimary":true,"hosts":["a:1","B:2"],"primary":"a:1","me":"a:1","topologyVersion":{"processId":{"$oid":"65a000000000000000000001"},"counter":0},"ok":1.0}}
{"t_us":20,"type":"sdam","event":"topology_opening"}
{"t_us":30,"type":"check_failed","address":"a:1","cause":"network","duration_us":0}
{"t_us":40,"type":"hello","address":"a:1","reply":{"secondary":true,"hosts":["a:1","B:2"],"ok":1.0}}
"#;

    #[test]
    fn replies_name_the_mapped_ports_and_carry_no_recorded_topology_version() {
        let recording = Recording::parse(RECORDING).unwrap();
        assert_eq!(
            recording.addresses(),
            ["a:1", "b:2"],
            "checked, named and seeds"
        );
        let mapping: BTreeMap<String, String> = [
            ("a:1".to_owned(), "127.0.0.1:5001".to_owned()),
            ("b:2".to_owned(), "127.0.0.1:5002".to_owned()),
        ]
        .into();
        let recording = recording.rewritten(&mapping);
        let Some(Outcome::Reply(first)) = recording.outcome_at("a:1", 0) else {
            panic!("before the first record: the first reply");
        };
        assert_eq!(
            first.get_array("hosts").unwrap(),
            &vec![Bson::from("127.0.0.1:5001"), Bson::from("127.0.0.1:5002")]
        );
        assert_eq!(first.get_str("primary").unwrap(), "127.0.0.1:5001");
        assert_eq!(first.get_str("me").unwrap(), "127.0.0.1:5001");
        assert!(!first.contains_key("topologyVersion"));
        assert_eq!(recording.connection_options(), ["replicaSet=rs0"]);
    }

    #[test]
    fn each_time_gets_the_last_outcome_recorded_before_it() {
        let recording = Recording::parse(RECORDING).unwrap();
        let kind = |at| match recording.outcome_at("a:1", at) {
            Some(Outcome::Reply(reply)) if reply.contains_key("secondary") => "secondary",
            Some(Outcome::Reply(_)) => "primary",
            Some(Outcome::Failed(_)) => "failed",
            None => "none",
        };
        assert_eq!(
            [
                kind(0),
                kind(10),
                kind(29),
                kind(30),
                kind(39),
                kind(40),
                kind(1_000)
            ],
            [
                "primary",
                "primary",
                "primary",
                "failed",
                "failed",
                "secondary",
                "secondary"
            ]
        );
        assert!(recording.outcome_at("b:2", 50).is_none(), "never checked");
    }

    #[test]
    fn a_window_starts_with_the_state_in_effect_at_its_start_and_keeps_its_last_state() {
        let recording = Recording::parse(RECORDING).unwrap().window(35, Some(38));
        let entries = recording.entries("a:1");
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].at, 0);
        assert!(matches!(entries[0].outcome, Outcome::Failed(_)));
        let recording = Recording::parse(RECORDING).unwrap().window(15, None);
        let times: Vec<u64> = recording.entries("a:1").iter().map(|e| e.at).collect();
        assert_eq!(times, [0, 15, 25], "10 → 0, 30 → 15, 40 → 25");
    }

    /// A member removed by a reconfig and added back (the shape of a recorded incident): the
    /// check under way at its removal fails after the `server_closed` record; the first check
    /// after it is added back takes effect a check interval (here 500 ms) after the removal,
    /// not when it was recorded, so a client that learns of the member sooner than the
    /// recorded one meets its new state, not a refused connection.
    #[test]
    fn a_server_added_back_answers_as_its_next_check_from_a_check_interval_after_its_removal() {
        let recording = r#"{"format":"mongo-topology-recording","version":1,"settings":{"seeds":["a:1"],"replicaSet":"rs0","heartbeatFrequencyMS":500}}
{"t_us":9000000,"type":"check_failed","address":"a:1","cause":"connect","duration_us":300}
{"t_us":10549000,"type":"sdam","event":"server_closed","address":"a:1"}
{"t_us":10549500,"type":"check_failed","address":"a:1","cause":"connect","duration_us":500}
{"t_us":12052000,"type":"sdam","event":"server_opening","address":"a:1"}
{"t_us":12054000,"type":"hello","address":"a:1","reply":{"secondary":true,"setName":"rs0","ok":1.0},"duration_us":1900}
"#;
        let recording = Recording::parse(recording).unwrap();
        let refused = |at| {
            matches!(
                recording.outcome_at("a:1", at),
                Some(Outcome::Failed(Failure::Refused))
            )
        };
        assert!(refused(10_549_500), "the check under way at the removal");
        assert!(
            refused(11_048_999),
            "a check interval after the removal: not yet"
        );
        assert!(matches!(
            recording.outcome_at("a:1", 11_049_000),
            Some(Outcome::Reply(_))
        ));
        assert!(matches!(
            recording.outcome_at("a:1", 12_050_000),
            Some(Outcome::Reply(_))
        ));
    }

    #[test]
    fn other_files_are_refused() {
        assert!(Recording::parse("").is_err());
        assert!(Recording::parse("{\"format\":\"other\",\"version\":1}\n").is_err());
        assert!(
            Recording::parse("{\"format\":\"mongo-topology-recording\",\"version\":2}\n").is_err()
        );
    }
}
