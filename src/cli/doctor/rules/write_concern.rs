//! Write concern: arbiters (PSA sets, where `w: majority` stalls when a data-bearing member
//! is down) and an even number of voting members.

use mongo_topology::bson::Document;

use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{addresses, is_primary_hello, Observations};

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
    vec![Finding::new(
        ARBITER_MAJORITY,
        Severity::Warning,
        format!(
            "the set has {} arbiter(s) ({}) and {data} data-bearing member(s) in its lists; w is {w}",
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

/// `wc.even-voters`: the set lists an even number of members (each votes unless
/// configured otherwise).
pub fn even_voters(observations: &Observations) -> Vec<Finding> {
    let Some(hello) = set_hello(observations) else {
        return Vec::new();
    };
    let voters = addresses(hello, "hosts").len()
        + addresses(hello, "passives").len()
        + addresses(hello, "arbiters").len();
    if voters < 2 || voters % 2 != 0 {
        return Vec::new();
    }
    vec![Finding::new(
        EVEN_VOTERS,
        Severity::Warning,
        format!(
            "the set lists {voters} members (hidden members not counted); each votes by default"
        ),
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
        assert!(even_voters(&observations).is_empty(), "three voters");
    }

    #[test]
    fn an_even_number_of_voters() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(even_voters(&observations).is_empty());
        let mut primary = member("a:27017", true);
        primary.insert("hosts", vec!["a:27017", "b:27017", "c:27017", "d:27017"]);
        with_hello(&mut observations, "a:27017", primary);
        assert!(even_voters(&observations)[0].evidence.contains("4 members"));
    }
}
