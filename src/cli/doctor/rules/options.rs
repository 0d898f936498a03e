//! Connection string options: unknown keys (with "did you mean"), values that were ignored,
//! repeated keys, and values that parse but make no sense.

use std::time::Duration;

use mongo_topology::options::{known_option_names, UriWarning};

use super::text::{list, ms};
use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::Observations;

/// An option the drivers do not know.
pub const UNKNOWN: &str = "options.unknown";
/// A known option whose value was ignored.
pub const INVALID_VALUE: &str = "options.invalid-value";
/// A key given more than once.
pub const REPEATED: &str = "options.repeated";
/// A value that parses but makes no sense.
pub const SENSELESS_VALUE: &str = "options.senseless-value";

/// The read preference modes of the Server Selection spec.
const READ_PREFERENCE_MODES: &[&str] = &[
    "primary",
    "primaryPreferred",
    "secondary",
    "secondaryPreferred",
    "nearest",
];

/// The mechanisms of the Authentication spec.
const AUTH_MECHANISMS: &[&str] = &[
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "MONGODB-X509",
    "GSSAPI",
    "PLAIN",
    "MONGODB-AWS",
    "MONGODB-OIDC",
];

/// The Levenshtein distance between two strings, compared without ASCII case.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_ascii_lowercase().chars().collect();
    let b: Vec<char> = b.to_ascii_lowercase().chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous[b.len()]
}

/// The closest of `candidates` to `written`, when it is close enough to be a typo: at most
/// a third of the longer name's length (at least 2) edits away, or one is the other's
/// prefix (`replSet` for `replicaSet` is 3 edits away).
pub fn did_you_mean<'a>(written: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = written.to_ascii_lowercase();
    candidates
        .iter()
        .map(|candidate| (edit_distance(written, candidate), *candidate))
        .filter(|(distance, candidate)| {
            let longest = written.len().max(candidate.len());
            *distance > 0 && *distance <= (longest / 3).max(2)
                || (lower.len() >= 4 && candidate.to_ascii_lowercase().starts_with(&lower))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// `options.unknown`: each unknown key, with the closest spec option name.
pub fn unknown(observations: &Observations) -> Vec<Finding> {
    let names: Vec<&str> = known_option_names().collect();
    observations
        .uri
        .warnings()
        .iter()
        .filter_map(|warning| match warning {
            UriWarning::UnknownOption { key } => Some(key),
            _ => None,
        })
        .map(|key| {
            let (evidence, fix) = match did_you_mean(key, &names) {
                Some(name) => (
                    format!("unknown option {key:?}: did you mean {name:?}?"),
                    format!("write {name} instead of {key}"),
                ),
                None => (
                    format!("unknown option {key:?} (no spec option is spelled like it)"),
                    format!("remove {key}, or check its name in the URI Options spec"),
                ),
            };
            Finding::new(
                UNKNOWN,
                Severity::Warning,
                evidence,
                "drivers ignore the option (some refuse the string): the setting you meant is \
                 not in effect",
                fix,
            )
        })
        .collect()
}

/// `options.invalid-value`: each ignored value, with the closest valid one when the
/// option takes one of a list of names.
pub fn invalid_value(observations: &Observations) -> Vec<Finding> {
    observations
        .uri
        .warnings()
        .iter()
        .filter_map(|warning| match warning {
            UriWarning::InvalidValue {
                option,
                value,
                reason,
            } => Some((*option, value.as_deref(), reason)),
            _ => None,
        })
        .map(|(option, value, reason)| {
            let valid: &[&str] = match option {
                "readPreference" => READ_PREFERENCE_MODES,
                "authMechanism" => AUTH_MECHANISMS,
                _ => &[],
            };
            let suggestion = value.and_then(|value| did_you_mean(value, valid));
            let shown = value.map_or_else(|| "(hidden)".to_owned(), |v| format!("{v:?}"));
            let mut evidence = format!("{option}={shown} is ignored: {reason}");
            if let Some(suggestion) = suggestion {
                evidence.push_str(&format!("; did you mean {suggestion:?}?"));
            }
            Finding::new(
                INVALID_VALUE,
                Severity::Warning,
                evidence,
                format!("the default {option} applies instead of the value you wrote"),
                match suggestion {
                    Some(suggestion) => format!("write {option}={suggestion}"),
                    None => format!("give {option} a valid value ({reason})"),
                },
            )
        })
        .collect()
}

/// `options.repeated`: each key given more than once.
pub fn repeated(observations: &Observations) -> Vec<Finding> {
    observations
        .uri
        .warnings()
        .iter()
        .filter_map(|warning| match warning {
            UriWarning::Repeated { option } => Some(*option),
            _ => None,
        })
        .map(|option| {
            Finding::new(
                REPEATED,
                Severity::Warning,
                format!("{option} is given more than once"),
                "which value wins is undefined by the spec: drivers differ (here the last one)",
                format!("keep one {option}"),
            )
        })
        .collect()
}

/// `options.senseless-value`: timeouts so short that ordinary operation fails, or longer
/// ones cut by shorter ones.
pub fn senseless_value(observations: &Observations) -> Vec<Finding> {
    let uri = &observations.uri;
    let timings = observations.timings();
    let mut problems: Vec<String> = Vec::new();
    let mut consequences: Vec<&str> = Vec::new();
    if let Some(connect) = uri.connect_timeout().filter(|t| !t.is_zero()) {
        if connect < Duration::from_millis(500) {
            problems.push(format!("connectTimeoutMS={} (under 500 ms)", ms(connect)));
            consequences.push("a connection over an ordinary WAN or TLS handshake times out");
        }
    }
    if let Some(socket) = uri.socket_timeout().filter(|t| !t.is_zero()) {
        if socket < Duration::from_secs(1) {
            problems.push(format!("socketTimeoutMS={} (under 1 s)", ms(socket)));
            consequences.push("any query longer than that is cut and its connection closed");
        }
    }
    if let (Some(connect), Some(selection)) =
        (timings.connect_timeout, uri.server_selection_timeout())
    {
        if selection < connect {
            problems.push(format!(
                "serverSelectionTimeoutMS={} is below connectTimeoutMS={}",
                ms(selection),
                ms(connect)
            ));
            consequences.push("operations give up before one connection attempt can finish");
        }
    }
    if let Some(idle) = uri.max_idle_time().filter(|t| !t.is_zero()) {
        if idle < Duration::from_secs(1) {
            problems.push(format!("maxIdleTimeMS={} (under 1 s)", ms(idle)));
            consequences.push("pooled connections are closed and reopened constantly");
        }
    }
    if let Some(local) = uri.local_threshold() {
        if local > Duration::from_secs(1) {
            problems.push(format!("localThresholdMS={} (over 1 s)", ms(local)));
            consequences.push("reads go to servers however far away they are");
        }
    }
    if problems.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        SENSELESS_VALUE,
        Severity::Warning,
        list(&problems),
        list(&consequences),
        "use values in the ordinary range (or leave the defaults: connectTimeoutMS 10000, \
         socketTimeoutMS 0, serverSelectionTimeoutMS 30000, localThresholdMS 15)",
    )]
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::observe;
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("secondry", "secondary"), 1);
        assert_eq!(edit_distance("replSet", "replicaSet"), 3);
        assert_eq!(edit_distance("ABC", "abc"), 0);
    }

    #[test]
    fn an_unknown_option_gets_did_you_mean() {
        let findings = unknown(&observe("mongodb://a/?replSet=rs0&connectTimeoutMs=5000"));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].rule, UNKNOWN);
        assert!(
            findings[0].evidence.contains("did you mean \"replicaSet\""),
            "{findings:?}"
        );
        assert!(unknown(&observe("mongodb://a/?replicaSet=rs0")).is_empty());
        let far = unknown(&observe("mongodb://a/?zzzzzzzzzz=1"));
        assert!(far[0].evidence.contains("no spec option"), "{far:?}");
    }

    #[test]
    fn a_misspelled_read_preference_gets_did_you_mean() {
        let findings = invalid_value(&observe("mongodb://a/?readPreference=secondry"));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0].evidence.contains("did you mean \"secondary\""),
            "{findings:?}"
        );
        assert_eq!(findings[0].fix, "write readPreference=secondary");
        assert!(invalid_value(&observe("mongodb://a/?readPreference=secondary")).is_empty());
    }

    #[test]
    fn a_repeated_key_is_named() {
        let findings = repeated(&observe("mongodb://a/?appName=x&appName=y"));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0]
                .evidence
                .to_ascii_lowercase()
                .contains("appname"),
            "{findings:?}"
        );
        assert!(repeated(&observe("mongodb://a/?appName=x")).is_empty());
    }

    #[test]
    fn senseless_timeouts_are_named() {
        let findings = senseless_value(&observe(
            "mongodb://a/?connectTimeoutMS=50&socketTimeoutMS=200&serverSelectionTimeoutMS=20",
        ));
        assert_eq!(findings.len(), 1, "{findings:?}");
        let evidence = &findings[0].evidence;
        assert!(evidence.contains("connectTimeoutMS=50"), "{evidence}");
        assert!(evidence.contains("socketTimeoutMS=200"), "{evidence}");
        assert!(
            evidence.contains("serverSelectionTimeoutMS=20 is below"),
            "{evidence}"
        );
        assert!(senseless_value(&observe(
            "mongodb://a/?connectTimeoutMS=2000&socketTimeoutMS=0"
        ))
        .is_empty());
    }
}
