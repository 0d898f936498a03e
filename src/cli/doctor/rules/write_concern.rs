//! Write concern: arbiters (PSA sets, where `w: majority` stalls when a data-bearing member
//! is down) and an even number of voting members.

use mongo_topology::bson::Document;

use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{addresses, is_primary_hello, number, Observations};

/// Arbiters with majority writes.
pub const ARBITER_MAJORITY: &str = "wc.arbiter-majority";
/// An even number of voting members.
pub const EVEN_VOTERS: &str = "wc.even-voters";

/// The hello that describes the set best: the primary's, else any member's.
fn set_hello(observations: &Observations) -> Option<&Document> {
    observations
        .hellos()
        .find(|(_, hello)| is_primary_hello(hello))
        .or_else(|| {
            observations.hellos().find(|(_, hello)| {
                hello.get_array("hosts").is_ok() && hello.get_str("setName").is_ok()
            })
        })
        .map(|(_, hello)| hello)
}

/// A count of the set's own view (`replSetGetStatus`, MongoDB 4.4+), from any member that
/// answered it.
fn status_count(observations: &Observations, field: &str) -> Option<i64> {
    observations
        .probes
        .values()
        .find_map(|probe| number(probe.set_status.as_ref()?, field))
}

/// `wc.arbiter-majority`: the set has arbiters.
pub fn arbiter_majority(observations: &Observations) -> Vec<Finding> {
    let Some(hello) = set_hello(observations) else {
        return Vec::new();
    };
    let arbiters = addresses(hello, "arbiters");
    if arbiters.is_empty() {
        return Vec::new();
    }
    let data = addresses(hello, "hosts").len() + addresses(hello, "passives").len();
    let w = observations
        .uri
        .w()
        .map(|w| match w {
            mongo_topology::options::OptionValue::String(s) => s.clone(),
            mongo_topology::options::OptionValue::Int(n) => n.to_string(),
            other => format!("{other:?}"),
        })
        .unwrap_or_else(|| "the default (majority since MongoDB 5.0)".to_owned());
    let counts = match (
        status_count(observations, "writeMajorityCount"),
        status_count(observations, "writableVotingMembersCount"),
    ) {
        (Some(majority), Some(writable)) if majority >= writable => format!(
            "; replSetGetStatus: writeMajorityCount {majority} of {writable} writable voting \
             members, so a majority write needs every one of them"
        ),
        _ => String::new(),
    };
    vec![Finding::new(
        ARBITER_MAJORITY,
        Severity::Warning,
        format!(
            "the set has {} arbiter(s) ({}) and {data} data-bearing member(s) in its lists; w is {w}{counts}",
            arbiters.len(),
            arbiters.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ),
        "with one data-bearing member down, a primary is still elected but majority writes \
         wait for an acknowledgement that cannot come: they stall until wtimeoutMS (forever \
         by default) and the majority commit point stops, growing the cache",
        "replace the arbiter by a data-bearing member (PSS); until then set wtimeoutMS on \
         majority writes",
    )
    .servers(arbiters)]
}

/// `wc.even-voters`: the set has an even number of voting members.
pub fn even_voters(observations: &Observations) -> Vec<Finding> {
    let Some(hello) = set_hello(observations) else {
        return Vec::new();
    };
    let listed = addresses(hello, "hosts").len()
        + addresses(hello, "passives").len()
        + addresses(hello, "arbiters").len();
    // The set's own count when a member told it (hidden and non-voting members counted
    // right); else the lists, where each member votes by default.
    let (voters, source) = match status_count(observations, "votingMembersCount")
        .and_then(|n| usize::try_from(n).ok())
    {
        Some(n) => (n, "replSetGetStatus votingMembersCount"),
        None => (
            listed,
            "members in hello's lists; hidden members not counted, each votes by default",
        ),
    };
    if voters < 2 || voters % 2 != 0 {
        return Vec::new();
    }
    vec![Finding::new(
        EVEN_VOTERS,
        Severity::Warning,
        format!("the set has {voters} voting members ({source})"),
        format!(
            "a majority is {} of {voters}: the set tolerates no more failures than with {} \
             members, and a partition into two halves leaves no primary",
            voters / 2 + 1,
            voters - 1
        ),
        "add a member or remove one (or give one votes: 0) to have an odd number of voters",
    )]
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{healthy_set, member, with_hello};
    use super::*;

    #[test]
    fn a_psa_set() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0&w=majority");
        assert!(arbiter_majority(&observations).is_empty());
        let mut primary = member("a:27017", true);
        primary.insert("hosts", vec!["a:27017", "b:27017"]);
        primary.insert("arbiters", vec!["c:27017"]);
        with_hello(&mut observations, "a:27017", primary);
        assert_eq!(arbiter_majority(&observations)[0].servers, ["c:27017"]);
        if let Some(probe) = observations
            .probes
            .get_mut(&super::super::fixtures::addr("a:27017"))
        {
            probe.set_status = Some(mongo_topology::bson::doc! {
                "writeMajorityCount": 2, "writableVotingMembersCount": 2,
            });
        }
        let findings = arbiter_majority(&observations);
        assert!(
            findings[0].evidence.contains("writeMajorityCount 2 of 2"),
            "{findings:?}"
        );
        assert!(even_voters(&observations).is_empty(), "three voters");
    }

    #[test]
    fn an_even_number_of_voters() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(even_voters(&observations).is_empty());
        let mut primary = member("a:27017", true);
        primary.insert("hosts", vec!["a:27017", "b:27017", "c:27017", "d:27017"]);
        with_hello(&mut observations, "a:27017", primary);
        assert!(even_voters(&observations)[0]
            .evidence
            .contains("4 voting members"));
        // The set's own count wins: one of the four does not vote.
        if let Some(probe) = observations
            .probes
            .get_mut(&super::super::fixtures::addr("a:27017"))
        {
            probe.set_status = Some(mongo_topology::bson::doc! {"votingMembersCount": 3});
        }
        assert!(even_voters(&observations).is_empty());
    }
}
