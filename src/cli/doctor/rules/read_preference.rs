//! Read preference: tags that match no member, `secondary` with no secondary,
//! maxStalenessSeconds below the spec's minimum, members beyond the latency window, and
//! `nearest` across members with very different round trips.

use std::time::Duration;

use mongo_topology::bson::Document;
use mongo_topology::options::TagSet;
use mongo_topology::ServerAddress;

use super::text::{list, ms};
use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{is_primary_hello, Observations};

/// Tag sets that match no member.
pub const TAGS_MATCH_NONE: &str = "readpref.tags-match-none";
/// Mode `secondary` and no secondary.
pub const NO_SECONDARY: &str = "readpref.no-secondary";
/// maxStalenessSeconds below the minimum.
pub const MAX_STALENESS_TOO_LOW: &str = "readpref.max-staleness-too-low";
/// Members beyond the latency window.
pub const BEYOND_LATENCY_WINDOW: &str = "readpref.beyond-latency-window";
/// `nearest` with a large round-trip spread.
pub const NEAREST_RTT_SPREAD: &str = "readpref.nearest-rtt-spread";

/// A round-trip spread above this makes `nearest` noteworthy.
const LARGE_SPREAD: Duration = Duration::from_millis(50);

/// The read preference mode, lower-cased (`primary` when not given).
fn mode(observations: &Observations) -> String {
    observations
        .uri
        .read_preference()
        .unwrap_or("primary")
        .to_ascii_lowercase()
}

fn is_secondary(hello: &Document) -> bool {
    hello.get_bool("secondary").unwrap_or(false) && hello.get_str("setName").is_ok()
}

/// The members a read with this mode may use (before tags): secondaries, and the primary
/// for every mode but `secondary`.
fn read_candidates<'a>(
    observations: &'a Observations,
    mode: &str,
) -> Vec<(&'a ServerAddress, &'a Document)> {
    observations
        .hellos()
        .filter(|(_, hello)| {
            is_secondary(hello) || (mode != "secondary" && is_primary_hello(hello))
        })
        .collect()
}

fn tags_of(hello: &Document) -> TagSet {
    hello
        .get_document("tags")
        .map(|tags| {
            tags.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn matches(tag_set: &TagSet, tags: &TagSet) -> bool {
    tag_set.iter().all(|(k, v)| tags.get(k) == Some(v))
}

fn tag_set_text(tag_set: &TagSet) -> String {
    let pairs: Vec<String> = tag_set.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{{{}}}", pairs.join(","))
}

/// `readpref.tags-match-none`: no tag set matches any eligible member.
pub fn tags_match_none(observations: &Observations) -> Vec<Finding> {
    let tag_sets = observations.uri.read_preference_tags();
    let mode = mode(observations);
    if tag_sets.is_empty() || mode == "primary" || tag_sets.iter().any(TagSet::is_empty) {
        return Vec::new();
    }
    let candidates: Vec<_> = read_candidates(observations, &mode)
        .into_iter()
        .filter(|(_, hello)| !is_primary_hello(hello))
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let any_match = candidates
        .iter()
        .any(|(_, hello)| tag_sets.iter().any(|set| matches(set, &tags_of(hello))));
    if any_match {
        return Vec::new();
    }
    let wanted: Vec<String> = tag_sets.iter().map(tag_set_text).collect();
    let seen: Vec<String> = candidates
        .iter()
        .map(|(address, hello)| format!("{address} {}", tag_set_text(&tags_of(hello))))
        .collect();
    let (severity, consequence) = if mode.ends_with("preferred") {
        (
            Severity::Warning,
            "reads never go where the tags say: they fall back to the primary (or, for \
             primaryPreferred without a primary, fail)",
        )
    } else {
        (
            Severity::Error,
            "every read fails with a server selection timeout",
        )
    };
    vec![Finding::new(
        TAGS_MATCH_NONE,
        severity,
        format!(
            "readPreferenceTags {} match no member; the members' tags: {}",
            list(&wanted),
            list(&seen)
        ),
        consequence,
        "use tags the members have (rs.conf() members[].tags), or add an empty tag set \
         (readPreferenceTags=) last to accept any member",
    )]
}

/// `readpref.no-secondary`: mode `secondary` with no secondary in the set.
pub fn no_secondary(observations: &Observations) -> Vec<Finding> {
    if mode(observations) != "secondary" || observations.direct() || observations.load_balanced() {
        return Vec::new();
    }
    let members: Vec<_> = observations
        .hellos()
        .filter(|(_, hello)| hello.get_str("setName").is_ok())
        .collect();
    if members.is_empty() || members.iter().any(|(_, hello)| is_secondary(hello)) {
        return Vec::new();
    }
    vec![Finding::new(
        NO_SECONDARY,
        Severity::Error,
        format!(
            "readPreference=secondary and none of the {} members that answered is a secondary",
            members.len()
        ),
        "every read fails with a server selection timeout",
        "use secondaryPreferred, or bring a secondary up",
    )
    .servers(members.iter().map(|(address, _)| address))]
}

/// `readpref.max-staleness-too-low`: below max(90 s, heartbeatFrequencyMS + idle write
/// period of 10 s), which the Max Staleness spec makes an error.
pub fn max_staleness_too_low(observations: &Observations) -> Vec<Finding> {
    let Some(seconds) = observations.uri.max_staleness_seconds() else {
        return Vec::new();
    };
    let heartbeat = observations.timings().heartbeat;
    let minimum = (heartbeat + Duration::from_secs(10)).max(Duration::from_secs(90));
    if Duration::from_secs(u64::from(seconds)) >= minimum {
        return Vec::new();
    }
    vec![Finding::new(
        MAX_STALENESS_TOO_LOW,
        Severity::Error,
        format!(
            "maxStalenessSeconds={seconds}; the minimum with heartbeatFrequencyMS={} is {} s \
             (max of 90 and heartbeat + 10 s idle write period)",
            ms(heartbeat),
            minimum.as_secs()
        ),
        "drivers reject every read with this read preference (an error, not a fallback)",
        format!("set maxStalenessSeconds to at least {}", minimum.as_secs()),
    )]
}

/// The round trips of the members a read may use.
fn round_trips(observations: &Observations) -> Vec<(&ServerAddress, Duration)> {
    let mode = mode(observations);
    read_candidates(observations, &mode)
        .into_iter()
        .filter_map(|(address, _)| Some((address, observations.probes.get(address)?.round_trip?)))
        .collect()
}

/// `readpref.beyond-latency-window`: members a non-primary read never uses because their
/// round trip is more than localThresholdMS above the fastest.
pub fn beyond_latency_window(observations: &Observations) -> Vec<Finding> {
    let mode = mode(observations);
    if mode == "primary" || observations.direct() {
        return Vec::new();
    }
    let rtts = round_trips(observations);
    let Some(fastest) = rtts.iter().map(|(_, rtt)| *rtt).min() else {
        return Vec::new();
    };
    let threshold = observations.timings().local_threshold;
    let beyond: Vec<String> = rtts
        .iter()
        .filter(|(_, rtt)| *rtt > fastest + threshold)
        .map(|(address, rtt)| format!("{address} ({} ms)", ms(*rtt)))
        .collect();
    if beyond.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        BEYOND_LATENCY_WINDOW,
        Severity::Info,
        format!(
            "fastest member {} ms, localThresholdMS={}: beyond the window: {}",
            ms(fastest),
            ms(threshold),
            list(&beyond)
        ),
        "reads with this read preference do not use these members while the faster ones \
         are up",
        "nothing to do if intended; raise localThresholdMS to spread reads wider",
    )]
}

/// `readpref.nearest-rtt-spread`: `nearest` over members whose round trips differ a lot.
pub fn nearest_rtt_spread(observations: &Observations) -> Vec<Finding> {
    if mode(observations) != "nearest" {
        return Vec::new();
    }
    let rtts = round_trips(observations);
    let (Some(min), Some(max)) = (
        rtts.iter().map(|(_, rtt)| *rtt).min(),
        rtts.iter().map(|(_, rtt)| *rtt).max(),
    ) else {
        return Vec::new();
    };
    if max - min <= LARGE_SPREAD {
        return Vec::new();
    }
    let each: Vec<String> = rtts
        .iter()
        .map(|(address, rtt)| format!("{address} {} ms", ms(*rtt)))
        .collect();
    vec![Finding::new(
        NEAREST_RTT_SPREAD,
        Severity::Info,
        format!("readPreference=nearest over round trips of {}", list(&each)),
        "reads go to the nearest members; when they are down, read latency jumps to the far \
         ones, and nearest reads may return older data than the primary's",
        "expect the far latency in failure cases, or use tags to keep reads in one region",
    )]
}

#[cfg(test)]
mod tests {
    use mongo_topology::bson::doc;

    use super::super::fixtures::{addr, healthy_set, member, with_hello};
    use super::*;

    fn tagged(observations: &mut Observations) {
        let mut b = member("b:27017", false);
        b.insert("tags", doc! {"dc": "east"});
        with_hello(observations, "b:27017", b);
    }

    #[test]
    fn tags_matching_no_member() {
        let mut observations = healthy_set(
            "mongodb://a/?replicaSet=rs0&readPreference=secondary&readPreferenceTags=dc:west",
        );
        tagged(&mut observations);
        let findings = tags_match_none(&observations);
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(
            findings[0].evidence.contains("b:27017 {dc:east}"),
            "{findings:?}"
        );
        let mut fine = healthy_set(
            "mongodb://a/?replicaSet=rs0&readPreference=secondary&readPreferenceTags=dc:east",
        );
        tagged(&mut fine);
        assert!(tags_match_none(&fine).is_empty());
        let mut preferred = healthy_set("mongodb://a/?replicaSet=rs0&readPreference=secondaryPreferred&readPreferenceTags=dc:west");
        tagged(&mut preferred);
        assert_eq!(tags_match_none(&preferred)[0].severity, Severity::Warning);
    }

    #[test]
    fn secondary_without_secondaries() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0&readPreference=secondary");
        assert!(no_secondary(&observations).is_empty());
        observations
            .probes
            .retain(|address, _| *address == addr("a:27017"));
        assert_eq!(no_secondary(&observations)[0].servers, ["a:27017"]);
    }

    #[test]
    fn max_staleness_below_the_minimum() {
        let low = healthy_set(
            "mongodb://a/?replicaSet=rs0&readPreference=secondary&maxStalenessSeconds=30",
        );
        assert!(max_staleness_too_low(&low)[0].evidence.contains("is 90 s"));
        let slow = healthy_set("mongodb://a/?replicaSet=rs0&readPreference=secondary&maxStalenessSeconds=100&heartbeatFrequencyMS=120000");
        assert!(max_staleness_too_low(&slow)[0]
            .evidence
            .contains("is 130 s"));
        let fine = healthy_set(
            "mongodb://a/?replicaSet=rs0&readPreference=secondary&maxStalenessSeconds=90",
        );
        assert!(max_staleness_too_low(&fine).is_empty());
    }

    #[test]
    fn members_beyond_the_window_and_a_nearest_spread() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0&readPreference=nearest");
        assert!(beyond_latency_window(&observations).is_empty());
        assert!(nearest_rtt_spread(&observations).is_empty());
        if let Some(probe) = observations.probes.get_mut(&addr("c:27017")) {
            probe.round_trip = Some(Duration::from_millis(120));
        }
        assert!(beyond_latency_window(&observations)[0]
            .evidence
            .contains("c:27017 (120 ms)"));
        assert!(nearest_rtt_spread(&observations)[0]
            .evidence
            .contains("c:27017 120 ms"));
        let primary_reads = {
            let mut o = observations.clone();
            o.uri = mongo_topology::options::ConnectionString::parse("mongodb://a/?replicaSet=rs0")
                .unwrap();
            o
        };
        assert!(beyond_latency_window(&primary_reads).is_empty());
    }
}
