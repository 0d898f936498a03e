//! `directConnection=true`: to a member that is not the primary, and to a replica set
//! member when discovery would work from here.

use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{is_primary_hello, FailureClass, Observations};

/// A direct connection to a server that is not writable.
pub const NON_PRIMARY: &str = "direct.non-primary";
/// A direct connection to a replica set member whose set is reachable from here.
pub const DISCOVERY_WOULD_WORK: &str = "direct.discovery-would-work";

/// What a hello says the server is, for text.
fn role(hello: &mongo_topology::bson::Document) -> &'static str {
    if hello.get_bool("arbiterOnly").unwrap_or(false) {
        "an arbiter"
    } else if hello.get_bool("secondary").unwrap_or(false) {
        "a secondary"
    } else if hello.get_bool("hidden").unwrap_or(false) {
        "a hidden member"
    } else {
        "a member that is neither primary nor secondary"
    }
}

/// `direct.non-primary`: `directConnection=true` to a replica set member that is not the
/// primary: reads need a secondary read preference, writes fail.
pub fn non_primary(observations: &Observations) -> Vec<Finding> {
    if !observations.direct() {
        return Vec::new();
    }
    let Some(seed) = observations.seeds.first() else {
        return Vec::new();
    };
    let Some(hello) = observations.hello(seed) else {
        return Vec::new();
    };
    let proven_not_writable = observations
        .proof
        .as_ref()
        .is_some_and(|p| matches!(&p.write, Err(f) if f.class == FailureClass::NotWritable));
    if hello.get_str("setName").is_err() || is_primary_hello(hello) && !proven_not_writable {
        return Vec::new();
    }
    let primary = hello
        .get_str("primary")
        .map(|p| format!("; the primary is {p}"))
        .unwrap_or_default();
    vec![Finding::new(
        NON_PRIMARY,
        Severity::Error,
        format!(
            "directConnection=true to {seed}, which reports itself {} of replica set {:?}{primary}",
            role(hello),
            hello.get_str("setName").unwrap_or_default()
        ),
        "every write fails with NotWritablePrimary; reads work only with a secondary read \
         preference (secondaryOk); nothing fails over",
        "remove directConnection=true and give replicaSet=<name> with the members as seeds, \
         so the client finds the primary and follows elections",
    )
    .servers([seed])]
}

/// `direct.discovery-would-work`: `directConnection=true` to a replica set member whose
/// advertised members all answer from here.
pub fn discovery_would_work(observations: &Observations) -> Vec<Finding> {
    if !observations.direct() {
        return Vec::new();
    }
    let Some(seed) = observations.seeds.first() else {
        return Vec::new();
    };
    let Some(hello) = observations.hello(seed) else {
        return Vec::new();
    };
    let Ok(set_name) = hello.get_str("setName") else {
        return Vec::new();
    };
    let members = observations.advertised_members();
    let all_answer = !members.is_empty() && members.iter().all(|m| observations.hello(m).is_some());
    if !all_answer {
        return Vec::new();
    }
    let names: Vec<String> = members.iter().map(ToString::to_string).collect();
    vec![Finding::new(
        DISCOVERY_WOULD_WORK,
        Severity::Warning,
        format!(
            "directConnection=true to {seed}, a member of replica set {set_name:?} whose \
             members ({}) all answer from this host",
            names.join(", ")
        ),
        "the application talks to this one server only: when it goes down or steps down, \
         the application fails instead of following the new primary",
        format!(
            "use mongodb://{}/?replicaSet={set_name} (no directConnection)",
            names.join(",")
        ),
    )
    .servers([seed])]
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{healthy_set, with_failure};
    use super::*;

    #[test]
    fn a_direct_connection_to_a_secondary_is_an_error() {
        let observations = healthy_set("mongodb://b/?directConnection=true");
        let findings = non_primary(&observations);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].servers, ["b:27017"]);
        assert!(findings[0].evidence.contains("a secondary"), "{findings:?}");
        assert!(non_primary(&healthy_set("mongodb://a/?directConnection=true")).is_empty());
        assert!(non_primary(&healthy_set("mongodb://b/?replicaSet=rs0")).is_empty());
    }

    #[test]
    fn a_direct_connection_when_discovery_would_work() {
        let mut observations = healthy_set("mongodb://a/?directConnection=true");
        assert_eq!(discovery_would_work(&observations).len(), 1);
        assert!(discovery_would_work(&healthy_set("mongodb://a/?replicaSet=rs0")).is_empty());
        with_failure(
            &mut observations,
            "c:27017",
            "cannot resolve c: no such host",
        );
        assert!(discovery_would_work(&observations).is_empty());
    }
}
