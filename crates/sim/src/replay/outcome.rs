//! What one recorded server's checks gave over time, as the replay serves it: the recorded
//! replies and failures, each from the moment it took effect, and a version that changes
//! whenever what the server says changes (the replayed `topologyVersion.counter`).

use bson::Document;
use serde_json::Value;

/// How a recorded failed check is replayed (docs/recording.md, "Failed checks").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Cause class `timeout`: connections are accepted, requests never answered.
    Silent,
    /// Cause classes `connect` and `dns`: nothing listens on the port.
    Refused,
    /// Cause class `network`: the connections open at that moment are closed; the check
    /// that retried right after it meets what the next record says.
    Reset,
    /// Any other cause class (`tls`, `command`, `protocol`, …): every connection is closed
    /// as soon as it is opened or used.
    Closed,
}

impl Failure {
    /// The replay of a recorded cause class.
    pub(crate) fn of_cause(cause: Option<&str>) -> Failure {
        match cause {
            Some("timeout") => Failure::Silent,
            Some("connect" | "dns") => Failure::Refused,
            Some("network") => Failure::Reset,
            _ => Failure::Closed,
        }
    }
}

/// What a server's check gave at some time.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// This hello reply (rewritten).
    Reply(Document),
    /// The check failed, replayed so.
    Failed(Failure),
}

impl Outcome {
    /// The failure, if this is one.
    pub(crate) fn failure(&self) -> Option<Failure> {
        match self {
            Outcome::Failed(failure) => Some(*failure),
            Outcome::Reply(_) => None,
        }
    }
}

/// One recorded outcome, from the moment it takes effect.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// µs since the recording's start at which the outcome takes effect.
    pub(crate) at: u64,
    /// What the server gives from then on.
    pub(crate) outcome: Outcome,
    /// Increases each time what the server says changes (a failure, or a reply that differs
    /// in more than its clocks); the replayed `topologyVersion.counter`.
    pub(crate) version: i64,
}

/// The reply fields that change at every check without the server's state changing: a
/// real server does not change its topologyVersion for them.
const CLOCKS: [&str; 6] = [
    "localTime",
    "lastWrite",
    "connectionId",
    "topologyVersion",
    "$clusterTime",
    "operationTime",
];

fn without_clocks(reply: &Document) -> Document {
    let mut reply = reply.clone();
    for key in CLOCKS {
        reply.remove(key);
    }
    reply
}

/// The moment a recorded `hello`/`check_failed` record (`record`, received `t_us` into the
/// recording) takes effect. The outcome of a check that was not awaited: when the check
/// started (the server answered so from then on; a check retried right after a failure
/// starts when that failure ends). A timeout: when the check started too (the server was
/// silent since then). An awaited reply, or an awaited check that failed otherwise: when it
/// arrived (the server said nothing new until then).
pub(crate) fn effective_time(record: &Value, t_us: u64, failure: Option<Failure>) -> u64 {
    let duration = record["duration_us"].as_u64().unwrap_or(0);
    let awaited = record["awaited"].as_bool().unwrap_or(false);
    if failure == Some(Failure::Silent) || !awaited {
        t_us.saturating_sub(duration)
    } else {
        t_us
    }
}

/// Orders `entries` by the time they take effect and numbers their versions.
pub(crate) fn versioned(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.sort_by_key(|entry| entry.at);
    let mut version = 0;
    let mut previous: Option<Outcome> = None;
    for entry in &mut entries {
        let changed = match (&previous, &entry.outcome) {
            (None, _) => false,
            (Some(Outcome::Reply(before)), Outcome::Reply(now)) => {
                without_clocks(before) != without_clocks(now)
            }
            (Some(Outcome::Failed(before)), Outcome::Failed(now)) => before != now,
            _ => true,
        };
        if changed {
            version += 1;
        }
        entry.version = version;
        previous = Some(entry.outcome.clone());
    }
    entries
}

/// The entry in effect `at` µs into the recording: the last one at or before it (the
/// first one before the first).
pub(crate) fn entry_at(entries: &[Entry], at: u64) -> Option<&Entry> {
    let after = entries.partition_point(|entry| entry.at <= at);
    entries.get(after.saturating_sub(1))
}

/// When, after `at`, the version in effect next changes.
pub(crate) fn next_change(entries: &[Entry], at: u64) -> Option<u64> {
    let current = entry_at(entries, at)?.version;
    let after = entries.partition_point(|entry| entry.at <= at);
    entries[after..]
        .iter()
        .find(|entry| entry.version != current)
        .map(|entry| entry.at)
}

/// What a request arriving `at` µs into the recording meets: the entry in effect, except
/// during a reset, which only closed the connections open when it happened: then what the
/// next entry says (what the retried check met).
pub(crate) fn entry_for_request(entries: &[Entry], at: u64) -> Option<&Entry> {
    let current = entry_at(entries, at)?;
    if current.outcome.failure() != Some(Failure::Reset) {
        return Some(current);
    }
    let after = entries.partition_point(|entry| entry.at <= at);
    Some(entries.get(after).unwrap_or(current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use serde_json::json;

    fn entry(at: u64, outcome: Outcome) -> Entry {
        Entry {
            at,
            outcome,
            version: 0,
        }
    }

    #[test]
    fn the_version_changes_with_what_the_server_says_not_with_its_clocks() {
        let primary = |time: i64| doc! { "isWritablePrimary": true, "localTime": time };
        let entries = versioned(vec![
            entry(0, Outcome::Reply(primary(1))),
            entry(10, Outcome::Reply(primary(2))),
            entry(20, Outcome::Reply(doc! { "secondary": true })),
            entry(30, Outcome::Failed(Failure::Silent)),
            entry(40, Outcome::Failed(Failure::Silent)),
            entry(50, Outcome::Failed(Failure::Refused)),
            entry(60, Outcome::Reply(doc! { "secondary": true })),
        ]);
        let versions: Vec<i64> = entries.iter().map(|entry| entry.version).collect();
        assert_eq!(versions, [0, 0, 1, 2, 2, 3, 4]);
        assert_eq!(next_change(&entries, 0), Some(20));
        assert_eq!(next_change(&entries, 15), Some(20));
        assert_eq!(next_change(&entries, 30), Some(50));
        assert_eq!(next_change(&entries, 60), None);
    }

    #[test]
    fn a_reset_closes_the_open_connections_and_new_ones_meet_the_next_entry() {
        let entries = versioned(vec![
            entry(0, Outcome::Reply(doc! { "isWritablePrimary": true })),
            entry(10, Outcome::Failed(Failure::Reset)),
            entry(12, Outcome::Reply(doc! { "secondary": true })),
        ]);
        let at = |time| entry_for_request(&entries, time).map(|entry| entry.version);
        assert_eq!(
            [at(5), at(10), at(11), at(12)],
            [Some(0), Some(2), Some(2), Some(2)]
        );
        assert_eq!(
            entry_at(&entries, 11).and_then(|entry| entry.outcome.failure()),
            Some(Failure::Reset)
        );
    }

    #[test]
    fn failures_take_effect_when_their_check_started_unless_an_awaited_reply_broke() {
        let timeout = json!({"duration_us": 300, "awaited": true});
        let reset = json!({"duration_us": 300, "awaited": true});
        let refused = json!({"duration_us": 30, "awaited": false});
        assert_eq!(effective_time(&timeout, 1000, Some(Failure::Silent)), 700);
        assert_eq!(effective_time(&reset, 1000, Some(Failure::Reset)), 1000);
        assert_eq!(effective_time(&refused, 1000, Some(Failure::Refused)), 970);
        assert_eq!(effective_time(&refused, 1000, None), 970, "a polled reply");
        assert_eq!(effective_time(&reset, 1000, None), 1000, "a streamed reply");
        assert_eq!(Failure::of_cause(Some("timeout")), Failure::Silent);
        assert_eq!(Failure::of_cause(Some("connect")), Failure::Refused);
        assert_eq!(Failure::of_cause(Some("network")), Failure::Reset);
        assert_eq!(Failure::of_cause(Some("tls")), Failure::Closed);
        assert_eq!(Failure::of_cause(None), Failure::Closed);
    }
}
